//! Jobber's two rate limiters, per app and account: the query-cost leaky bucket and the
//! request-count window (Rack::Attack).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::config::LimitsConfig;

/// `extensions.cost.throttleStatus`, field order as Jobber sends it.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    pub maximum_available: u64,
    pub currently_available: u64,
    pub restore_rate: u64,
}

/// `extensions.cost`, field order as Jobber sends it.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CostExtension {
    pub requested_query_cost: u64,
    pub actual_query_cost: u64,
    pub throttle_status: ThrottleStatus,
}

#[derive(Debug)]
struct Bucket {
    /// Points available at `at_ms`; fractional so that sub-second refills add up exactly.
    available: f64,
    at_ms: i64,
}

#[derive(Debug, Default)]
struct Window {
    index: i64,
    count: u64,
}

/// The limiter state of every account.
#[derive(Debug)]
pub struct Limits {
    config: LimitsConfig,
    buckets: Mutex<HashMap<u64, Bucket>>,
    windows: Mutex<HashMap<u64, Window>>,
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self { config: config.clone(), buckets: Mutex::default(), windows: Mutex::default() }
    }

    fn maximum(&self) -> f64 {
        self.config.query_cost.maximum_available as f64
    }

    /// Applies the restore since the last look and returns the bucket.
    fn refilled<'a>(
        &self,
        buckets: &'a mut HashMap<u64, Bucket>,
        account: u64,
        now_ms: i64,
    ) -> &'a mut Bucket {
        let max = self.maximum();
        let rate = self.config.query_cost.restore_rate as f64;
        let bucket = buckets.entry(account).or_insert(Bucket { available: max, at_ms: now_ms });
        let elapsed = (now_ms - bucket.at_ms).max(0) as f64 / 1000.0;
        bucket.available = (bucket.available + elapsed * rate).min(max);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        bucket
    }

    fn status_of(&self, available: f64) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: self.config.query_cost.maximum_available,
            currently_available: available.floor().max(0.0) as u64,
            restore_rate: self.config.query_cost.restore_rate,
        }
    }

    /// The bucket as it stands now.
    pub fn status(&self, account: u64, now_ms: i64) -> ThrottleStatus {
        if !self.config.query_cost.enabled {
            return self.status_of(self.maximum());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let available = self.refilled(&mut buckets, account, now_ms).available;
        self.status_of(available)
    }

    /// Checks a query's requested cost before it runs: `Err` with the bucket's state when the
    /// cost exceeds what is available (nothing is deducted then).
    pub fn admit(&self, account: u64, now_ms: i64, requested: u64) -> Result<(), ThrottleStatus> {
        if !self.config.query_cost.enabled {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = self.refilled(&mut buckets, account, now_ms);
        if requested as f64 > bucket.available {
            return Err(self.status_of(bucket.available));
        }
        Ok(())
    }

    /// Deducts a query's actual cost after it ran and returns the new state.
    pub fn deduct(&self, account: u64, now_ms: i64, actual: u64) -> ThrottleStatus {
        if !self.config.query_cost.enabled {
            return self.status_of(self.maximum());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = self.refilled(&mut buckets, account, now_ms);
        bucket.available = (bucket.available - actual as f64).max(0.0);
        self.status_of(bucket.available)
    }

    /// Sets an account's bucket (admin API), e.g. to drain it for a test.
    pub fn set_available(&self, account: u64, now_ms: i64, available: u64) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = self.refilled(&mut buckets, account, now_ms);
        bucket.available = (available as f64).min(self.maximum());
    }

    /// Counts one request in the account's fixed window (Rack::Attack's throttle: windows of
    /// `period_secs` aligned to the epoch); `false` when it is over the limit.
    pub fn count_request(&self, account: u64, now_ms: i64) -> bool {
        let limit = &self.config.requests;
        if !limit.enabled {
            return true;
        }
        let index = now_ms.div_euclid(limit.period_secs.max(1) as i64 * 1000);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(account).or_default();
        if window.index != index {
            *window = Window { index, count: 0 };
        }
        window.count += 1;
        window.count <= limit.max_requests
    }

    /// Forgets all buckets and windows (admin reset).
    pub fn reset(&self) {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.windows.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{QueryCostLimit, RequestLimit};

    fn limits(max: u64, rate: u64) -> Limits {
        Limits::new(&LimitsConfig {
            query_cost: QueryCostLimit { enabled: true, maximum_available: max, restore_rate: rate },
            requests: RequestLimit { enabled: true, max_requests: 3, period_secs: 10 },
        })
    }

    #[test]
    fn bucket_drains_and_restores_linearly() {
        let l = limits(100, 10);
        assert_eq!(l.deduct(1, 0, 80).currently_available, 20);
        assert_eq!(l.admit(1, 0, 21).unwrap_err().currently_available, 20);
        assert!(l.admit(1, 0, 20).is_ok());
        // 1.5 s later: 20 + 15.
        assert_eq!(l.status(1, 1500).currently_available, 35);
        // Never above the maximum.
        assert_eq!(l.status(1, 60_000).currently_available, 100);
        // Accounts are separate.
        assert_eq!(l.status(2, 0).currently_available, 100);
    }

    #[test]
    fn request_window_resets_at_the_period() {
        let l = limits(100, 10);
        assert!(l.count_request(1, 0) && l.count_request(1, 1) && l.count_request(1, 2));
        assert!(!l.count_request(1, 9_999));
        assert!(l.count_request(1, 10_000));
    }
}
