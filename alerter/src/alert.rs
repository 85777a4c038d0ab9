//! One dead letter, read into what an operator needs to know about it: which document, what went
//! wrong, how often, and whether it was rejected by the poller or parked by a worker (or by the
//! broker). Whatever the message looks like, reading it never fails: an alert about a message we
//! cannot read is still an alert. A worker's notice that Jobber has been failing for every
//! document for long (header `sj-alert: jobber-outage`) is read as what it is: a notice, no
//! document, nothing parked.

use lapin::types::FieldTable;
use lapin::BasicProperties;
use sj_shared::amqp::{self, header, headers};
use sj_shared::failure::{FailureKind, KindName};
use sj_shared::ids::ContentHash;
use sj_shared::message::{DeadLetter, JobberOutage, JobberUnauthorized, OutageEvent, QuoteRequest};

/// What became of the document, which decides what the operator can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Disposition {
    /// The poller refused the source document: the file is in `rejected/`, no quote message
    /// exists, so there is nothing to replay; the fix is a corrected file.
    Rejected,
    /// A quote message that could not be written: parked in `sj.quotes.dead`, replayable.
    Parked,
    /// No document: a notice that Jobber has been failing for every document for long (or
    /// answers again). Nothing to replay or purge; documents wait in `sj.quotes`.
    Notice,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Parked => "parked",
            Self::Notice => "notice",
        }
    }
}

/// The identity of a failing document: the same document failing again is the same key. The
/// content hash tells two different documents that came under one file name apart (and is
/// absent for documents that never parsed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlertKey {
    pub source: String,
    pub content_hash: Option<ContentHash>,
}

/// One dead letter, as the email shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub key: AlertKey,
    pub disposition: Disposition,
    /// The id `sjctl dlq list` shows for the parked copy, what `sjctl dlq replay/purge --id`
    /// take: 12 hex digits of the content hash, else of the SHA-256 of the body (both copies of a
    /// dead letter have the same body).
    pub parked_id: String,
    /// The customer's name, or what else names them (PO, number), when the message says.
    pub customer: Option<String>,
    /// The error kind (`parse.invalid-value`, `mapping.no-customer-name`…), or a name another
    /// version of the bridge wrote.
    pub kind: KindName,
    /// The one-line reason.
    pub reason: String,
    /// Further problems beyond the first (a rejected document may have several).
    pub more_problems: Vec<String>,
    /// Attempts made before giving up.
    pub attempts: i64,
    /// When it first failed (RFC 3339, as the header carries it).
    pub first_failure: Option<String>,
    /// Where a rejected file was kept (`rejected/kitchen.xml`).
    pub kept_at: Option<String>,
    /// A [`Disposition::Notice`]'s outage (`None` when its body could not be read).
    pub outage: Option<JobberOutage>,
}

impl Alert {
    /// The family of the error kind (`parse`, `mapping`…), for the subject line.
    pub fn family(&self) -> &str {
        self.kind.family()
    }

