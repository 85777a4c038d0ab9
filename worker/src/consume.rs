//! One delivery from `sj.quotes`, start to finish: read the message, write it to Jobber, then
//! ack, or route the failure: a transient one to the next retry tier (`sj.quotes.retry.<delay>`,
//! which sends it back after its delay), a permanent or exhausted one to the dead letters with
//! the reason in headers. The original is acked only once the republish was confirmed, so a
//! crash anywhere means a redelivery, never a loss.

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use sj_shared::amqp::{header, headers, text, trace_id, Publisher, Topology};
use sj_shared::failure::{Class, FailureKind};
use sj_shared::message::QuoteRequest;
use sj_shared::observe;
use sj_shared::store::{Claim, History, Outcome, ParkedCopy, ParkedDocuments};
use tracing::Instrument as _;

use crate::failure::Failure;
use crate::lookup::Delivered;
use crate::outage::Outage;
use crate::write::{Writer, Written};

/// How many times a document held back by the shared budget comes back without counting an
/// attempt; past that, deferrals count like any transient failure.
const MAX_DEFERRALS: i64 = 100;
/// How long a worker's claim to park a document holds off another copy of it (the dead letter's
/// publish and confirm take milliseconds; a worker killed meanwhile lets go after this).
const PARKING_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// A dead letter's claim (see [`sj_shared::store::ParkedDocuments`]).
enum Parking {
    /// This worker parks the copy.
    Ours(String, ParkedCopy),
    /// Parked without the record (no content hash, or Redis unreachable).
    Unchecked,
}

pub struct Handler<'a> {
    pub writer: &'a Writer,
    pub history: &'a History,
    /// Which documents are parked already (a second copy is acked, not parked again).
    pub parked: ParkedDocuments,
    pub publisher: &'a Publisher,
    pub topology: &'a Topology,
    /// Told when a republish failed: the publishing channel may be broken (an exchange deleted
    /// under us closes it), and every later failure would fail alike, so the worker reconnects
    /// (declaring the topology again) instead of requeueing documents until the broker drops them.
    pub publisher_failed: tokio::sync::Notify,
    /// Ends a wait for room in Jobber's budget (the delivery returns to the queue).
    pub shutdown: sj_shared::runtime::Shutdown,
    /// `alerts.outage_after` (see [`crate::outage_notice`]).
    pub outage_after: std::time::Duration,
    /// Told when a document was given back because the bridge must pause (Jobber failing for
    /// everyone, Redis away): the consumer stops taking documents until it passes.
    pub pause: tokio::sync::Notify,
    /// Why the last pause was asked for.
    pub paused: std::sync::Mutex<Option<Pause>>,
}

/// Why this worker stops taking documents for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// The shared circuit breaker is open.
    Jobber { after_write: bool },
    /// Redis does not answer.
    Redis { after_write: bool },
}

impl Pause {
    pub fn why(self) -> &'static str {
        match self {
            Pause::Jobber { .. } => "Jobber is failing for every document (circuit breaker open)",
            Pause::Redis { .. } => "Redis does not answer",
        }
    }
}

