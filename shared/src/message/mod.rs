//! The messages on the wire: `sj.quote-request.v1`, the message the poller publishes and the
//! workers consume, one per Saberis document; and `sj.rejected-document.v1`, the dead letter of a
//! document the poller refused.
//!
//! Money and quantities are [`Decimal`]s, serialized as strings and computed exactly. Empty
//! strings of the source are `null`. The schema is versioned: a worker refuses a schema it does
//! not know ([`QuoteRequest::from_json`]). These are data types only: [`crate::intake`] builds
//! them from a Saberis document, [`crate::amqp`] carries them.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::ids::ContentHash;

mod unauthorized;
pub use unauthorized::JobberUnauthorized;

/// The schema name, carried in the message and in the AMQP `type` property.
pub const SCHEMA: &str = "sj.quote-request.v1";

/// One Saberis document, normalized: what a worker needs to write one Jobber quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub source: Source,
    /// `sha256:<hex>` ([`crate::intake::content_hash`]) over the canonical form of what makes the order (customer, shipping
    /// address, sections and lines): a re-export of the same design hashes alike.
    pub content_hash: ContentHash,
    pub document: DocumentInfo,
    pub customer: CustomerInfo,
    pub shipping: Address,
    pub sections: Vec<Section>,
    pub totals: Totals,
    /// A reviewer's decision, on a document approved in the console (`review.when`): the worker
    /// writes it as decided, without the review gate. Absent on every other message (and on
    /// messages written before the review existed). Not part of the content hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// Where the document came from. Not part of the content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    /// The file name (folder) or the GUID (SaberisConnect).
    pub id: String,
    /// RFC 3339, UTC.
    pub received_at: String,
}

impl Source {
    /// A source received now.
    pub fn now(kind: SourceKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
            received_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A file picked up from the watched folder.
    Folder,
    /// A document fetched from the SaberisConnect API.
    SaberisConnect,
    /// A file given on the command line (`sjctl parse`).
    File,
}

/// The document's header fields, as they were (only the date is normalized to ISO form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    pub version: Option<String>,
    /// The design module that exported it (`Order/Source`, "kitchens" for 2020 Design).
    pub module: Option<String>,
    /// ISO date, `2025-07-08`.
    pub date: Option<String>,
    pub order_number: Option<String>,
    #[serde(rename = "type")]
    pub order_type: Option<String>,
    pub username: Option<String>,
    pub store_number: Option<String>,
    pub salesperson: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInfo {
    pub number: Option<String>,
    pub po_number: Option<String>,
    pub name: Option<String>,
    pub address: Address,
}

/// The products of one catalog (a `Catalog=` header and what follows it), with the settings
/// that apply to them. Settings before the first header make a section with `catalog: null`; a
/// setting that follows products starts a new section of the same catalog, since it applies
/// only to the products after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub catalog: Option<String>,
    pub settings: Vec<Setting>,
    pub lines: Vec<Line>,
}

/// A setting line such as `Door Style=Shaker (70000)`; some have no `=` (`Pricelevel`): value null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub key: String,
    pub value: Option<String>,
}

/// A product line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub line_id: Option<u64>,
    /// The cabinet's catalog code: the part of `Description` before the first `;`.
    pub code: String,
    /// The options and modifications after the code (`18{10b}` → text "18", tag "10b").
    pub options: Vec<LineOption>,
    /// `Description` as Saberis wrote it.
    pub description: String,
    /// Dimension lines that followed the product (`W=27 " H=34 1/2 " D=18 "`).
    pub notes: Vec<String>,
    pub quantity: Decimal,
    pub unit_list: Decimal,
    pub unit_selling: Decimal,
    pub unit_cost: Decimal,
    pub sku: Option<String>,
    pub product_type: Option<String>,
    pub product_code: Option<String>,
    pub uom: Option<String>,
    pub manufacturer_part_number: Option<String>,
    pub manufacturer_sku: Option<String>,
    pub volume: Option<String>,
    pub weight: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineOption {
    pub text: String,
    pub tag: Option<String>,
}

/// Computed over all product lines: money rounded to the cent, quantity exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub list: Decimal,
    pub selling: Decimal,
    pub cost: Decimal,
    pub quantity: Decimal,
    pub product_lines: u32,
}

impl QuoteRequest {
    /// All product lines, in document order, with their section.
    pub fn lines(&self) -> impl Iterator<Item = (&Section, &Line)> {
        self.sections.iter().flat_map(|section| section.lines.iter().map(move |line| (section, line)))
    }

    /// Reads a message, refusing any schema but [`SCHEMA`] with a reason that names it.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        #[derive(Deserialize)]
        struct Peek {
            schema: Option<String>,
        }
        let peek: Peek = serde_json::from_slice(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
        match peek.schema.as_deref() {
            Some(SCHEMA) => serde_json::from_slice(bytes).map_err(|e| MessageError::Malformed(e.to_string())),
            Some(other) => Err(MessageError::UnknownSchema(other.to_owned())),
            None => Err(MessageError::UnknownSchema("(none)".to_owned())),
        }
    }
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("unknown message schema {0:?}: this worker reads {SCHEMA}")]
    UnknownSchema(String),
    #[error("malformed {SCHEMA} message: {0}")]
    Malformed(String),
}

