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
    /// each third of this while it works; after a crash, another worker (or the redelivery) waits
    /// this long before looking the quote up in Jobber itself. Shorter than the retry tiers
    /// together (`amqp.retry_delays`).
    pub intent_lease: HumanDuration,
    /// For this long after Redis is found without the bridge's records (a new installation, or
    /// Redis lost its data), every document is looked up among its client's quotes in Jobber
    /// before it is written: what Redis forgot cannot tell that a quote was already written.
    /// After that, only documents with a sign of an earlier attempt are looked up.
    pub recheck_after_redis_reset: HumanDuration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self { concurrency: 4, intent_lease: secs(300), recheck_after_redis_reset: secs(7 * 24 * 3600) }
    }
}

impl WorkerSettings {
    /// `retry_delays` are `amqp.retry_delays`: the lease must end before a document held by a
    /// crashed worker has gone through every tier.
    pub(super) fn validate(&self, retry_delays: &[HumanDuration], problems: &mut Vec<String>) {
        if self.concurrency == 0 {
            problems.push("worker.concurrency: must be at least 1".to_owned());
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