impl Handler<'_> {
    /// Handles one delivery inside a span carrying the document's trace id (from the
    /// `traceparent` the poller set), so every log line of every attempt can be followed.
    pub async fn handle(&self, delivery: Delivery) {
        let traceparent =
            headers::text(delivery.properties.headers(), header::TRACEPARENT).unwrap_or_default();
        let span = tracing::info_span!("document", trace_id = trace_id(&traceparent).unwrap_or("none"));
        // Exported, this attempt is a child of the poller's span for the document (same trace).
        sj_shared::telemetry::continue_trace(&span, &traceparent);
        self.handle_traced(delivery).instrument(span).await
    }

    async fn handle_traced(&self, delivery: Delivery) {
        let source = headers::text(delivery.properties.headers(), header::SOURCE).unwrap_or_default();
        let outcome = match QuoteRequest::from_json(&delivery.data) {
            Ok(request) => {
                // Only a readable document waits for Jobber's budget (an unreadable one is parked
                // at once, whatever the budget).
                if !crate::pacing::wait_for_room(self.writer.jobber.budget(), &self.shutdown).await {
                    tracing::info!(
                        "stopping: the document waiting for room in Jobber's budget returns to the queue"
                    );
                    return;
                }
                let h = delivery.properties.headers();
                let delivered = Delivered {
                    redelivered: delivery.redelivered,
                    attempts: headers::integer(h, header::ATTEMPTS).unwrap_or(0),
                    write_attempts: headers::integer(h, header::WRITE_ATTEMPTS),
                    replays: headers::integer(h, header::REPLAY_COUNT).unwrap_or(0),
                };
                match self.write_unless_paused(&request, delivered).await {
                    Ok(result) => result.map(|written| (request, written)),
                    Err(pause) => {
                        self.give_back(&delivery, &source, pause).await;
                        return;
                    }
                }
            }
            Err(e) => Err(Failure::new(FailureKind::MessageUnreadable, e.to_string())),
        };
        if self.writer.effects.is_dry_run() {
            // Nothing changes in a dry run: not Jobber, not the queues. The delivery stays unacked
            // with this worker until it stops, then returns to the queue.
            match &outcome {
                Ok((request, Written::AlreadyThere(r))) => tracing::info!(source = %request.source.id,
                    to = %r.target(), "dry run: already in Jobber"),
                Ok((request, Written::Held(item))) => tracing::info!(source = %request.source.id,
                    reasons = %item.reasons.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(", "),
                    total = %item.total, "dry run: would be held for review (sj.review), nothing published"),
                Ok((request, _)) => tracing::info!(source = %request.source.id,
                    "dry run: shown, not written; the message returns to the queue when this worker stops"),
                Err(failure) => tracing::warn!(%source, kind = %failure.kind, reason = %failure.reason,
                    transient = failure.is_transient(), "dry run: this document would fail"),
            }
            return;
        }
        match outcome {
            Ok((_, Written::Held(item))) => {
                if !crate::review::hold(&delivery, &item, self.publisher, self.history).await {
                    self.publisher_failed.notify_one();
                }
            }
            Ok((request, written)) => {
                let first_seen = first_seen_ms(&delivery, &request);
                match &written {
                    Written::Created(r) => {
                        observe::metrics().quote_created(first_seen);
                        tracing::info!(source = %request.source.id, quote = %r.quote_number,
                        client = %r.client_id, total = %r.total, "quote created");
                        self.history.record(Outcome::Created, &request.source.id, Some(r), None).await;
                    }
                    Written::LinesAdded(r) => {
                        observe::metrics().lines_added(r.line_item_ids.len(), first_seen);
                        tracing::info!(source = %request.source.id, quote = %r.quote_number,
                        client = %r.client_id, lines = r.line_item_ids.len(), "lines added to an existing quote");
                        self.history.record(Outcome::Updated, &request.source.id, Some(r), None).await;
                    }
                    Written::JobLinesAdded(r) => {
                        observe::metrics().lines_added(r.line_item_ids.len(), first_seen);
                        // `to`, not `target`: the JSON log's `target` is the module's.
                        tracing::info!(source = %request.source.id, to = %r.target(),
                        client = %r.client_id, lines = r.line_item_ids.len(), "lines added to an existing job");
                        self.history.record(Outcome::Updated, &request.source.id, Some(r), None).await;
                    }
                    Written::AlreadyThere(r) => {
                        observe::metrics().documents_already_written.inc();
                        // `quote` for a quote (as before jobs), `to` for either: `quote #12`, `job #7`.
                        tracing::info!(source = %request.source.id,
                        quote = r.job.is_none().then_some(r.quote_number.as_str()), to = %r.target(),
                        by_marker = r.found_by_marker, "already in Jobber: nothing written");
                        self.history.record(Outcome::Unchanged, &request.source.id, Some(r), None).await;
                    }
                    Written::Held(_) => unreachable!("handled above"),
                }
                ack(&delivery).await;
            }
            Err(failure) => self.route(&delivery, &source, failure).await,
        }
    }

    async fn route(&self, delivery: &Delivery, source: &str, failure: Failure) {
        if failure.kind == FailureKind::JobberUnauthorized {
            // No document can be written until someone connects Jobber again: the operators hear
            // it once per disconnection.
            let tokens = self.writer.jobber.tokens();
            crate::unauthorized_notice::tell(tokens, self.publisher, self.topology, &failure.reason).await;
        }
        let props = &delivery.properties;
        let attempts = headers::integer(props.headers(), header::ATTEMPTS).unwrap_or(0).max(0) as usize;
        // Attempts that may have reached Jobber with the write: an older bridge's attempts all count.
        let write_attempts = headers::integer(props.headers(), header::WRITE_ATTEMPTS)
            .unwrap_or(attempts as i64)
            + i64::from(failure.after_write);
        let first_failure = headers::text(props.headers(), header::FIRST_FAILURE)
            .unwrap_or_else(|| humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
        let delays = &self.topology.retry_delays;
        // Held back by the shared budget, nothing sent: back after the shortest tier without
        // counting an attempt (a budget that never recovers still ends in the dead letters after
        // MAX_DEFERRALS).
        let deferrals = headers::integer(props.headers(), header::DEFERRALS).unwrap_or(0).max(0);
        // Jobber's THROTTLED (or 429) refused the request unexecuted for the account's budget,
        // not for this document: like a request the shared budget held back, no attempt.
        let deferred =
            (failure.deferred || failure.kind == FailureKind::JobberThrottled) && deferrals < MAX_DEFERRALS;
        let tier = if deferred { 0 } else { attempts.min(delays.len() - 1) };
        // The kind's class decides: a transient kind goes through the retry tiers, then is parked;
        // a permanent one is parked at once (refused kinds are the poller's and never come here).
        let (exchange, routing_key, what) = match failure.kind.class() {
            Class::Transient if deferred || attempts < delays.len() => {
                // The default exchange routes by queue name.
                (String::new(), self.topology.retry_queue(delays[tier]).to_string(), "retry")
            }
            Class::Transient | Class::Permanent | Class::Refused => {
                (self.topology.dead_exchange().to_string(), String::new(), "dead-letter")
            }
        };
        let reason = if failure.is_transient() && what == "dead-letter" {
            format!("{} (gave up after {} attempts)", failure.reason, attempts + 1)
        } else {
            failure.reason.clone()
        };
        let mut added = vec![
            (header::ATTEMPTS, AMQPValue::LongLongInt(attempts as i64 + i64::from(!deferred))),
            (header::DEFERRALS, AMQPValue::LongLongInt(deferrals + i64::from(deferred))),
            (header::WRITE_ATTEMPTS, AMQPValue::LongLongInt(write_attempts)),
            (header::FIRST_FAILURE, text(&first_failure)),
            (header::ERROR_KIND, text(failure.kind.name())),
            (header::ERROR, text(&reason)),
        ];
        if what == "dead-letter" {
            added.push((header::PARKED_AT, sj_shared::amqp::now_ms()));
        }
        let parking = if what == "dead-letter" {
            match self.claim_parking(delivery, source).await {
                Some(parking) => parking,
                None => return,
            }
        } else {
            Parking::Unchecked
        };
        let published =
            match self.publisher.republish(&exchange, &routing_key, &delivery.data, props, &added).await {
                Ok(pending) => pending.confirmed().await,
                Err(e) => Err(e),
            };
        if let Parking::Ours(hash, copy) = &parking {
            let recorded = match &published {
                Ok(()) => self.parked.parked(hash, copy).await,
                Err(_) => self.parked.release(hash, copy).await,
            };
            if let Err(e) = recorded {
                tracing::warn!(%source, error = %e,
                    "could not record the parking in Redis; a second copy may be parked too once the claim ends");
            }
        }
        match published {
            Ok(()) => {
                let outcome = if what == "retry" { Outcome::Retried } else { Outcome::Parked };
                if what == "retry" {
                    observe::metrics().retried(&sj_shared::amqp::tier_name(delays[tier]));
                } else {
                    observe::metrics().dead_letter(failure.kind.name());
                }
                self.history.record(outcome, source, None, Some((failure.kind.name(), &reason))).await;
                if deferred && failure.kind == FailureKind::JobberThrottled && !failure.deferred {
                    tracing::info!(%source, reason = %reason, deferrals = deferrals + 1, queue = %routing_key,
                        "Jobber answered THROTTLED (the account's budget, not this document): back shortly, no attempt counted");
                } else if deferred {
                    tracing::info!(%source, reason = %reason, deferrals = deferrals + 1, queue = %routing_key,
                        "held back by Jobber's shared budget, nothing sent: back shortly, no attempt counted");
                } else if what == "retry" {
                    tracing::warn!(%source, kind = %failure.kind, reason = %reason, attempt = attempts + 1,
                        queue = %routing_key, "transient failure: retrying later");
                } else {
                    tracing::error!(%source, kind = %failure.kind, reason = %reason, attempts = attempts + 1,
                        "dead-lettered");
                }
                ack(delivery).await;
            }
            Err(e) => {
                // Could not hand it on: give it back to the queue (a redelivery, never a loss).
                tracing::error!(%source, error = %e, "could not republish a failed document; requeueing it");
                self.publisher_failed.notify_one();
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() })
                    .await;
            }
        }
    }
}

