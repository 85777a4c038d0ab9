//! A lease lock in Redis: `SET key token NX PX ttl`, released only by its holder (a Lua
//! compare-and-delete), expiring by itself if the holder dies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_redis::Pool;

use super::StoreError;

/// A held lock. Release it with [`RedisLock::release`]; if the process dies it expires.
#[derive(Debug)]
pub struct RedisLock {
    key: String,
    token: String,
}

const RELEASE: &str =
    r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

impl RedisLock {
    /// Takes the lock if it is free.
    pub async fn try_acquire(pool: &Pool, key: &str, lease: Duration) -> Result<Option<Self>, StoreError> {
        let token = unique_token();
        let mut conn = pool.get().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        Ok(set.map(|_| Self { key: key.to_owned(), token }))
    }

    /// Waits up to `wait` for the lock.
    pub async fn acquire(
        pool: &Pool,
        key: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Option<Self>, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lock) = Self::try_acquire(pool, key, lease).await? {
                return Ok(Some(lock));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Releases the lock if still ours; a failure only means it expires by itself.
    pub async fn release(self, pool: &Pool) {
        let result: Result<(), StoreError> = async {
            let mut conn = pool.get().await?;
            let _: i64 =
                redis::Script::new(RELEASE).key(&self.key).arg(&self.token).invoke_async(&mut conn).await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(key = %self.key, error = %e, "could not release a Redis lock; it will expire");
        }
    }
}

/// Unique enough across processes and time: pid, a counter, and the clock.
fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}
