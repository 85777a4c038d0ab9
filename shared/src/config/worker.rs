//! `[worker]`: how workers write quotes to Jobber.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{secs, HumanDuration};

/// `[worker]`: how workers write quotes to Jobber.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Documents one worker process handles at once.
    pub concurrency: usize,
    /// How long a document's intent lease outlives the worker writing it: a live worker renews it
    /// each third of this while it works; after a crash, the redelivered copy waits at most this
    /// long (in hand, no retry tier spent) before looking the quote up in Jobber itself. Short, so
    /// a crash delays a document by seconds (docs/operations.md, "After a fault"); long enough
    /// that a renewal (every third of it) is never late on a busy host. Shorter than the retry
    /// tiers together (`amqp.retry_delays`).
    pub intent_lease: HumanDuration,
    /// For this long after Redis is found without the bridge's records (a new installation, or
    /// Redis lost its data), every document is looked up among its client's quotes in Jobber
    /// before it is written: what Redis forgot cannot tell that a quote was already written.
    /// After that, only documents with a sign of an earlier attempt are looked up.
    pub recheck_after_redis_reset: HumanDuration,
    /// Jobber failing for this many different documents in a row (5xx, timeouts, refused
    /// connections; no answer from Jobber in between), within `worker.breaker_window`, opens the
    /// shared circuit breaker: workers hold their documents (in `sj.quotes`, not the retry
    /// tiers) and probe Jobber until it answers. One document failing again and again counts once.
    pub breaker_failures: u32,
    /// The window of `worker.breaker_failures`.
    pub breaker_window: HumanDuration,
    /// While the breaker is open, one probe of Jobber per this long among all workers.
    pub breaker_probe_interval: HumanDuration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            intent_lease: secs(30),
            recheck_after_redis_reset: secs(7 * 24 * 3600),
            breaker_failures: 5,
            breaker_window: secs(30),
            breaker_probe_interval: secs(5),
        }
    }
}

impl WorkerSettings {
    /// `retry_delays` are `amqp.retry_delays`: the lease must end before a document held by a
    /// crashed worker has gone through every tier.
    pub(super) fn validate(&self, retry_delays: &[HumanDuration], problems: &mut Vec<String>) {
        if self.concurrency == 0 {
            problems.push("worker.concurrency: must be at least 1".to_owned());
        }
        if self.breaker_failures < 2 {
            problems.push(
                "worker.breaker_failures: must be at least 2 (one document failing again and again is no outage)"
                    .to_owned(),
            );
        }
        if self.breaker_probe_interval.0.is_zero() || self.breaker_window.0.is_zero() {
            problems
                .push("worker.breaker_window, worker.breaker_probe_interval: must be above zero".to_owned());
        }
        let retry_total: Duration = retry_delays.iter().map(|d| d.0).sum();
        if self.intent_lease.0 >= retry_total {
            problems.push(format!(
                "worker.intent_lease: {} must be shorter than the retry tiers together ({}), or a document \
                 held by a crashed worker is parked before its lease expires",
                humantime::format_duration(self.intent_lease.0),
                humantime::format_duration(retry_total)
            ));
        }
    }
}
