//! Jobber failing for everyone is not each document's failure: while the shared circuit breaker
//! is open ([`Breaker`]), the workers take no documents (a document in hand is given back to
//! `sj.quotes` as a new message and the consumer paused: [`crate::startup`]), so they wait in
//! `sj.quotes`, not in the retry tiers nor in a worker's hand (where a crash would count against
//! the queue's delivery limit), and one worker among all probes Jobber each
//! `worker.breaker_probe_interval`. The first answer closes the breaker, and the worker whose
//! probe answered brings back from the retry tiers the documents an outage put there before the
//! breaker opened (`jobber.unavailable`), so none waits out a long tier after Jobber is back.

use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions};
use sj_shared::amqp::{header, headers, Publisher, Topology};
use sj_shared::jobber::{Breaker, JobberClient, JobberErrorKind};
use sj_shared::observe;
use sj_shared::runtime::Shutdown;

/// How often a held document looks at the breaker again.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// How a hold ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Hold {
    /// The breaker is closed (or Redis cannot say: no holding without Redis).
    Closed,
    /// Shutdown: the delivery goes back to the queue untouched.
    Shutdown,
    /// Held for longer than allowed (RabbitMQ's delivery timeout is 30 min): give it back.
    TooLong,
}

pub struct Outage<'a> {
    pub breaker: &'a Breaker,
    pub jobber: &'a JobberClient,
    pub publisher: &'a Publisher,
    pub topology: &'a Topology,
    /// `alerts.outage_after`: the operators are told of an outage that lasts this long.
    pub outage_after: Duration,
}

impl Outage<'_> {
    /// Holds the caller while the breaker is open, probing Jobber when it is this worker's turn.
    pub async fn hold_while_open(&self, shutdown: &Shutdown, longest: Option<Duration>) -> Hold {
        let started = tokio::time::Instant::now();
        let mut shutdown = shutdown.clone();
        let mut held: Option<Held> = None;
        loop {
            let since = match self.breaker.open_since().await {
                Ok(Some(since)) => since,
                Ok(None) => {
                    observe::metrics().jobber_breaker_open.set(0);
                    return Hold::Closed;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "the circuit breaker cannot be read (Redis): not holding");
                    return Hold::Closed;
                }
            };
            observe::metrics().jobber_breaker_open.set(1);
            crate::outage_notice::tell_if_long(self.breaker, self.publisher, self.outage_after, since).await;
            if held.is_none() {
                held = Some(Held::new());
                tracing::info!(
                    open_since_ms = since,
                    "Jobber is failing for every document (circuit breaker open): taking no documents (they \
                     wait in sj.quotes, not in the retry tiers) until Jobber answers a probe"
                );
            }
            if matches!(self.breaker.take_probe().await, Ok(true)) && self.probe().await {
                return Hold::Closed;
            }
            if longest.is_some_and(|longest| started.elapsed() >= longest) {
                return Hold::TooLong;
            }
            tokio::select! {
                _ = tokio::time::sleep(LOOK_AGAIN) => {}
                _ = shutdown.wait() => return Hold::Shutdown,
            }
        }
    }

    /// One probe (the account query): any answer of Jobber's closes the breaker, and this worker
    /// brings the outage's documents back from the retry tiers.
    async fn probe(&self) -> bool {
        match self.jobber.account().await {
            Err(e) if e.kind == JobberErrorKind::Unavailable => {
                tracing::info!(error = %e, "probe: Jobber still failing; the breaker stays open");
                false
            }
            _ => {
                if matches!(self.breaker.answered().await, Ok(true)) {
                    tracing::warn!("probe: Jobber answers again: circuit breaker closed, documents flow");
                    observe::metrics().jobber_breaker_open.set(0);
                    self.bring_back().await;
                    crate::outage_notice::tell_if_back(self.breaker, self.publisher).await;
                }
                true
            }
        }
    }

    /// Moves every message of the retry tiers that failed with `jobber.unavailable` back to
    /// `sj.quotes` now (confirmed before it is acked: a crash means a copy, never a loss, and
    /// copies are harmless). Any other message is put back in its tier, its delay starting again.
    pub async fn bring_back(&self) {
        let channel = self.publisher.channel();
        let quotes = self.topology.quotes_queue().to_string();
        let (mut back, mut kept) = (0usize, 0usize);
        for delay in &self.topology.retry_delays {
            let queue = self.topology.retry_queue(*delay).to_string();
            // At most the messages there now: what is put back is not taken again.
            let mut left = match channel.basic_get(queue.as_str().into(), BasicGetOptions::default()).await {
                Ok(Some(first)) => Some((first.message_count as usize + 1, first)),
                _ => None,
            };
            while let Some((count, message)) = left.take() {
                let delivery = &message.delivery;
                let kind =
                    headers::text(delivery.properties.headers(), header::ERROR_KIND).unwrap_or_default();
                let to = if kind == "jobber.unavailable" { &quotes } else { &queue };
                let sent =
                    match self.publisher.republish("", to, &delivery.data, &delivery.properties, &[]).await {
                        Ok(pending) => pending.confirmed().await.is_ok(),
                        Err(_) => false,
                    };
                if !sent {
                    // Left unacked: it returns to its tier when the channel closes.
                    tracing::warn!(queue = %queue, "could not bring a document back from its retry tier; it stays there");
                    return;
                }
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
                if to == &quotes {
                    back += 1;
                } else {
                    kept += 1;
                }
                if count > 1 {
                    if let Ok(Some(next)) =
                        channel.basic_get(queue.as_str().into(), BasicGetOptions::default()).await
                    {
                        left = Some((count - 1, next));
                    }
                }
            }
        }
        if back > 0 || kept > 0 {
            tracing::info!(back, kept,
                "documents the outage had sent to the retry tiers brought back to sj.quotes (others kept in their tier)");
        }
    }
}

/// Holds the caller until Redis answers a PING (looked at each second): Redis unreachable is no
/// document's own failure, and a retry tier would add its whole delay after Redis is back.
pub async fn hold_until_redis_answers(
    pool: &deadpool_redis::Pool,
    shutdown: &Shutdown,
    longest: Option<Duration>,
) -> Hold {
    let started = tokio::time::Instant::now();
    let mut shutdown = shutdown.clone();
    let mut told = false;
    loop {
        let answered = match pool.get().await {
            Ok(mut conn) => deadpool_redis::redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok(),
            Err(_) => false,
        };
        if answered {
            if told {
                tracing::info!(
                    waited_ms = started.elapsed().as_millis() as u64,
                    "Redis answers again: trying the document again"
                );
            }
            return Hold::Closed;
        }
        if !told {
            tracing::warn!(
                "Redis does not answer: taking no documents (they wait in sj.quotes, not in the retry tiers) until it does"
            );
            told = true;
        }
        if longest.is_some_and(|longest| started.elapsed() >= longest) {
            return Hold::TooLong;
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK_AGAIN) => {}
            _ = shutdown.wait() => return Hold::Shutdown,
        }
    }
}

/// `sj_worker_paused` is 1 while this wait lasts.
struct Held;

impl Held {
    fn new() -> Self {
        observe::metrics().worker_paused.inc();
        Self
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        observe::metrics().worker_paused.dec();
    }
}
