//! One clock for every expiry, bucket refill and rate window in the sandbox.
//!
//! It runs with the machine's time plus an offset, or stands still (`clock.frozen`) and moves only
//! when a test advances it. Either way tests can jump an hour ahead without waiting, and a frozen
//! clock makes bucket arithmetic exact on any machine.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct Clock {
    frozen: bool,
    started: Instant,
    started_unix_ms: i64,
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new(frozen: bool) -> Self {
        let started_unix_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Self { frozen, started: Instant::now(), started_unix_ms, offset_ms: AtomicI64::new(0) }
    }

    /// Milliseconds since the Unix epoch, as the sandbox sees it.
    pub fn now_ms(&self) -> i64 {
        let running = if self.frozen { 0 } else { self.started.elapsed().as_millis() as i64 };
        self.started_unix_ms + running + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Seconds since the Unix epoch (JWT `iat`/`exp`).
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves the clock forward (frozen or not).
    pub fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

/// `2025-07-08T17:02:11Z` (ISO 8601, UTC), the form of Jobber's `ISO8601DateTime`.
pub fn iso8601(unix_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_ms.div_euclid(1000));
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `2024-04-09 21:04:31 UTC`, the form of `expires_at` in Jobber's token response.
pub fn jobber_expires_at(unix_secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Calendar fields of a Unix time (Howard Hinnant's days-to-civil algorithm; avoids a date crate
/// for two formatting functions).
fn civil(unix_secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (secs / 3600) as u32, (secs % 3600 / 60) as u32, (secs % 60) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        // 2024-04-09 21:04:31 UTC, the example in Jobber's docs.
        assert_eq!(jobber_expires_at(1_712_696_671), "2024-04-09 21:04:31 UTC");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let clock = Clock::new(true);
        let t0 = clock.now_ms();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now_ms(), t0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now_ms(), t0 + 1500);
    }
}
