//! Since when Redis holds the bridge's records. The first process that finds no epoch key writes
//! one with the time; a Redis that lost its data (restarted without persistence, flushed, a new
//! server) has none, so the next process writes a new one. A worker reads it to know whether the
//! absence of a record means anything: while the epoch is young (a new installation, or a loss of
//! data), the crosswalk and attempt records cannot vouch that a document was never written, and
//! every document is looked up in Jobber first (`worker.recheck_after_redis_reset`).
//!
//! A new installation and a Redis that lost everything look alike from inside Redis: both start
//! a new epoch, and both pay the look-ups for the period.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_redis::Pool;

use super::{Keys, StoreError};

/// When Redis began holding the bridge's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisEpoch {
    /// Unix seconds.
    pub since: u64,
}

impl RedisEpoch {
    /// The epoch, started now if Redis holds none.
    pub async fn current(pool: &Pool, keys: &Keys) -> Result<RedisEpoch, StoreError> {
        let key = keys.key("redis", "epoch");
        let mut conn = pool.get().await?;
        let (since,): (u64,) = redis::pipe()
            .cmd("SET")
            .arg(&key)
            .arg(now())
            .arg("NX")
            .ignore()
            .cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        Ok(RedisEpoch { since })
    }

    /// The epoch, if Redis holds one (read only: `sjctl status`).
    pub async fn read(pool: &Pool, keys: &Keys) -> Result<Option<RedisEpoch>, StoreError> {
        let mut conn = pool.get().await?;
        let since: Option<u64> =
            redis::cmd("GET").arg(keys.key("redis", "epoch")).query_async(&mut conn).await?;
        Ok(since.map(|since| RedisEpoch { since }))
    }

    /// Sets the epoch's start (tests and benchmarks that model an installation whose Redis has
    /// held its records for a while; `sjctl` does not offer it).
    pub async fn set(pool: &Pool, keys: &Keys, since: u64) -> Result<(), StoreError> {
        let mut conn = pool.get().await?;
        redis::cmd("SET").arg(keys.key("redis", "epoch")).arg(since).query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// How long Redis has held the records.
    pub fn age(&self) -> Duration {
        Duration::from_secs(now().saturating_sub(self.since))
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}
