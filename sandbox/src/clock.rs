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

/// Parses an ISO 8601 date-time as Jobber's `ISO8601DateTime` input accepts it (graphql-ruby:
/// `Time.iso8601`, else a bare date at midnight): `2025-07-08T17:02:11Z`, with fractional seconds
/// or an offset (`-06:00`, `+0000`), or `2025-07-08`. A missing offset means UTC. Unix ms.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let (y, mo, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || mo.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, mo, d) = (number(y)?, number(mo)?, number(d)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    let Some(time) = time else { return Some(ms) };
    // The offset: Z, or ±HH:MM / ±HHMM / ±HH after the clock time.
    let (clock, offset_ms) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, offset) = time.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let digits = offset[1..].replace(':', "");
        let (h, m) = match digits.len() {
            2 => (number(&digits)?, 0),
            4 => (number(&digits[..2])?, number(&digits[2..])?),
            _ => return None,
        };
        if h > 23 || m > 59 {
            return None;
        }
        (clock, sign * (h * 3600 + m * 60) * 1000)
    } else {
        (time, 0)
    };
    let (hms, fraction) = match clock.split_once(['.', ',']) {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let fields: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&fields.len()) || fields.iter().any(|f| f.len() != 2) {
        return None;
    }
    let (h, mi) = (number(fields[0])?, number(fields[1])?);
    let s = if fields.len() == 3 { number(fields[2])? } else { 0 };
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    ms += (h * 3600 + mi * 60 + s) * 1000;
    if let Some(fraction) = fraction {
        number(fraction)?;
        let millis = format!("{fraction:0<3}");
        ms += number(&millis[..3])?;
    }
    Some(ms - offset_ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a calendar date (Howard Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn parses_what_iso8601_date_time_inputs_accept() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("2024-04-09T21:04:31Z"), Some(1_712_696_671_000));
        assert_eq!(parse_iso8601("2024-04-09T15:04:31-06:00"), Some(1_712_696_671_000));
        assert_eq!(parse_iso8601("2024-04-09T21:04:31.250+0000"), Some(1_712_696_671_250));
        assert_eq!(parse_iso8601("2024-04-09T21:04:31"), Some(1_712_696_671_000));
        assert_eq!(parse_iso8601("2000-02-29"), Some(951_782_400_000));
        for ms in [0, 951_782_400_000, 1_712_696_671_000, 4_102_444_800_000] {
            assert_eq!(parse_iso8601(&iso8601(ms)), Some(ms));
        }
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2023-02-29",
            "2024-04-09T25:00:00Z",
            "2024-4-9",
            "2024-04-09T21:04Z+",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
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
