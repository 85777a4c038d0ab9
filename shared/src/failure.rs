//! Every way a document can fail, as one type: each kind's stable name (the `sj-error-kind`
//! header of a dead letter, the `kind` of a rejected-document record), its class (what becomes of
//! the document) and what an operator does about it. The worker routes by the class, the alerter
//! and `sjctl dlq` read the name back ([`KindName`]) for the hint, the poller writes
//! the hint into a rejected file's reason file. docs/errors.md's "Error kinds" table is this list
//! (checked by a test).
//!
//! A leaf of `sj-shared`: it uses no other module. The parser's kinds ([`ParseErrorKind`],
//! [`SanityRule`]) are defined here too, and the modules that fail convert their own errors into
//! a kind (`From` impls in `saberis` and `jobber`), so no cycle runs through this module.

use std::fmt;

/// Why a document could not be read. Each kind has a stable name ([`FailureKind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The file could not be read at all (missing, permissions, I/O error).
    Unreadable,
    /// Not well-formed XML (unclosed tags, bad markup, undeclared entities...).
    MalformedXml,
    /// Not well-formed JSON.
    MalformedJson,
    /// Neither XML nor JSON, judged by the first character.
    UnknownFormat,
    /// Bytes that are not valid in the document's encoding, or an encoding we cannot decode.
    Encoding,
    /// Larger than the configured limit; refused before it was read whole.
    TooLarge,
    /// Nested deeper than the configured limit.
    TooDeep,
    /// A DTD or entity declaration: refused, never expanded.
    DtdRefused,
    /// Well-formed, but not a Saberis order document (wrong root, no `Order`, wrong shape).
    NotAnOrder,
    /// A value that must be a number (quantity, price, LineID) or a date and is not.
    InvalidValue,
}

impl ParseErrorKind {
    /// Every kind.
    pub const ALL: &'static [ParseErrorKind] = &[
        Self::Unreadable,
        Self::MalformedXml,
        Self::MalformedJson,
        Self::UnknownFormat,
        Self::Encoding,
        Self::TooLarge,
        Self::TooDeep,
        Self::DtdRefused,
        Self::NotAnOrder,
        Self::InvalidValue,
    ];

    /// The stable name of the kind without its family (`malformed-xml`); the full name
    /// (`parse.malformed-xml`) is [`FailureKind::name`].
    pub fn as_str(self) -> &'static str {
        let name = FailureKind::Parse(self).name();
        name.strip_prefix("parse.").unwrap_or(name)
    }
}

/// A rule about what a sane order looks like, configured by the dealer (see
/// [`crate::intake::SanityRules`]). A broken rule is not a parse error: the document was read
/// fine, but sending it to Jobber would put a slip in front of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SanityRule {
    /// A unit price (list, selling or cost) above the configured limit.
    PriceAboveLimit,
    /// A negative price or quantity.
    Negative,
    /// No product line at all.
    NoProductLines,
}

impl SanityRule {
    /// Every rule.
    pub const ALL: &'static [SanityRule] = &[Self::PriceAboveLimit, Self::Negative, Self::NoProductLines];

    /// The stable name of the rule without its family (`price-above-limit`); the full name is
    /// [`FailureKind::name`].
    pub fn as_str(self) -> &'static str {
        let name = FailureKind::Sanity(self).name();
        name.strip_prefix("sanity.").unwrap_or(name)
    }
}

/// What becomes of a document that failed this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// May succeed later: through the retry tiers, parked once they are exhausted.
    Transient,
    /// Trying again cannot help: parked in the dead letters at once (replayable once fixed).
    Permanent,
    /// The poller refused the source document: moved to `rejected/`, never a quote message.
    Refused,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Refused => "refused",
        }
    }

    /// What the class means, for docs/errors.md's table.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Transient => "transient: retry tiers, then parked",
            Self::Permanent => "permanent: parked",
            Self::Refused => "refused: file to `rejected/`",
        }
    }
}

