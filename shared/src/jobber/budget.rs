//! Jobber's two limits, shared by every worker process through Redis, so that N workers together
//! stay inside them and rarely meet THROTTLED or 429:
//!
//! - the query-cost bucket (10,000 points restored at 500/s per app and account): every response
//!   reports `throttleStatus`; the last report, refilled at the restore rate since, is the estimate
//!   every process reserves a request's cost from, waiting when that would take the bucket below a
//!   floor (30 % of the maximum, as Jobber's own guidance suggests);
//! - the request count (2,500 per 300 s): a counter per window.
//!
//! Both are advisory: when Redis is away, requests go unpaced and Jobber's own answers (THROTTLED,
//! 429) still send the document through the retry tiers.

use std::time::Duration;

use deadpool_redis::Pool;

use crate::store::Keys;

/// Jobber's documented request limit per app and account.
pub const REQUEST_LIMIT: u64 = 2_500;
pub const REQUEST_WINDOW: Duration = Duration::from_secs(300);
/// Keep this share of the bucket free.
const FLOOR: f64 = 0.3;
/// What one of the bridge's requests is assumed to cost before its answer says.
const ESTIMATED_COST: f64 = 250.0;

/// Returns how many milliseconds to wait (0: there is room). KEYS: the bucket hash, the request
/// counter prefix. ARGV: estimated cost, floor share, request limit, window seconds, and 1 to
/// reserve the cost and count the request when there is room (0 only to look). Time is Redis'
/// own, the same for every process.
const RESERVE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost, floor_share = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local reserve = ARGV[5] == '1'
local window_index = math.floor(now / 1000 / window)
local counter = KEYS[2] .. ':' .. window_index
local used = tonumber(redis.call('GET', counter) or '0')
if used >= limit then
  return (window_index + 1) * window * 1000 - now
end
local b = redis.call('HMGET', KEYS[1], 'available', 'max', 'rate', 'at')
if b[1] then
  local available, max, rate, at = tonumber(b[1]), tonumber(b[2]), tonumber(b[3]), tonumber(b[4])
  local estimate = math.min(max, available + rate * (now - at) / 1000)
  local floor = max * floor_share
  if estimate - cost < floor then
    if rate <= 0 then return 1000 end
    return math.ceil((floor + cost - estimate) / rate * 1000)
  end
  if reserve then
    redis.call('HSET', KEYS[1], 'available', estimate - cost, 'at', now)
  end
end
if reserve then
  redis.call('INCR', counter)
  redis.call('EXPIRE', counter, window * 2)
end
return 0
"#;

/// Records a response's `throttleStatus` as the new estimate.
const REPORT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'available', ARGV[1], 'max', ARGV[2], 'rate', ARGV[3], 'at', now)
redis.call('EXPIRE', KEYS[1], 3600)
return 0
"#;

#[derive(Clone)]
pub struct CostBudget {
    pool: Pool,
    keys: Keys,
    bucket_key: String,
    counter_key: String,
}

impl CostBudget {
    pub fn new(pool: Pool, keys: &Keys) -> Self {
        Self {
            pool,
            keys: keys.clone(),
            bucket_key: keys.key("jobber", "cost-bucket"),
            counter_key: keys.key("jobber", "requests"),
        }
    }

    /// The Redis pool and keys the budget lives in (the client records other account-wide
    /// facts beside it).
    pub(crate) fn store(&self) -> (&Pool, &Keys) {
        (&self.pool, &self.keys)
    }

    /// How long to wait before the next request; zero means it may go now (and is counted).
    pub async fn reserve(&self) -> Result<Duration, String> {
        self.ask(true).await
    }

    /// How long until both limits have room for a request (zero: they have). Nothing is
    /// reserved: a worker asks before it takes a document in hand, so that it waits holding no
    /// lock (the next request window, the bucket's refill), instead of failing the document
    /// through the retry tiers.
    pub async fn room(&self) -> Result<Duration, String> {
        self.ask(false).await
    }

    async fn ask(&self, reserve: bool) -> Result<Duration, String> {
        let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
        let wait: i64 = redis::Script::new(RESERVE)
            .key(&self.bucket_key)
            .key(&self.counter_key)
            .arg(ESTIMATED_COST)
            .arg(FLOOR)
            .arg(REQUEST_LIMIT)
            .arg(REQUEST_WINDOW.as_secs())
            .arg(if reserve { 1 } else { 0 })
            .invoke_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Duration::from_millis(wait.max(0) as u64))
    }

    /// The key counting the requests of window `window_index` (Unix seconds / 300).
    pub fn window_counter_key(&self, window_index: u64) -> String {
        format!("{}:{window_index}", self.counter_key)
    }

    /// Waits until a request may go, at most `patience`: a longer wait (the request window
    /// spent) is `Err(the wait still ahead)`, so a caller holding locks gives the document back
    /// to the retry tiers rather than outwait its leases. Redis trouble means no pacing, not no
    /// request.
    pub async fn before_request(&self, patience: Duration) -> Result<(), Duration> {
        let started = tokio::time::Instant::now();
        loop {
            match self.reserve().await {
                Ok(wait) if wait.is_zero() => return Ok(()),
                Ok(wait) if started.elapsed() + wait > patience => return Err(wait),
                Ok(wait) => {
                    tracing::debug!(wait_ms = wait.as_millis() as u64, "Jobber budget low: waiting");
                    tokio::time::sleep(wait.min(Duration::from_secs(5))).await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "Jobber budget unavailable (Redis): not pacing");
                    return Ok(());
                }
            }
        }
    }

    /// Records a response's `throttleStatus` (currently available, maximum, restore rate).
    pub async fn report(&self, available: f64, max: f64, rate: f64) {
        let result: Result<(), String> = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            let _: i64 = redis::Script::new(REPORT)
                .key(&self.bucket_key)
                .arg(available)
                .arg(max)
                .arg(rate)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "could not record Jobber's throttle status");
        }
    }
}
