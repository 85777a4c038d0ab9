//! Whether a document's marker must be looked up in Jobber before it is written, and how far
//! back. Jobber has no idempotency key, so a write whose answer was lost (or whose worker died
//! before recording it) can only be found afterwards by the marker it carries. Looking it up for
//! every document would cost a request (or a page per hundred of the client's quotes) each time;
//! the look-up is made only when an earlier attempt may have reached Jobber:
//!
//! - the delivery is a redelivery (a worker died or lost its channel holding it);
//! - it came back from a retry tier after an attempt that had sent the write (`sj-write-attempts`;
//!   a retry none of whose attempts got that far, e.g. one refused by Jobber's budget, throttled,
//!   or failed resolving the client, needs no look-up; a message without that header, routed by
//!   an older bridge, counts every attempt), or was replayed from the dead letters
//!   (`sj-replay-count`);
//! - Redis holds an attempt record for the content (written before every Jobber write: the same
//!   content may have come in another message, a re-export or a re-publish);
//! - Redis cannot vouch for the absence of those records: its epoch is younger than
//!   `worker.recheck_after_redis_reset` (a new installation, or Redis lost its data).
//!
//! The look-up is bounded by time where it can be: only quotes created since the first attempt
//! (or since the message was first received) can be the document's own, whatever the client's
//! history. While Redis cannot vouch, every quote of the client is read.

use std::time::Duration;

use sj_shared::store::RedisEpoch;

/// Jobber's clock against ours: quotes created up to this long before the first attempt are
/// looked at too.
const CLOCK_MARGIN: u64 = 600;

/// What the delivery says about earlier attempts of this message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The broker redelivered it (an earlier delivery was not acknowledged).
    pub redelivered: bool,
    /// `sj-attempts`: failed attempts so far (retry tiers).
    pub attempts: i64,
    /// `sj-write-attempts`: how many of those had sent the write; `None` when the header is
    /// absent (an older bridge): every attempt counts.
    pub write_attempts: Option<i64>,
    /// `sj-replay-count`: replays from the dead letters.
    pub replays: i64,
}

/// How far to look for the document's marker among the client's quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookUp {
    /// No earlier attempt can have reached Jobber: write at once.
    Skip,
    /// Quotes created after this time (Unix seconds).
    Since(u64),
    /// Every quote of the client, as a scan earlier in this young epoch found them when there
    /// was one ([`crate::scan_cache`]): Redis cannot vouch for its records, and nothing says this
    /// document was attempted since they were lost.
    Scan,
    /// Every quote of the client, read now: Redis cannot vouch, and an earlier attempt of this
    /// document may have written after any scan.
    Everything,
}