/// Why a document failed. The names ([`FailureKind::name`]) are stable: they are in the headers
/// of messages already parked, so a name never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The poller could not read the source document.
    Parse(ParseErrorKind),
    /// The document was read but breaks one of the dealer's sanity rules.
    Sanity(SanityRule),
    /// The quote message could not be read by the worker.
    MessageUnreadable,
    /// The document names no customer at all.
    MappingNoCustomer,
    /// No customer name, no mapping row, and unnamed customers are not created.
    MappingNoCustomerName,
    /// No Jobber client found and `mapping.on_no_match = "park"`.
    MappingNoMatch,
    /// Several Jobber clients fit the customer.
    MappingAmbiguousClient,
    /// The mapping row names a client Jobber does not have.
    MappingClientMissing,
    /// The mapping table cannot be read (permanently).
    MappingUnusable,
    /// The mapping table is unreachable (for now).
    MappingUnavailable,
    /// The PO names a quote Jobber does not have and `quote.po_quote_missing = "park"`.
    RoutingQuoteMissing,
    /// The PO names a job (`quote.po_job_pattern`) Jobber does not have.
    RoutingJobMissing,
    /// A catalog of the document has no usable row in the catalog table (and no
    /// `pricing.catalog_markups` entry) and `pricing.unpriced_catalog = "park"`.
    PricingUnpricedCatalog,
    /// Jobber unreachable, timeouts, 5xx.
    JobberUnavailable,
    /// HTTP 429 or THROTTLED: over Jobber's budget.
    JobberThrottled,
    /// No valid Jobber token.
    JobberUnauthorized,
    /// Jobber refused the input (`userErrors`).
    JobberUserError,
    /// Jobber refused the request itself (GraphQL errors, unexpected response).
    JobberInvalidRequest,
    /// Redis is unreachable.
    RedisUnavailable,
    /// Another worker holds the document's intent lease.
    WorkerInProgress,
    /// Another worker holds the customer's (or the site's) lock.
    WorkerCustomerBusy,
    /// The broker dead-lettered the message after too many deliveries (no header of ours).
    BrokerDeliveryLimit,
}

use FailureKind as K;

/// What to do about a kind this version does not know (a newer bridge's, or the broker's own).
pub const UNKNOWN_KIND_HINT: &str = "Read the reason, fix the cause, then replay.";