    /// Reads a delivery from `sj.alerts`: a rejected-document record from the poller, a quote
    /// message dead-lettered by a worker (reasons in `sj-*` headers), or one the broker
    /// dead-lettered on its own (delivery limit: only `x-death` says why).
    pub fn from_delivery(body: &[u8], properties: &BasicProperties) -> Self {
        let table = properties.headers();
        let message_id = properties.message_id().as_ref().map(|id| id.to_string());
        let header_source = headers::text(table, header::SOURCE);
        let attempts = headers::integer(table, header::ATTEMPTS);
        let first_failure = headers::text(table, header::FIRST_FAILURE);
        let parked_id = amqp::parked_id(properties, body);
        let is_rejected = properties.kind().as_ref().is_some_and(|t| t.as_str() == DeadLetter::SCHEMA);

        if headers::text(table, header::ALERT).as_deref() == Some(JobberOutage::ALERT) {
            return Self::outage_notice(body, parked_id);
        }
        if headers::text(table, header::ALERT).as_deref() == Some(JobberUnauthorized::ALERT) {
            return Self::unauthorized_notice(body, parked_id);
        }
        if is_rejected {
            if let Ok(letter) = serde_json::from_slice::<DeadLetter>(body) {
                let mut problems = letter.problems.into_iter();
                let reason = problems.next().unwrap_or_else(|| letter.kind.to_string());
                return Self {
                    key: AlertKey { source: letter.source.id, content_hash: None },
                    disposition: Disposition::Rejected,
                    parked_id,
                    customer: None,
                    kind: letter.kind,
                    reason,
                    more_problems: problems.collect(),
                    attempts: attempts.unwrap_or(1),
                    first_failure: first_failure.or(Some(letter.failed_at)),
                    kept_at: Some(letter.kept_at),
                    outage: None,
                };
            }
        }

        let request = QuoteRequest::from_json(body).ok();
        let (kind, reason) =
            match (headers::text(table, header::ERROR_KIND), headers::text(table, header::ERROR)) {
                (Some(kind), reason) => (KindName::parse(&kind), reason.unwrap_or_default()),
                (None, _) => broker_reason(table),
            };
        let source = header_source
            .or_else(|| request.as_ref().map(|r| r.source.id.clone()))
            .or_else(|| message_id.clone())
            .unwrap_or_else(|| "(unknown source)".to_owned());
        let customer = request.as_ref().and_then(|r| {
            let c = &r.customer;
            c.name
                .clone()
                .or_else(|| c.po_number.as_ref().map(|po| format!("(no name; PO {po})")))
                .or_else(|| c.number.as_ref().map(|n| format!("(no name; customer number {n})")))
        });
        let content_hash = request
            .as_ref()
            .map(|r| r.content_hash.clone())
            .or_else(|| message_id.clone().map(ContentHash::new));
        let attempts =
            attempts.or_else(|| headers::integer(table, "x-delivery-count").map(|n| n + 1)).unwrap_or(1);
        Self {
            key: AlertKey { source, content_hash },
            disposition: Disposition::Parked,
            parked_id,
            customer,
            kind,
            reason,
            more_problems: Vec::new(),
            attempts,
            first_failure,
            kept_at: None,
            outage: None,
        }
    }

    /// A worker's notice of a Jobber outage (`sj-alert: jobber-outage`). Its key is the opening
    /// and the event, so a second copy of it is counted, not emailed again.
    fn outage_notice(body: &[u8], parked_id: String) -> Self {
        let outage = serde_json::from_slice::<JobberOutage>(body).ok();
        let (source, reason, first_failure) = match &outage {
            Some(o) => {
                let event = match o.event {
                    OutageEvent::Open => "failing",
                    OutageEvent::Closed => "answers again",
                };
                let since = humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(o.since_ms),
                )
                .to_string();
                (format!("Jobber outage since {since}"), format!("Jobber {event}"), Some(since))
            }
            None => (
                "Jobber outage".to_owned(),
                format!("a notice of a Jobber outage this alerter cannot read ({} bytes)", body.len()),
                None,
            ),
        };
        let source = match outage.as_ref().map(|o| o.event) {
            Some(OutageEvent::Closed) => format!("{source} (over)"),
            _ => source,
        };
        Self {
            key: AlertKey { source, content_hash: None },
            disposition: Disposition::Notice,
            parked_id,
            customer: None,
            kind: FailureKind::JobberUnavailable.into(),
            reason,
            more_problems: Vec::new(),
            attempts: 0,
            first_failure,
            kept_at: None,
            outage,
        }
    }
}