impl LookUp {
    /// `received_at`: when the poller received the message (Unix seconds), if known;
    /// `attempted`: the attempt record's time.
    pub fn decide(
        delivered: Delivered,
        attempted: Option<u64>,
        received_at: Option<u64>,
        epoch: RedisEpoch,
        recheck: Duration,
    ) -> (LookUp, &'static str) {
        let young = epoch.age() < recheck;
        if let Some(at) = attempted {
            if young {
                return (LookUp::Everything, "Redis is young, and an earlier attempt was recorded");
            }
            return (LookUp::Since(at.saturating_sub(CLOCK_MARGIN)), "an earlier attempt was recorded");
        }
        let why = if delivered.redelivered {
            "a redelivery"
        } else if delivered.attempts > 0 && delivered.write_attempts.is_none_or(|n| n > 0) {
            "a retry after an attempt that sent the write"
        } else if delivered.replays > 0 {
            "a replay"
        } else if young {
            return (LookUp::Scan, "Redis holds the bridge's records since too short a time");
        } else {
            return (LookUp::Skip, "no sign of an earlier attempt");
        };
        if young {
            return (LookUp::Everything, "Redis is young, and there is a sign of an earlier attempt");
        }
        match received_at {
            Some(at) => (LookUp::Since(at.saturating_sub(CLOCK_MARGIN)), why),
            None => (LookUp::Everything, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

    fn old_epoch() -> RedisEpoch {
        RedisEpoch { since: sj_shared::store::epoch::now() - 30 * 24 * 3600 }
    }

    #[test]
    fn a_first_delivery_with_no_record_is_written_without_a_look_up() {
        let (look, _) = LookUp::decide(Delivered::default(), None, Some(1_000_000), old_epoch(), WEEK);
        assert_eq!(look, LookUp::Skip);
    }

    #[test]
    fn any_sign_of_an_earlier_attempt_means_a_bounded_look_up() {
        let retry = Delivered { attempts: 1, ..Delivered::default() };
        let redelivery = Delivered { redelivered: true, ..Delivered::default() };
        let replay = Delivered { replays: 1, ..Delivered::default() };
        for delivered in [retry, redelivery, replay] {
            let (look, _) = LookUp::decide(delivered, None, Some(1_000_000), old_epoch(), WEEK);
            assert_eq!(look, LookUp::Since(1_000_000 - CLOCK_MARGIN), "{delivered:?}");
        }
        // The attempt record's time bounds it, even on a first delivery of another message.
        let (look, _) =
            LookUp::decide(Delivered::default(), Some(900_000), Some(1_000_000), old_epoch(), WEEK);
        assert_eq!(look, LookUp::Since(900_000 - CLOCK_MARGIN));
        // No receive time to bound it by: everything.
        assert_eq!(LookUp::decide(retry, None, None, old_epoch(), WEEK).0, LookUp::Everything);
    }

    #[test]
    fn a_retry_whose_attempts_never_sent_the_write_needs_no_look_up() {
        let never_wrote = Delivered { attempts: 3, write_attempts: Some(0), ..Delivered::default() };
        assert_eq!(LookUp::decide(never_wrote, None, Some(1_000_000), old_epoch(), WEEK).0, LookUp::Skip);
        let wrote_once = Delivered { attempts: 3, write_attempts: Some(1), ..Delivered::default() };
        assert_eq!(
            LookUp::decide(wrote_once, None, Some(1_000_000), old_epoch(), WEEK).0,
            LookUp::Since(1_000_000 - CLOCK_MARGIN)
        );
        // Redelivered, replayed, or an attempt record: looked up whatever the header says.
        let redelivered = Delivered { redelivered: true, ..never_wrote };
        assert_ne!(LookUp::decide(redelivered, None, Some(1_000_000), old_epoch(), WEEK).0, LookUp::Skip);
        let replayed = Delivered { replays: 1, ..never_wrote };
        assert_ne!(LookUp::decide(replayed, None, Some(1_000_000), old_epoch(), WEEK).0, LookUp::Skip);
        assert_ne!(
            LookUp::decide(never_wrote, Some(999_000), Some(1_000_000), old_epoch(), WEEK).0,
            LookUp::Skip
        );
    }

    #[test]
    fn a_young_redis_cannot_vouch_so_everything_is_looked_up() {
        let young = RedisEpoch { since: sj_shared::store::epoch::now() - 3600 };
        // No sign of an earlier attempt: the client's whole history, as this epoch's scan has it.
        let (look, _) = LookUp::decide(Delivered::default(), None, Some(1_000_000), young, WEEK);
        assert_eq!(look, LookUp::Scan);
        // A sign of one: read afresh (it may have written after any scan).
        let retry = Delivered { attempts: 1, write_attempts: Some(1), ..Delivered::default() };
        assert_eq!(LookUp::decide(retry, None, Some(1_000_000), young, WEEK).0, LookUp::Everything);
        let redelivered = Delivered { redelivered: true, ..Delivered::default() };
        assert_eq!(LookUp::decide(redelivered, None, Some(1_000_000), young, WEEK).0, LookUp::Everything);
        assert_eq!(
            LookUp::decide(Delivered::default(), Some(900_000), None, young, WEEK).0,
            LookUp::Everything
        );
        assert_eq!(LookUp::decide(Delivered::default(), None, None, young, Duration::ZERO).0, LookUp::Skip);
    }
}
