//! A lease lock in Redis: `SET key token NX PX ttl`, released only by its holder (a Lua
//! compare-and-delete), expiring by itself if the holder dies, and kept alive by its holder while
//! it works ([`RedisLock::keep_alive_while`]): a holder that waits (for another lock, for Jobber's
//! budget, for a slow answer) longer than the lease must not lose it on the way.

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
const EXTEND: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end"#;

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

    /// Extends the lease to `lease` from now if the lock is still ours; false when it is not (it
    /// expired, and maybe another took it).
    pub async fn extend(&self, pool: &Pool, lease: Duration) -> Result<bool, StoreError> {
        let mut conn = pool.get().await?;
        let extended: i64 = redis::Script::new(EXTEND)
            .key(&self.key)
            .arg(&self.token)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(extended == 1)
    }

    /// How long the lock at `key` is held for still, whoever holds it: `None` when nobody does.
    pub async fn remaining(pool: &Pool, key: &str) -> Result<Option<Duration>, StoreError> {
        let mut conn = pool.get().await?;
        let ms: i64 = redis::cmd("PTTL").arg(key).query_async(&mut conn).await?;
        Ok(match ms {
            -2 => None,
            // No expiry (never set by this type): treat as held for a moment.
            -1 => Some(Duration::from_millis(500)),
            ms => Some(Duration::from_millis(ms.max(0) as u64)),
        })
    }

    /// Whether the lock is still ours (the fence before a write only its holder may make).
    pub async fn held(&self, pool: &Pool) -> Result<bool, StoreError> {
        let mut conn = pool.get().await?;
        let value: Option<String> = redis::cmd("GET").arg(&self.key).query_async(&mut conn).await?;
        Ok(value.as_deref() == Some(self.token.as_str()))
    }

    /// Runs `work` while extending every lock of `locks` to `lease` each third of it. A lock found
    /// lost is logged and no longer extended (a Redis error is tried again at the next turn); a
    /// holder that must not act without its lock checks [`Self::held`] before acting.
    pub async fn keep_alive_while<T>(
        pool: &Pool,
        locks: &[&RedisLock],
        lease: Duration,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let keep_alive = async {
            let mut alive: Vec<&RedisLock> = locks.to_vec();
            let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let mut kept = Vec::with_capacity(alive.len());
                for lock in alive {
                    match lock.extend(pool, lease).await {
                        Ok(true) => kept.push(lock),
                        Ok(false) => tracing::warn!(key = %lock.key, "a Redis lock ran out while held"),
                        Err(e) => {
                            tracing::warn!(key = %lock.key, error = %e, "could not extend a Redis lock");
                            kept.push(lock);
                        }
                    }
                }
                alive = kept;
                if alive.is_empty() {
                    return;
                }
            }
        };
        tokio::pin!(work);
        tokio::select! {
            biased;
            out = &mut work => out,
            () = keep_alive => work.await,
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