impl FailureKind {
    /// Every kind, in docs/errors.md's order.
    pub const ALL: &'static [FailureKind] = &[
        K::Parse(ParseErrorKind::Unreadable),
        K::Parse(ParseErrorKind::MalformedXml),
        K::Parse(ParseErrorKind::MalformedJson),
        K::Parse(ParseErrorKind::UnknownFormat),
        K::Parse(ParseErrorKind::Encoding),
        K::Parse(ParseErrorKind::TooLarge),
        K::Parse(ParseErrorKind::TooDeep),
        K::Parse(ParseErrorKind::DtdRefused),
        K::Parse(ParseErrorKind::NotAnOrder),
        K::Parse(ParseErrorKind::InvalidValue),
        K::Sanity(SanityRule::PriceAboveLimit),
        K::Sanity(SanityRule::Negative),
        K::Sanity(SanityRule::NoProductLines),
        K::MessageUnreadable,
        K::MappingNoCustomer,
        K::MappingNoCustomerName,
        K::MappingNoMatch,
        K::MappingAmbiguousClient,
        K::MappingClientMissing,
        K::MappingUnusable,
        K::MappingUnavailable,
        K::RoutingQuoteMissing,
        K::RoutingJobMissing,
        K::PricingUnpricedCatalog,
        K::JobberUnavailable,
        K::JobberThrottled,
        K::JobberUnauthorized,
        K::JobberUserError,
        K::JobberInvalidRequest,
        K::RedisUnavailable,
        K::WorkerInProgress,
        K::WorkerCustomerBusy,
        K::BrokerDeliveryLimit,
    ];

    /// The stable name, as in the `sj-error-kind` header (`mapping.no-customer-name`).
    pub fn name(self) -> &'static str {
        match self {
            K::Parse(kind) => match kind {
                ParseErrorKind::Unreadable => "parse.unreadable",
                ParseErrorKind::MalformedXml => "parse.malformed-xml",
                ParseErrorKind::MalformedJson => "parse.malformed-json",
                ParseErrorKind::UnknownFormat => "parse.unknown-format",
                ParseErrorKind::Encoding => "parse.encoding",
                ParseErrorKind::TooLarge => "parse.too-large",
                ParseErrorKind::TooDeep => "parse.too-deep",
                ParseErrorKind::DtdRefused => "parse.dtd-refused",
                ParseErrorKind::NotAnOrder => "parse.not-an-order",
                ParseErrorKind::InvalidValue => "parse.invalid-value",
            },
            K::Sanity(rule) => match rule {
                SanityRule::PriceAboveLimit => "sanity.price-above-limit",
                SanityRule::Negative => "sanity.negative-value",
                SanityRule::NoProductLines => "sanity.no-product-lines",
            },
            K::MessageUnreadable => "message.unreadable",
            K::MappingNoCustomer => "mapping.no-customer",
            K::MappingNoCustomerName => "mapping.no-customer-name",
            K::MappingNoMatch => "mapping.no-match",
            K::MappingAmbiguousClient => "mapping.ambiguous-client",
            K::MappingClientMissing => "mapping.client-missing",
            K::MappingUnusable => "mapping.unusable",
            K::MappingUnavailable => "mapping.unavailable",
            K::RoutingQuoteMissing => "routing.quote-missing",
            K::RoutingJobMissing => "routing.job-missing",
            K::PricingUnpricedCatalog => "pricing.unpriced-catalog",
            K::JobberUnavailable => "jobber.unavailable",
            K::JobberThrottled => "jobber.throttled",
            K::JobberUnauthorized => "jobber.unauthorized",
            K::JobberUserError => "jobber.user-error",
            K::JobberInvalidRequest => "jobber.invalid-request",
            K::RedisUnavailable => "redis.unavailable",
            K::WorkerInProgress => "worker.in-progress",
            K::WorkerCustomerBusy => "worker.customer-busy",
            K::BrokerDeliveryLimit => "broker.delivery_limit",
        }
    }

    /// The kind a name stands for (a header read back); `None` for a name this version does not
    /// know.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The family: the name up to its dot (`parse`, `mapping`…).
    pub fn family(self) -> &'static str {
        self.name().split('.').next().unwrap_or_default()
    }

    /// What becomes of the document.
    pub fn class(self) -> Class {
        match self {
            K::Parse(_) | K::Sanity(_) => Class::Refused,
            K::MappingUnavailable
            | K::JobberUnavailable
            | K::JobberThrottled
            | K::JobberUnauthorized
            | K::RedisUnavailable
            | K::WorkerInProgress
            | K::WorkerCustomerBusy => Class::Transient,
            K::MessageUnreadable
            | K::MappingNoCustomer
            | K::MappingNoCustomerName
            | K::MappingNoMatch
            | K::MappingAmbiguousClient
            | K::MappingClientMissing
            | K::MappingUnusable
            | K::RoutingQuoteMissing
            | K::RoutingJobMissing
            | K::PricingUnpricedCatalog
            | K::JobberUserError
            | K::JobberInvalidRequest
            | K::BrokerDeliveryLimit => Class::Permanent,
        }
    }

    /// True when a later attempt may succeed (the retry tiers).
    pub fn is_transient(self) -> bool {
        self.class() == Class::Transient
    }

    /// What an operator does about it (a transient kind's hint is for when the retry tiers were
    /// exhausted).
    pub fn hint(self) -> &'static str {
        match self {
            K::Parse(_) => {
                "The document could not be read: fix the file, or export it again from Saberis, then put it back in \
                 incoming/ (the poller takes it again)."
            }
            K::Sanity(_) => {
                "The document was read fine but breaks a sanity rule: correct the order in Saberis and export it \
                 again, or change [sanity] if the rule is wrong for this dealer; then put it back in incoming/ (the \
                 poller takes it again)."
            }
            K::MessageUnreadable => {
                "The message could not be read (damaged, or from another version of the bridge): re-export the document."
            }
            K::MappingNoCustomer | K::MappingNoCustomerName => {
                "Name the customer in Saberis, or add a mapping for it (sjctl mapping set KEY CLIENT_ID); then replay."
            }
            K::MappingNoMatch => {
                "No Jobber client found: add the mapping row the reason names (sjctl mapping set KEY CLIENT_ID), then replay."
            }
            K::MappingAmbiguousClient => {
                "Several Jobber clients fit: add a mapping row for the right one (sjctl mapping set KEY CLIENT_ID; the \
                 reason lists them), then replay."
            }
            K::MappingClientMissing => {
                "The mapping row names a client Jobber does not have: correct the row (sjctl mapping set, or edit the \
                 table), then replay."
            }
            K::MappingUnusable => {
                "The mapping table cannot be read: fix what the reason says (sheet shared with the service account, \
                 header row), then replay."
            }
            K::MappingUnavailable => {
                "The mapping table stayed unreachable through every retry: check the sheet or file, then replay."
            }
            K::RoutingQuoteMissing => {
                "The PO number names a quote Jobber does not have: correct the PO in Saberis and re-export, or set \
                 quote.po_quote_missing = \"create\" and replay."
            }
            K::PricingUnpricedCatalog => {
                "A catalog of the document has no price in the catalog table (catalogs.csv beside the mapping \
                 table, or the sheet's Catalogs tab; the bridge added a row for it): fill in its multiplier and \
                 margin (or markup), then `sjctl catalogs refresh` and replay (`sjctl dlq replay`)."
            }
            K::RoutingJobMissing => {
                "The PO number names a job Jobber does not have (or its search does not find it by number): check \
                 the job number in Jobber, correct the PO in Saberis and re-export, then replay; a PO that should \
                 not name a job at all needs quote.po_job_pattern changed."
            }
            K::JobberUnavailable | K::JobberThrottled => {
                "Jobber stayed unavailable through every retry: check Jobber (status, connection), then replay."
            }
            K::JobberUnauthorized => "Reconnect the bridge to Jobber (sjctl jobber connect), then replay.",
            K::JobberUserError => {
                "Jobber refused the quote: read the reason, correct the order or the client in Jobber, then replay."
            }
            K::JobberInvalidRequest => {
                "Jobber refused the request: read the reason (a bridge bug is possible), then replay."
            }
            K::RedisUnavailable => "Redis stayed unavailable through every retry: check it, then replay.",
            K::WorkerInProgress | K::WorkerCustomerBusy => {
                "The document stayed busy through every retry: check the workers' logs, then replay."
            }
            K::BrokerDeliveryLimit => {
                "A worker stopped or crashed on it every time: read the workers' logs around the first failure, then \
                 replay."
            }
        }
    }

    /// docs/errors.md's "Error kinds" table: one row per kind.
    pub fn markdown_table() -> String {
        let mut table = String::from("| kind | class | what to do |\n| --- | --- | --- |\n");
        for kind in Self::ALL {
            table.push_str(&format!(
                "| `{}` | {} | {} |\n",
                kind.name(),
                kind.class().describe(),
                kind.hint()
            ));
        }
        table
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure kind as read back from a message (the `sj-error-kind` header, a rejected-document
/// record): one this version knows, or a name another version of the bridge wrote, kept as it is
/// (shown, filtered on, with a general hint) rather than refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KindName {
    Known(FailureKind),
    Other(String),
}

impl KindName {
    pub fn parse(name: &str) -> Self {
        FailureKind::from_name(name).map_or_else(|| Self::Other(name.to_owned()), Self::Known)
    }

    /// The name on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::Known(kind) => kind.name(),
            Self::Other(name) => name,
        }
    }

    /// The part before the first dot (`parse`, `mapping`, `jobber`…).
    pub fn family(&self) -> &str {
        let name = self.name();
        name.split('.').next().unwrap_or(name)
    }

    /// What an operator does about it; a name this version does not know gets a general hint.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Known(kind) => kind.hint(),
            Self::Other(_) => UNKNOWN_KIND_HINT,
        }
    }
}