impl Alert {
    /// A worker's notice that Jobber refuses the bridge's connection (`sj-alert:
    /// jobber-unauthorized`). Its key is the connection, so a second copy of it (another
    /// worker's, a redelivery) is counted, not emailed again.
    fn unauthorized_notice(body: &[u8], parked_id: String) -> Self {
        let notice = serde_json::from_slice::<JobberUnauthorized>(body).ok();
        let (source, reason, first_failure) = match &notice {
            Some(n) => (
                format!("Jobber refuses the connection ({})", n.connection),
                n.reason.clone(),
                Some(
                    humantime::format_rfc3339_seconds(
                        std::time::UNIX_EPOCH + std::time::Duration::from_millis(n.at_ms),
                    )
                    .to_string(),
                ),
            ),
            None => (
                "Jobber refuses the connection".to_owned(),
                format!("a notice this alerter cannot read ({} bytes)", body.len()),
                None,
            ),
        };
        Self {
            key: AlertKey { source, content_hash: None },
            disposition: Disposition::Notice,
            parked_id,
            customer: None,
            kind: FailureKind::JobberUnauthorized.into(),
            reason,
            more_problems: Vec::new(),
            attempts: 0,
            first_failure,
            kept_at: None,
            outage: None,
        }
    }
}

/// Why the broker itself dead-lettered a message (no `sj-error` header of ours).
fn broker_reason(table: &Option<FieldTable>) -> (KindName, String) {
    match amqp::broker_death(table) {
        None => (KindName::parse("unknown"), "dead-lettered without a reason (no sj-error header)".to_owned()),
        Some((reason, queue)) if reason == "delivery_limit" => (
            FailureKind::BrokerDeliveryLimit.into(),
            format!("the broker dead-lettered it from {queue} after too many deliveries: a worker stopped or crashed on it each time"),
        ),
        Some((other, queue)) => (KindName::parse(&format!("broker.{other}")), format!("the broker dead-lettered it from {queue} ({other})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{AMQPValue, FieldArray, LongString, ShortString};
    use sj_shared::amqp::text;
    use sj_shared::message::{Source, SourceKind};

    fn props(kind: &str, table: FieldTable) -> BasicProperties {
        BasicProperties::default().with_type(ShortString::from(kind)).with_headers(table)
    }

    #[test]
    fn a_rejected_document_names_its_file_and_every_problem() {
        let letter = DeadLetter {
            schema: DeadLetter::SCHEMA.to_owned(),
            source: Source::now(SourceKind::Folder, "price-slip.xml"),
            kept_at: "rejected/price-slip.xml".to_owned(),
            kind: sj_shared::failure::KindName::parse("sanity.price-above-limit"),
            problems: vec!["sanity.price-above-limit: too dear".to_owned(), "parse.x: y".to_owned()],
            failed_at: "2026-01-02T03:04:05Z".to_owned(),
        };
        let mut table = FieldTable::default();
        table.insert(header::ATTEMPTS.into(), AMQPValue::LongLongInt(1));
        let alert =
            Alert::from_delivery(&serde_json::to_vec(&letter).unwrap(), &props(DeadLetter::SCHEMA, table));
        assert_eq!(alert.disposition, Disposition::Rejected);
        assert_eq!(alert.key, AlertKey { source: "price-slip.xml".to_owned(), content_hash: None });
        assert_eq!(alert.reason, "sanity.price-above-limit: too dear");
        assert_eq!(alert.more_problems, ["parse.x: y"]);
        assert_eq!(alert.first_failure.as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(alert.family(), "sanity");
    }

    #[test]
    fn a_parked_message_without_a_readable_body_is_still_an_alert() {
        let mut table = FieldTable::default();
        table.insert(header::SOURCE.into(), text("odd.json"));
        table.insert(header::ERROR_KIND.into(), text("message.unreadable"));
        table.insert(header::ERROR.into(), text("unknown schema"));
        table.insert(header::ATTEMPTS.into(), AMQPValue::LongLongInt(1));
        let properties = props("sj.quote-request.v9", table).with_message_id("sha256:ab".into());
        let alert = Alert::from_delivery(b"{\"schema\":\"sj.quote-request.v9\"}", &properties);
        assert_eq!(alert.disposition, Disposition::Parked);
        assert_eq!(alert.key.source, "odd.json");
        assert_eq!(alert.key.content_hash, Some(ContentHash::new("sha256:ab")));
        assert_eq!(alert.parked_id, "ab");
        assert_eq!((alert.kind.name(), alert.reason.as_str()), ("message.unreadable", "unknown schema"));
    }

    #[test]
    fn a_message_the_broker_dead_lettered_says_so() {
        let mut death = FieldTable::default();
        death.insert("reason".into(), AMQPValue::LongString(LongString::from("delivery_limit")));
        death.insert("queue".into(), AMQPValue::LongString(LongString::from("sj.quotes")));
        let mut table = FieldTable::default();
        table.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        table.insert("x-delivery-count".into(), AMQPValue::LongLongInt(5));
        let alert = Alert::from_delivery(b"not json", &props("sj.quote-request.v1", table));
        assert_eq!(alert.kind, KindName::Known(FailureKind::BrokerDeliveryLimit));
        assert!(alert.reason.contains("sj.quotes"), "{}", alert.reason);
        assert_eq!(alert.attempts, 6);
        assert_eq!(alert.key.source, "(unknown source)");
    }

    #[test]
    fn a_notice_that_jobber_refuses_the_tokens_is_a_notice_keyed_by_its_connection() {
        let notice =
            JobberUnauthorized::new("tokens-ab12", 1_773_484_920_000, "Jobber refused the token refresh");
        let mut table = FieldTable::default();
        table.insert(header::ALERT.into(), text(JobberUnauthorized::ALERT));
        let properties = props(JobberUnauthorized::SCHEMA, table);
        let alert = Alert::from_delivery(&serde_json::to_vec(&notice).unwrap(), &properties);
        assert_eq!(alert.disposition, Disposition::Notice);
        assert_eq!(alert.kind, KindName::Known(FailureKind::JobberUnauthorized));
        assert_eq!(alert.key.source, "Jobber refuses the connection (tokens-ab12)");
        assert_eq!(alert.reason, "Jobber refused the token refresh");
        assert_eq!(alert.first_failure.as_deref(), Some("2026-03-14T10:42:00Z"));
        let again = Alert::from_delivery(&serde_json::to_vec(&notice).unwrap(), &properties);
        assert_eq!(again.key, alert.key);
    }

    #[test]
    fn a_jobber_outage_notice_is_a_notice_not_a_document() {
        let notice = JobberOutage::new(OutageEvent::Open, 1_773_484_920_000, 1_773_485_640_000);
        let mut table = FieldTable::default();
        table.insert(header::ALERT.into(), text(JobberOutage::ALERT));
        let properties = props(JobberOutage::SCHEMA, table).with_message_id("jobber-outage:1:open".into());
        let alert = Alert::from_delivery(&serde_json::to_vec(&notice).unwrap(), &properties);
        assert_eq!(alert.disposition, Disposition::Notice);
        assert_eq!(alert.outage.as_ref(), Some(&notice));
        assert_eq!(alert.key.source, "Jobber outage since 2026-03-14T10:42:00Z");
        assert_eq!(alert.key.content_hash, None);
        assert_eq!(alert.kind, KindName::Known(FailureKind::JobberUnavailable));
        // Jobber answering again is another alert (another key), not a repeat of the first.
        let back = JobberOutage::new(OutageEvent::Closed, notice.since_ms, notice.at_ms + 60_000);
        let other = Alert::from_delivery(&serde_json::to_vec(&back).unwrap(), &properties);
        assert_ne!(other.key, alert.key);
        // Without the header, the same body is no notice (and no quote message): a dead letter.
        let plain =
            Alert::from_delivery(&serde_json::to_vec(&notice).unwrap(), &props("x", FieldTable::default()));
        assert_eq!(plain.disposition, Disposition::Parked);
    }
}
