//! A client's quotes as a whole-history scan found them, kept in Redis for the rest of a young
//! Redis epoch. While Redis cannot vouch for its records (it lost its data, or is new), a
//! document with no sign of an earlier attempt is checked against every quote of its client
//! ([`crate::lookup::LookUp::Scan`]): without this cache each such document pays the whole scan
//! (two pages of a hundred quotes for a client with 150, about 800 of Jobber's cost points, 1.6 s
//! of its restore rate), with it each client pays once per epoch.
//!
//! Why a scan may be reused: what it can miss is a quote written after it, and every write since
//! the epoch began is announced by an attempt record in this same Redis, which sends that
//! document to a fresh look-up instead ([`crate::lookup::LookUp::Everything`] or `Since`). The
//! cache lives in the Redis whose epoch it serves: if Redis loses its data again, the cache goes
//! with it. A document whose own earlier attempt may have written never uses the cache.

use std::time::Duration;

use deadpool_redis::redis::AsyncCommands;
use deadpool_redis::Pool;
use sj_shared::ids::ClientId;
use sj_shared::jobber::ops::QuoteSummary;
use sj_shared::store::Keys;

#[derive(Clone)]
pub struct ScanCache {
    pool: Pool,
    keys: Keys,
    /// As long as an epoch stays young (`worker.recheck_after_redis_reset`).
    ttl: Duration,
}

impl ScanCache {
    pub fn new(pool: Pool, keys: Keys, ttl: Duration) -> Self {
        Self { pool, keys, ttl }
    }

    fn key(&self, client: &ClientId) -> String {
        self.keys.key("scan", client.as_str())
    }

    /// The client's scanned quotes; a Redis failure or a damaged entry is a miss (Jobber is read
    /// instead).
    pub async fn get(&self, client: &ClientId) -> Option<Vec<QuoteSummary>> {
        let mut conn = self.pool.get().await.ok()?;
        let json: Option<String> = conn.get(self.key(client)).await.ok()?;
        json.and_then(|j| serde_json::from_str(&j).ok())
    }

    pub async fn put(&self, client: &ClientId, quotes: &[QuoteSummary]) {
        let Ok(mut conn) = self.pool.get().await else { return };
        let json = serde_json::to_string(quotes).expect("quotes serialize");
        let stored: Result<(), _> = conn.set_ex(self.key(client), json, self.ttl.as_secs().max(1)).await;
        if let Err(e) = stored {
            tracing::debug!(%client, error = %e, "could not keep the client's quote scan");
        }
    }
}
