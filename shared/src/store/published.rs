//! What the poller has published: content hash → where it came from. Lets the poller recognise
//! a re-export of a design it already sent (same content, new file) and archive it without a
//! second message. Losing this record is harmless: the worker deduplicates too.

use deadpool_redis::Pool;
use redis::AsyncCommands;

use super::{Keys, StoreError};
use crate::ids::ContentHash;

/// How long a published hash is remembered (a re-export months later is a new order in practice).
const REMEMBER_SECONDS: u64 = 180 * 24 * 3600;

#[derive(Clone)]
pub struct PublishedDocuments {
    pool: Pool,
    keys: Keys,
}

impl PublishedDocuments {
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self { pool, keys }
    }

    /// The source (file name or GUID) a document with this content was first published from.
    pub async fn first_source(&self, content_hash: &ContentHash) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.get().await?;
        Ok(conn.get(self.keys.key("published", content_hash.as_str())).await?)
    }

    /// Records a confirmed publish; keeps the first source when there was one.
    pub async fn record(&self, content_hash: &ContentHash, source: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::EX(REMEMBER_SECONDS));
        let _: Option<String> =
            conn.set_options(self.keys.key("published", content_hash.as_str()), source, options).await?;
        Ok(())
    }

    /// Forgets a document (after `sjctl undo`), so the same file is published again when put back.
    pub async fn forget(&self, content_hash: &ContentHash) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        conn.del::<_, ()>(self.keys.key("published", content_hash.as_str())).await?;
        Ok(())
    }
}
