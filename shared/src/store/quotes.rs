//! The crosswalk (content hash → the Jobber quote written for it), the only record the worker
//! needs to skip a document it already wrote. Jobber stays the truth: when this record is missing
//! (Redis restarted empty), the worker looks the quote's marker up in Jobber before writing.

use deadpool_redis::Pool;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{Keys, StoreError};

/// What the bridge wrote to Jobber for one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRecord {
    pub quote_id: String,
    pub quote_number: String,
    pub client_id: String,
    /// True when found in Jobber by its marker rather than written by this attempt.
    #[serde(default)]
    pub found_by_marker: bool,
}

#[derive(Clone)]
pub struct Crosswalk {
    pool: Pool,
    keys: Keys,
}

impl Crosswalk {
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self { pool, keys }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub async fn get(&self, content_hash: &str) -> Result<Option<QuoteRecord>, StoreError> {
        let mut conn = self.pool.get().await?;
        let json: Option<String> = conn.get(self.keys.key("quote", content_hash)).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub async fn record(&self, content_hash: &str, record: &QuoteRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let json = serde_json::to_string(record).expect("a record serializes");
        conn.set::<_, _, ()>(self.keys.key("quote", content_hash), json).await?;
        Ok(())
    }
}
