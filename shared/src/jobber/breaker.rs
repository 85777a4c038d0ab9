//! The circuit breaker every worker shares through Redis: when Jobber fails for everyone (5xx,
//! timeouts, refused connections for several *different* documents within a short window), the
//! breaker opens, the workers stop taking documents and one of them probes Jobber at a modest
//! rate; the first answer closes it. One document failing again and again never opens it (its
//! failures count once), and it stays that document's business: the retry tiers.
//!
//! Keys (under the namespace): `breaker:failures` (a sorted set: document → time of its last
//! failure, within the window), `breaker:open` (the time it opened, Unix ms; no expiry: only an
//! answer from Jobber closes it), `breaker:probe` (who probes next, for one probe interval),
//! `breaker:told` (the opening the operators were told of, `<since>` or `<since>:back` once they
//! were told Jobber answers again; see `alerts.outage_after`).

use std::time::Duration;

use deadpool_redis::Pool;

use crate::store::{Keys, StoreError};

/// Records one document's failure; opens when `threshold` documents failed within the window.
/// Returns the time the breaker opened (Unix ms), if it is open.
const RECORD_FAILURE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], now, 'NX')
end
return redis.call('GET', KEYS[2])
";

/// Jobber answered: forget the failures and close. Returns 1 when it was open.
const RECORD_SUCCESS: &str = r"
local was_open = redis.call('EXISTS', KEYS[2])
if was_open == 1 or redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return was_open
";

/// Claims the notice of an opening that lasts: only while the breaker is still open since
/// ARGV[1], and only once per opening (whoever claims it publishes it). 1 when claimed.
const CLAIM_NOTICE: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
local told = redis.call('GET', KEYS[1])
if told == ARGV[1] or told == ARGV[1] .. ':back' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// Gives back a claim whose notice could not be published (someone tries again).
const RELEASE_NOTICE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
";

/// Claims the notice that Jobber answers again, once, after an opening the operators were told
/// of. Returns that opening's time.
const CLAIM_BACK_NOTICE: &str = r"
local told = redis.call('GET', KEYS[1])
if not told or string.find(told, ':') then
  return false
end
redis.call('SET', KEYS[1], told .. ':back', 'PX', ARGV[1])
return told
";

/// How long the record of a notice is kept: longer than any outage.
const TOLD_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// When the breaker opens and how often it probes (`[worker]` settings).
#[derive(Debug, Clone, Copy)]
pub struct BreakerRules {
    /// Different documents failing for Jobber within `window` open it.
    pub threshold: u32,
    pub window: Duration,
    /// While open, one probe per this long among all workers.
    pub probe_interval: Duration,
}

#[derive(Clone)]
pub struct Breaker {
    pool: Pool,
    failures: String,
    open: String,
    probe: String,
    told: String,
    pub rules: BreakerRules,
}

impl Breaker {
    pub fn new(pool: Pool, keys: &Keys, rules: BreakerRules) -> Self {
        Self {
            pool,
            failures: keys.key("breaker", "failures"),
            open: keys.key("breaker", "open"),
            probe: keys.key("breaker", "probe"),
            told: keys.key("breaker", "told"),
            rules,
        }
    }

    /// A document failed because Jobber did not answer usefully (`jobber.unavailable`). `Some`
    /// (since when, Unix ms) when the breaker is open now.
    pub async fn failed(&self, document: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.pool.get().await?;
        let since: Option<u64> = redis::Script::new(RECORD_FAILURE)
            .key(&self.failures)
            .key(&self.open)
            .arg(document)
            .arg(self.rules.window.as_millis().max(1) as u64)
            .arg(self.rules.threshold.max(1))
            .invoke_async(&mut conn)
            .await?;
        Ok(since)
    }

    /// Jobber answered (a document written, a probe answered): closes the breaker. `true` when
    /// it was open.
    pub async fn answered(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await?;
        let was_open: i64 = redis::Script::new(RECORD_SUCCESS)
            .key(&self.failures)
            .key(&self.open)
            .invoke_async(&mut conn)
            .await?;
        Ok(was_open == 1)
    }

    /// Since when it is open (Unix ms), if it is.
    pub async fn open_since(&self) -> Result<Option<u64>, StoreError> {
        let mut conn = self.pool.get().await?;
        Ok(redis::cmd("GET").arg(&self.open).query_async(&mut conn).await?)
    }

    /// Whether this caller probes now (one caller per probe interval among all workers).
    pub async fn take_probe(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(&self.probe)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(self.rules.probe_interval.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }

    /// Whether this caller tells the operators of the opening since `since_ms` (Unix ms): `true`
    /// once per opening among all workers and restarts, and only while it is still open since
    /// then. A caller that then fails to tell gives the claim back with [`Self::release_notice`].
    pub async fn claim_notice(&self, since_ms: u64) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await?;
        let claimed: i64 = redis::Script::new(CLAIM_NOTICE)
            .key(&self.told)
            .key(&self.open)
            .arg(since_ms)
            .arg(TOLD_KEPT.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(claimed == 1)
    }

    /// The notice claimed for `since_ms` was not sent: another caller may claim it.
    pub async fn release_notice(&self, since_ms: u64) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let _: i64 =
            redis::Script::new(RELEASE_NOTICE).key(&self.told).arg(since_ms).invoke_async(&mut conn).await?;
        Ok(())
    }

    /// After the breaker closed: `Some(since)` (the opening's time, Unix ms) when the operators
    /// were told of that opening and not yet that Jobber answers again; the caller tells them
    /// (once among all workers).
    pub async fn claim_back_notice(&self) -> Result<Option<u64>, StoreError> {
        let mut conn = self.pool.get().await?;
        let since: Option<String> = redis::Script::new(CLAIM_BACK_NOTICE)
            .key(&self.told)
            .arg(TOLD_KEPT.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(since.and_then(|s| s.parse().ok()))
    }
}