/// A document the poller could not turn into a quote message, as dead-lettered for the alerter
/// and the operator: body of a message on `sj.dead` (the file itself stays in `rejected/`). Built
/// from the parser's error by [`DeadLetter::rejected`] (in [`crate::intake`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// `sj.rejected-document.v1`.
    pub schema: String,
    pub source: Source,
    /// Where the original now is (e.g. `rejected/kitchen.xml`).
    pub kept_at: String,
    /// The error kind (`parse.invalid-value`, `sanity.price-above-limit`…).
    pub kind: crate::failure::KindName,
    /// Every problem, one line each (`kind: reason at PLACE`).
    pub problems: Vec<String>,
    /// RFC 3339.
    pub failed_at: String,
}

impl DeadLetter {
    pub const SCHEMA: &'static str = "sj.rejected-document.v1";
}

/// A notice to operators, not a document: Jobber has been failing for every document for longer
/// than `alerts.outage_after` (the workers' shared circuit breaker open since `since_ms`), or it
/// answers again after such a notice. Body of a message a worker publishes to `sj.alerts` (never a
/// dead letter: nothing is parked), marked by the header `sj-alert: jobber-outage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobberOutage {
    /// `sj.jobber-outage.v1`.
    pub schema: String,
    pub event: OutageEvent,
    /// Since when Jobber fails for every document: the breaker's opening (Unix ms).
    pub since_ms: u64,
    /// When this was noticed (`open`) or when Jobber answered again (`closed`), Unix ms.
    pub at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutageEvent {
    /// Still failing, for longer than `alerts.outage_after`.
    Open,
    /// Jobber answers again (the breaker closed).
    Closed,
}

impl JobberOutage {
    pub const SCHEMA: &'static str = "sj.jobber-outage.v1";
    /// The value of the `sj-alert` header that marks it.
    pub const ALERT: &'static str = "jobber-outage";

    pub fn new(event: OutageEvent, since_ms: u64, at_ms: u64) -> Self {
        Self { schema: Self::SCHEMA.to_owned(), event, since_ms, at_ms }
    }

    /// How long Jobber had been failing when this was written.
    pub fn lasted(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.at_ms.saturating_sub(self.since_ms))
    }
}

/// Where an approved document goes in Jobber, as the reviewer chose: written `new-quote`,
/// `quote:41`, `job:7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// A new quote for the client the bridge finds (or creates), whatever the PO says.
    NewQuote,
    /// The lines added to this existing quote (by number).
    Quote(u64),
    /// The lines added to this existing job (by number).
    Job(u64),
}

impl Target {
    /// `new quote`, `quote #41`, `job #7`: for people.
    pub fn describe(&self) -> String {
        match self {
            Target::NewQuote => "a new quote".to_owned(),
            Target::Quote(n) => format!("quote #{n}"),
            Target::Job(n) => format!("job #{n}"),
        }
    }
}

impl TryFrom<String> for Target {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let text = text.trim();
        let number = |n: &str| {
            n.trim().trim_start_matches('#').parse::<u64>().map_err(|_| format!("{n:?} is not a number"))
        };
        match text.split_once(':') {
            None if text == "new-quote" => Ok(Target::NewQuote),
            Some(("quote", n)) => Ok(Target::Quote(number(n)?)),
            Some(("job", n)) => Ok(Target::Job(number(n)?)),
            _ => Err(format!("{text:?}: a target is new-quote, quote:N or job:N")),
        }
    }
}

impl From<Target> for String {
    fn from(target: Target) -> String {
        match target {
            Target::NewQuote => "new-quote".to_owned(),
            Target::Quote(n) => format!("quote:{n}"),
            Target::Job(n) => format!("job:{n}"),
        }
    }
}

/// What a reviewer decided for one catalog of the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogDecision {
    /// The catalog as the document names it (`None`: the lines of no catalog).
    pub catalog: Option<String>,
    /// Left out of what is written.
    #[serde(default)]
    pub leave_out: bool,
    /// The dealer's cost per list dollar and the margin (a fraction), for this document; both or
    /// neither.
    #[serde(default)]
    pub multiplier: Option<Decimal>,
    #[serde(default)]
    pub margin: Option<Decimal>,
    /// Also saved to the catalog table for the next orders (done by the console).
    #[serde(default)]
    pub saved: bool,
}