impl Handler<'_> {
    pub fn outage(&self) -> Outage<'_> {
        Outage {
            breaker: &self.writer.breaker,
            jobber: &self.writer.jobber,
            publisher: self.publisher,
            topology: self.topology,
            outage_after: self.outage_after,
        }
    }

    /// The write, unless the bridge must pause: Jobber failing for everyone (the shared circuit
    /// breaker open, before the write or opened by this failure) or Redis unreachable. Those are
    /// no document's own failure: `Err(Pause)` gives the document back to `sj.quotes` and pauses
    /// this worker's consuming until they pass ([`crate::startup`]), spending no retry tier and
    /// no attempt. A failure of this document alone goes on to the tiers as before.
    async fn write_unless_paused(
        &self,
        request: &QuoteRequest,
        delivered: Delivered,
    ) -> Result<Result<Written, Failure>, Pause> {
        let dry_run = self.writer.effects.is_dry_run();
        if !dry_run && matches!(self.writer.breaker.open_since().await, Ok(Some(_))) {
            return Err(Pause::Jobber { after_write: false });
        }
        let result = self.writer.write(request, delivered).await;
        match &result {
            Ok(_) => {
                if matches!(self.writer.breaker.answered().await, Ok(true)) {
                    // Closed by a write rather than a probe: the operators told of the outage
                    // hear it is over too.
                    crate::outage_notice::tell_if_back(&self.writer.breaker, self.publisher).await;
                }
            }
            Err(failure) if failure.kind == FailureKind::JobberUnavailable && !dry_run => {
                if let Ok(Some(_)) = self.writer.breaker.failed(request.content_hash.as_str()).await {
                    return Err(Pause::Jobber { after_write: failure.after_write });
                }
            }
            Err(failure) if failure.kind == FailureKind::RedisUnavailable && !dry_run => {
                return Err(Pause::Redis { after_write: failure.after_write });
            }
            Err(_) => {}
        }
        Ok(result)
    }

    /// Gives the document back to `sj.quotes` as a new message (confirmed, then the delivery is
    /// acked: a redelivery would count against the queue's delivery limit, a new message does
    /// not), no attempt counted; `sj-write-attempts` grows when this attempt had sent the write,
    /// so the next one looks for it first. Then tells the consumer to pause.
    async fn give_back(&self, delivery: &Delivery, source: &str, pause: Pause) {
        let props = &delivery.properties;
        let after_write = match pause {
            Pause::Jobber { after_write } | Pause::Redis { after_write } => after_write,
        };
        let attempts = headers::integer(props.headers(), header::ATTEMPTS).unwrap_or(0);
        let write_attempts = headers::integer(props.headers(), header::WRITE_ATTEMPTS).unwrap_or(attempts)
            + i64::from(after_write);
        let added = [(header::WRITE_ATTEMPTS, AMQPValue::LongLongInt(write_attempts))];
        let quotes = self.topology.quotes_queue().to_string();
        let published = match self.publisher.republish("", &quotes, &delivery.data, props, &added).await {
            Ok(pending) => pending.confirmed().await,
            Err(e) => Err(e),
        };
        match published {
            Ok(()) => {
                tracing::info!(%source, reason = pause.why(),
                    "given back to sj.quotes, no attempt counted: this worker pauses until it passes");
                ack(delivery).await;
            }
            Err(e) => {
                tracing::error!(%source, error = %e, "could not give the document back; requeueing it");
                self.publisher_failed.notify_one();
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() })
                    .await;
            }
        }
        *self.paused.lock().expect("pause lock") = Some(pause);
        self.pause.notify_one();
    }

    /// Before a copy of a document goes to the dead letters: `None` when it needs no dead letter
    /// of its own (parked already: acked here), else how to record it. While another worker
    /// holds the claim (its publish under way, or it died holding it) this copy waits in hand,
    /// not requeued (a quorum queue counts requeues against its delivery limit).
    async fn claim_parking(&self, delivery: &Delivery, source: &str) -> Option<Parking> {
        let props = &delivery.properties;
        let Some(hash) = props.message_id().as_ref().map(|id| id.to_string()) else {
            return Some(Parking::Unchecked);
        };
        let copy = ParkedCopy {
            replays: headers::integer(props.headers(), header::REPLAY_COUNT).unwrap_or(0),
            parked_before: headers::integer(props.headers(), header::PARKED_AT).unwrap_or(0),
        };
        let mut waited = false;
        loop {
            match self.parked.claim(&hash, &copy, PARKING_LEASE).await {
                Ok(Claim::Ours) => return Some(Parking::Ours(hash, copy)),
                Ok(Claim::Parked) => {
                    tracing::info!(%source, "parked already (a second copy of the document): acked, not parked again");
                    ack(delivery).await;
                    return None;
                }
                Ok(Claim::Parking) => {
                    if !waited {
                        tracing::info!(%source, "another worker is parking this document now: waiting for it");
                        waited = true;
                    }
                    // The claim ends by itself within PARKING_LEASE if its holder died.
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Err(e) => {
                    tracing::warn!(%source, error = %e,
                        "Redis unreachable: parking without checking for an earlier copy (a duplicate dead letter at worst)");
                    return Some(Parking::Unchecked);
                }
            }
        }
    }
}

async fn ack(delivery: &Delivery) {
    // An ack that fails (channel gone) means a redelivery, which the crosswalk makes harmless.
    match delivery.acker.ack(BasicAckOptions::default()).await {
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "ack failed; the message will be redelivered"),
    }
}

/// When the poller first published the document (Unix ms): its `sj-first-seen` header, else (a
/// message from an older poller) the message's `source.received_at`, to the second.
fn first_seen_ms(delivery: &Delivery, request: &QuoteRequest) -> Option<i64> {
    headers::integer(delivery.properties.headers(), header::FIRST_SEEN).or_else(|| {
        let at = humantime::parse_rfc3339_weak(&request.source.received_at).ok()?;
        at.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_millis() as i64)
    })
}
