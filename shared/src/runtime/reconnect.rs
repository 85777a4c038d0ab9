//! The one reconnect policy of the loops that hold a broker connection (the poller's rounds, the
//! worker's and the alerter's consumers): after a failed round, log why and wait, 1 s doubling
//! up to 5 s (a broker back after an outage is consumed from within seconds: issue 20), the wait
//! back to 1 s once a round lasted longer than that; a shutdown request
//! ends the wait at once.

use std::time::Duration;

use tokio::time::Instant;

use super::Shutdown;

const FIRST: Duration = Duration::from_secs(1);
const LONGEST: Duration = Duration::from_secs(5);

pub struct Reconnect {
    program: &'static str,
    shutdown: Shutdown,
    delay: Duration,
    first: Duration,
    longest: Duration,
    round_started: Instant,
}

impl Reconnect {
    pub fn new(program: &'static str, shutdown: &Shutdown) -> Self {
        Self::with_delays(program, shutdown, FIRST, LONGEST)
    }

    /// A policy with other delays (tests).
    pub fn with_delays(
        program: &'static str,
        shutdown: &Shutdown,
        first: Duration,
        longest: Duration,
    ) -> Self {
        Self {
            program,
            shutdown: shutdown.clone(),
            delay: first,
            first,
            longest,
            round_started: Instant::now(),
        }
    }

    /// Marks the start of a round: its length decides whether the next wait starts again short.
    pub fn round_starts(&mut self) {
        self.round_started = Instant::now();
    }

    /// After a failed round: logs `error`, waits, and returns true to go on, false when shutdown
    /// was requested (before or during the wait).
    pub async fn after_failure(&mut self, what: &str, error: &(impl std::fmt::Display + ?Sized)) -> bool {
        if self.round_started.elapsed() > self.longest {
            self.delay = self.first;
        }
        let wait = self.delay;
        tracing::error!(program = self.program, error = format!("{error:#}"), retry_in = ?wait,
            "{what}; trying again");
        self.delay = (self.delay * 2).min(self.longest);
        if self.shutdown.requested() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = self.shutdown.wait() => false,
        }
    }

    /// The wait the next failure will cause (tests, logs).
    pub fn next_delay(&self) -> Duration {
        if self.round_started.elapsed() > self.longest {
            self.first
        } else {
            self.delay
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn waits_double_up_to_the_longest_and_start_again_after_a_long_round() {
        let (_trigger, shutdown) = Shutdown::new();
        let mut policy = Reconnect::with_delays("test", &shutdown, 10 * MS, 40 * MS);
        let mut planned = Vec::new();
        for _ in 0..4 {
            policy.round_starts();
            planned.push(policy.next_delay());
            let before = Instant::now();
            assert!(policy.after_failure("lost the broker", "broker gone").await);
            // A sleep lasts at least its length; how much longer depends on the machine.
            assert!(before.elapsed() >= *planned.last().unwrap());
        }
        assert_eq!(planned, [10 * MS, 20 * MS, 40 * MS, 40 * MS]);
        policy.round_starts();
        tokio::time::sleep(50 * MS).await;
        assert_eq!(policy.next_delay(), 10 * MS, "a round longer than the longest wait starts short again");
    }

    #[tokio::test]
    async fn a_shutdown_ends_the_wait() {
        let (trigger, shutdown) = Shutdown::new();
        let mut policy =
            Reconnect::with_delays("test", &shutdown, Duration::from_secs(3600), Duration::from_secs(3600));
        trigger.trigger();
        assert!(!policy.after_failure("lost the broker", "broker gone").await);
    }
}
