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