/// What a reviewer changed on one product line: `section` and `line` index the document's
/// sections and their lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDecision {
    pub section: usize,
    pub line: usize,
    /// Left out of what is written.
    #[serde(default)]
    pub leave_out: bool,
    /// Corrected unit prices (a slip in the catalog data): replace the document's.
    #[serde(default)]
    pub unit_list: Option<Decimal>,
    #[serde(default)]
    pub unit_selling: Option<Decimal>,
    #[serde(default)]
    pub unit_cost: Option<Decimal>,
}

/// A reviewer's approval of a document held for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The console's review number.
    pub review: i64,
    pub approved_by: String,
    /// RFC 3339.
    pub at: String,
    pub target: Target,
    #[serde(default)]
    pub catalogs: Vec<CatalogDecision>,
    #[serde(default)]
    pub lines: Vec<LineDecision>,
    #[serde(default)]
    pub note: Option<String>,
}

impl QuoteRequest {
    /// The document as the reviewer approved it: lines and catalogs left out, prices corrected
    /// (the content hash, and so the marker, unchanged). Without a decision, a copy.
    pub fn as_decided(&self) -> QuoteRequest {
        let mut request = self.clone();
        let Some(decision) = &self.decision else { return request };
        for edit in &decision.lines {
            let Some(line) = request.sections.get_mut(edit.section).and_then(|s| s.lines.get_mut(edit.line))
            else {
                continue;
            };
            if let Some(v) = edit.unit_list {
                line.unit_list = v;
            }
            if let Some(v) = edit.unit_selling {
                line.unit_selling = v;
            }
            if let Some(v) = edit.unit_cost {
                line.unit_cost = v;
            }
        }
        let left_out =
            |s: usize, l: usize| decision.lines.iter().any(|e| e.leave_out && e.section == s && e.line == l);
        let catalog_out = |name: &Option<String>| {
            let name = name.clone().filter(|c| !c.trim().is_empty());
            decision.catalogs.iter().any(|c| c.leave_out && c.catalog == name)
        };
        for (s, section) in request.sections.iter_mut().enumerate() {
            let out = catalog_out(&section.catalog);
            let mut l = 0;
            section.lines.retain(|_| {
                let keep = !out && !left_out(s, l);
                l += 1;
                keep
            });
        }
        let (mut list, mut selling, mut cost, mut quantity, mut lines) =
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, 0u32);
        for (_, line) in request.lines() {
            list += line.quantity * line.unit_list;
            selling += line.quantity * line.unit_selling;
            cost += line.quantity * line.unit_cost;
            quantity += line.quantity;
            lines += 1;
        }
        let cents = |v: Decimal| {
            let mut v = v.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            v.rescale(2);
            v
        };
        request.totals = Totals {
            list: cents(list),
            selling: cents(selling),
            cost: cents(cost),
            quantity,
            product_lines: lines,
        };
        request
    }
}

/// Why a document waits for review: the `review.when` entry that holds it, and what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReason {
    /// `always`, `new-customer`, `total-above:1000`, `sanity`…
    pub rule: String,
    /// For people: `the customer total 2733.20 is above 1000`.
    pub detail: String,
}

/// One catalog of a document held for review, priced by the dealer's rules as they stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCatalog {
    pub catalog: Option<String>,
    pub brand: Option<String>,
    /// The rule that priced it (`table row 2 (KWP_*): ×0.42, margin 35%`), or why none does.
    pub rule: String,
    /// The table's multiplier and margin (a fraction), when a row prices it so.
    pub multiplier: Option<Decimal>,
    pub margin: Option<Decimal>,
    /// No usable rule: priced by `pricing.markup_percent` for the figures, and needs numbers (or
    /// to be left out) before approval.
    #[serde(default)]
    pub unpriced: bool,
    pub lines: usize,
    pub msrp: Decimal,
    pub cogs: Decimal,
    pub customer: Decimal,
}

/// A line the sanity rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewProblem {
    /// `sanity.price-above-limit`
    pub kind: String,
    pub reason: String,
    /// Indices of the line (none: a problem of the whole document).
    pub section: Option<usize>,
    pub line: Option<usize>,
}

/// A document that waits for a person's approval: the body of a message on `sj.review`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// `sj.review-item.v1`.
    pub schema: String,
    /// The document, as the worker would write it.
    pub request: QuoteRequest,
    pub reasons: Vec<ReviewReason>,
    /// The catalogs with their figures (empty when it could not be priced at all).
    pub catalogs: Vec<ReviewCatalog>,
    pub msrp: Decimal,
    pub cogs: Decimal,
    pub total: Decimal,
    /// The sanity rules' refusals (from the poller, with `sanity` in `review.when`).
    #[serde(default)]
    pub problems: Vec<ReviewProblem>,
    /// The Jobber client the mapping table names for the customer, if any.
    #[serde(default)]
    pub client: Option<String>,
    /// Where the bridge would write it: `new-quote`, `quote:41`, `job:7`.
    pub target: Target,
    /// RFC 3339.
    pub held_at: String,
}

impl ReviewItem {
    pub const SCHEMA: &'static str = "sj.review-item.v1";
}