impl From<FailureKind> for KindName {
    fn from(kind: FailureKind) -> Self {
        Self::Known(kind)
    }
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for KindName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for KindName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::parse(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_kind_read_back_keeps_a_name_this_version_does_not_know() {
        let known = KindName::parse("jobber.throttled");
        assert_eq!(known, KindName::Known(FailureKind::JobberThrottled));
        assert_eq!((known.family(), known.hint()), ("jobber", FailureKind::JobberThrottled.hint()));
        let other = KindName::parse("quantum.flux");
        assert_eq!(
            (other.name(), other.family(), other.hint()),
            ("quantum.flux", "quantum", UNKNOWN_KIND_HINT)
        );
        let json = serde_json::to_string(&[&known, &other]).unwrap();
        assert_eq!(json, r#"["jobber.throttled","quantum.flux"]"#);
        assert_eq!(serde_json::from_str::<Vec<KindName>>(&json).unwrap(), vec![known, other]);
    }

    #[test]
    fn every_kind_is_listed_once_and_read_back_by_its_name() {
        let names: HashSet<&str> = FailureKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), FailureKind::ALL.len(), "a name is used twice");
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::from_name(kind.name()), Some(*kind));
        }
        for kind in ParseErrorKind::ALL {
            assert!(FailureKind::ALL.contains(&K::Parse(*kind)), "{kind:?} is missing from ALL");
        }
        for rule in SanityRule::ALL {
            assert!(FailureKind::ALL.contains(&K::Sanity(*rule)), "{rule:?} is missing from ALL");
        }
        assert_eq!(FailureKind::from_name("something.new"), None);
    }

    #[test]
    fn the_wire_names_do_not_change() {
        // Parked messages carry these names: renaming one strands them.
        let expected = [
            "parse.unreadable",
            "parse.malformed-xml",
            "parse.malformed-json",
            "parse.unknown-format",
            "parse.encoding",
            "parse.too-large",
            "parse.too-deep",
            "parse.dtd-refused",
            "parse.not-an-order",
            "parse.invalid-value",
            "sanity.price-above-limit",
            "sanity.negative-value",
            "sanity.no-product-lines",
            "message.unreadable",
            "mapping.no-customer",
            "mapping.no-customer-name",
            "mapping.no-match",
            "mapping.ambiguous-client",
            "mapping.client-missing",
            "mapping.unusable",
            "mapping.unavailable",
            "routing.quote-missing",
            "routing.job-missing",
            "pricing.unpriced-catalog",
            "jobber.unavailable",
            "jobber.throttled",
            "jobber.unauthorized",
            "jobber.user-error",
            "jobber.invalid-request",
            "redis.unavailable",
            "worker.in-progress",
            "worker.customer-busy",
            "broker.delivery_limit",
        ];
        let names: Vec<&str> = FailureKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn docs_errors_md_lists_every_kind_with_its_class_and_hint() {
        const BEGIN: &str = "<!-- error-kinds:begin (generated from FailureKind: the test prints it) -->\n";
        const END: &str = "<!-- error-kinds:end -->";
        let doc = include_str!("../../docs/errors.md");
        let start = doc.find(BEGIN).expect("docs/errors.md has the error-kinds markers") + BEGIN.len();
        let end = start + doc[start..].find(END).expect("docs/errors.md has the error-kinds end marker");
        let expected = FailureKind::markdown_table();
        assert!(
            doc[start..end] == expected,
            "docs/errors.md's \"Error kinds\" table differs from FailureKind; replace it with:\n\n{expected}"
        );
    }
}
