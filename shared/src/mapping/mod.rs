//! The mapping table: Saberis customer key → Jobber client (and property), kept where the dealer
//! can read and edit it (a CSV file or a Google Sheet), cached in Redis for the workers.
//!
//! - [`CustomerKey`]: how a document's customer is named in the table.
//! - [`MappingRow`]: one row, as a person or the bridge (`made_by = "auto"`) wrote it.
//! - [`Mapping`]: look-ups through the Redis index, refreshed from the store every
//!   `mapping.refresh` (or at once by `sjctl mapping refresh`); rows the bridge adds are appended
//!   to the store and never rewrite a person's.

mod key;

pub use key::{address_key, normalize_name, CustomerKey};

use deadpool_redis::Pool;

use crate::config::MappingSettings;
use crate::store::Keys;

/// Who wrote a row the bridge appended.
pub const AUTO: &str = "auto";

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MappingRow {
    pub key: CustomerKey,
    pub client_id: String,
    pub property_id: Option<String>,
    /// The customer's name in Saberis, for the person reading the table.
    pub saberis_name: String,
    /// `street | city | postal code`: readable, and what the address look-up indexes.
    pub saberis_address: String,
    /// `auto` (the bridge) or a person.
    pub made_by: String,
    /// When (RFC 3339 when the bridge wrote it; as typed otherwise).
    pub made_at: String,
    pub note: String,
}

/// Why the table could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MappingError {
    /// The store or Redis did not answer: a later attempt may succeed.
    #[error("mapping store unavailable: {0}")]
    Unavailable(String),
    /// The store refused us or its content cannot be used (a person must act).
    #[error("mapping store unusable: {0}")]
    Unusable(String),
}

impl MappingError {
    pub fn is_transient(&self) -> bool {
        matches!(self, MappingError::Unavailable(_))
    }
}

/// What a refresh read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Rows in use after the refresh (one per key; a person's row wins over the bridge's).
    pub rows: usize,
    /// Rows skipped, each with a reason naming the row (`row 7: "Affinity" is not a customer key…`).
    pub problems: Vec<String>,
}

/// The table, for look-ups and appends.
#[derive(Clone)]
pub struct Mapping {
    _pool: Pool,
    _keys: Keys,
}

impl Mapping {
    pub fn new(_settings: &MappingSettings, pool: Pool, keys: Keys) -> Result<Mapping, MappingError> {
        Ok(Mapping { _pool: pool, _keys: keys })
    }

    /// `csv mapping.csv`, `Google Sheet <id> tab Sheet1`: for logs and `sjctl verify`.
    pub fn describe(&self) -> String {
        todo!()
    }

    /// The row for a customer key (refreshing the Redis index first when it is stale or gone).
    pub async fn lookup(&self, _key: &CustomerKey) -> Result<Option<MappingRow>, MappingError> {
        todo!()
    }

    /// The row whose `saberis_address` has this [`address_key`].
    pub async fn lookup_address(&self, _address_key: &str) -> Result<Option<MappingRow>, MappingError> {
        todo!()
    }

    /// Appends a row to the store, then to the Redis index.
    pub async fn append(&self, _row: &MappingRow) -> Result<(), MappingError> {
        todo!()
    }

    /// Reads the store again now and replaces the Redis index.
    pub async fn refresh(&self) -> Result<RefreshReport, MappingError> {
        todo!()
    }

    /// Every row of the store, as written (for `sjctl mapping list`).
    pub async fn rows(&self) -> Result<Vec<MappingRow>, MappingError> {
        todo!()
    }
}
