//! The SaberisConnect API source: every `poll_interval`, list the available exports, fetch each
//! GUID not taken yet, publish it (confirms kept in flight), and record the GUID as taken in Redis
//! once the broker confirmed. The API keeps listing documents after they were fetched and has no
//! acknowledge call, so that record is the only thing that stops a second publish.
//!
//! Failures and what they leave behind:
//! - SaberisConnect unreachable, slow, 5xx, or the list unreadable: the poll ends, nothing is
//!   recorded, the next poll tries again.
//! - One document cannot be fetched: it stays untaken (fetched again next poll); the others go on.
//! - Redis unavailable: nothing is published from the API, since the GUIDs could not be recorded
//!   afterwards and every poll would publish them again.
//! - The broker fails: the error ends the round (the caller reconnects); unconfirmed GUIDs stay
//!   untaken. A document published twice is harmless: the worker deduplicates by content hash.
//! - A document that cannot become a quote: kept as `rejected/GUID.json` with
//!   `GUID.json.error.txt`, dead-lettered, and recorded as taken so it is not refused again
//!   every poll.

mod client;
mod store;

pub use client::Client;
pub use store::{SessionCache, TakenGuids};

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::Context as _;
use futures_util::stream::{FuturesUnordered, StreamExt};
use sj_shared::amqp::{AmqpError, Publisher};
use sj_shared::config::PollerSettings;
use sj_shared::intake::DocumentReader;
use sj_shared::message::{DeadLetter, QuoteRequest, Source, SourceKind};
use sj_shared::saberis::{DocumentError, Format};
use sj_shared::store::{History, Outcome, PublishedDocuments};
use tracing::Instrument as _;

use crate::shutdown::Shutdown;
use crate::{document_span, place};

/// What one poll (or several, summed) did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    /// GUIDs in the export list.
    pub listed: usize,
    /// Listed and not taken before.
    pub new: usize,
    /// Published and confirmed.
    pub published: usize,
    /// Same content as a document already published: recorded as taken, not published again.
    pub duplicates: usize,
    /// Refused (parse error or sanity rule): kept in `rejected/`, dead-lettered, recorded.
    pub rejected: usize,
    /// Left for the next poll: could not be fetched or kept, an unusable list entry, or not
    /// started because the poll stopped early.
    pub failed: usize,
    /// Why the poll stopped before taking every new document (the API or Redis failed).
    pub incomplete: Option<String>,
}

impl std::ops::AddAssign for PollReport {
    fn add_assign(&mut self, other: Self) {
        self.listed += other.listed;
        self.new += other.new;
        self.published += other.published;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.failed += other.failed;
        // The latest poll's state: an earlier failure that a later poll got past is over.
        self.incomplete = other.incomplete;
    }
}

/// Said before the kind's hint in a refused document's reason file.
const ORIGIN: &str =
    "The document came from SaberisConnect; the watched folder's incoming/ takes the file too.";

pub struct SaberisConnectSource<'a> {
    pub settings: &'a PollerSettings,
    pub client: &'a Client,
    pub taken: &'a TakenGuids,
    pub reader: &'a DocumentReader,
    pub publisher: &'a Publisher,
    pub published: Option<&'a PublishedDocuments>,
    pub history: Option<&'a History>,
}

/// A document published, waiting for the broker's confirmation.
struct InFlight {
    guid: String,
    hash: String,
    /// The document's span: its trace is the one the message's `traceparent` names.
    span: tracing::Span,
}

/// What to do with one new document.
enum Next {
    Publish(Box<QuoteRequest>),
    /// Same content as a document published earlier in this poll, not confirmed yet.
    Twin,
    /// Not published, but recorded as taken.
    Skip(Skip),
    /// Could not be fetched or kept: not recorded, so the next poll takes it again.
    LeaveForNextPoll,
}

/// Why a document is not published: recorded as taken with this outcome.
enum Skip {
    Duplicate { first: String },
    Rejected { kept_at: PathBuf },
}

impl SaberisConnectSource<'_> {
    /// Polls every `poll_interval` (the first time at once) until shutdown.
    pub async fn watch(&self, total: &mut PollReport, shutdown: &Shutdown) -> anyhow::Result<()> {
        let mut shutdown = shutdown.clone();
        let mut ticks = tokio::time::interval(self.settings.saberis_connect.poll_interval.0);
        // After a slow poll, wait a full interval rather than polling again at once.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = ticks.tick() => {}
            }
            *total += self.poll(&shutdown).await?;
        }
    }

    /// One poll. `Err` only when the broker failed (the round must reconnect); every other
    /// failure is in the report and logged, and the next poll tries again.
    pub async fn poll(&self, shutdown: &Shutdown) -> anyhow::Result<PollReport> {
        let mut report = PollReport::default();
        let result = self.take_new(shutdown, &mut report).await;
        let incomplete = report.incomplete.as_deref().unwrap_or("");
        if result.is_ok() && report.incomplete.is_none() {
            tracing::info!(
                listed = report.listed,
                new = report.new,
                published = report.published,
                duplicates = report.duplicates,
                rejected = report.rejected,
                failed = report.failed,
                "SaberisConnect poll"
            );
        } else {
            tracing::warn!(
                listed = report.listed,
                new = report.new,
                published = report.published,
                duplicates = report.duplicates,
                rejected = report.rejected,
                failed = report.failed,
                incomplete,
                "SaberisConnect poll incomplete: the rest is left for the next poll"
            );
        }
        result.map(|()| report)
    }

    async fn take_new(&self, shutdown: &Shutdown, report: &mut PollReport) -> anyhow::Result<()> {
        let listed = match self.client.list().await {
            Ok(listed) => listed,
            Err(e) => {
                report.incomplete = Some(format!("cannot list the exports: {e:#}"));
                return Ok(());
            }
        };
        report.listed = listed.len();
        let mut guids = Vec::new();
        let mut seen = HashSet::new();
        for entry in listed {
            match entry {
                Ok(guid) if seen.insert(guid.clone()) => guids.push(guid),
                Ok(_) => {} // listed twice: taken once
                Err(entry) => {
                    tracing::warn!(entry, "SaberisConnect listed an export without a usable GUID: skipped");
                    report.failed += 1;
                }
            }
        }
        let taken = match self.taken.taken(&guids).await {
            Ok(taken) => taken,
            Err(e) => {
                report.incomplete = Some(format!(
                    "Redis unavailable, so taken GUIDs can be neither checked nor recorded: {e:#}"
                ));
                return Ok(());
            }
        };
        let new: Vec<String> = guids.into_iter().zip(taken).filter(|(_, t)| !t).map(|(g, _)| g).collect();
        report.new = new.len();

        let mut in_flight = FuturesUnordered::new();
        // Documents of the same content in this poll wait for the first one's confirmation.
        let mut same_content: HashMap<String, Vec<String>> = HashMap::new();
        let mut remaining = new.into_iter();
        // Stop starting documents on shutdown (what is in flight is finished below) or once
        // Redis failed (nothing more could be recorded).
        while report.incomplete.is_none() && !shutdown.requested() {
            let Some(guid) = remaining.next() else { break };
            let span = document_span(&guid);
            match self.examine(&guid, &mut same_content).instrument(span.clone()).await? {
                Next::LeaveForNextPoll => report.failed += 1,
                Next::Twin => {} // recorded with the first one of its content
                Next::Skip(skip) => {
                    match &skip {
                        Skip::Duplicate { .. } => report.duplicates += 1,
                        Skip::Rejected { .. } => report.rejected += 1,
                    }
                    self.record_skip(&guid, &skip, report).instrument(span).await;
                }
                Next::Publish(request) => {
                    let pending = self
                        .publisher
                        .publish_quote(&request)
                        .instrument(span.clone())
                        .await
                        .context("publishing to RabbitMQ")?;
                    same_content.insert(request.content_hash.clone(), Vec::new());
                    let item = InFlight { guid, hash: request.content_hash, span };
                    in_flight.push(async move { (item, pending.confirmed().await) });
                    if in_flight.len() >= self.settings.max_in_flight {
                        let (item, confirmed) = in_flight.next().await.expect("not empty");
                        let span = item.span.clone();
                        self.finish(item, confirmed, &mut same_content, report).instrument(span).await?;
                    }
                }
            }
        }
        while let Some((item, confirmed)) = in_flight.next().await {
            let span = item.span.clone();
            self.finish(item, confirmed, &mut same_content, report).instrument(span).await?;
        }
        // Documents not started (Redis failed, or shutdown): taken next time.
        report.failed += remaining.count();
        Ok(())
    }

    /// Fetches and reads one new document and decides what to do with it. A refused document is
    /// kept and dead-lettered here; `Err` only when the broker failed.
    async fn examine(
        &self,
        guid: &str,
        same_content: &mut HashMap<String, Vec<String>>,
    ) -> anyhow::Result<Next> {
        let bytes = match self.client.document(guid, self.reader.limits.max_bytes).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(
                    guid,
                    error = format!("{e:#}"),
                    "cannot fetch the document: left for the next poll"
                );
                return Ok(Next::LeaveForNextPoll);
            }
        };
        let source = Source::now(SourceKind::SaberisConnect, guid);
        let request = match self.reader.quote_request(&bytes, Some(Format::Json), source, true) {
            Ok(request) => request,
            Err(error) => {
                return Ok(match self.reject(guid, &bytes, &error.in_file(guid)).await? {
                    Some(kept_at) => Next::Skip(Skip::Rejected { kept_at }),
                    None => Next::LeaveForNextPoll,
                });
            }
        };
        if let Some(twins) = same_content.get_mut(&request.content_hash) {
            // Recorded once the first document of this content is confirmed.
            twins.push(guid.to_owned());
            return Ok(Next::Twin);
        }
        Ok(match self.already_published(&request.content_hash).await {
            Some(first) => Next::Skip(Skip::Duplicate { first }),
            None => Next::Publish(Box::new(request)),
        })
    }

    /// After the broker's answer: record the hash and the GUID (and its same-content twins).
    async fn finish(
        &self,
        item: InFlight,
        confirmed: Result<(), AmqpError>,
        same_content: &mut HashMap<String, Vec<String>>,
        report: &mut PollReport,
    ) -> anyhow::Result<()> {
        confirmed
            .with_context(|| format!("the broker did not confirm SaberisConnect document {}", item.guid))?;
        report.published += 1;
        if let Some(published) = self.published {
            if let Err(e) = published.record(&item.hash, &item.guid).await {
                // Only costs a second message for a later re-export; the worker deduplicates.
                tracing::warn!(guid = %item.guid, error = %e, "could not record the published hash in Redis");
            }
        }
        self.record(&item.guid, &format!("published {}", item.hash), report).await;
        tracing::info!(guid = %item.guid, hash = %item.hash, "published");
        for twin in same_content.remove(&item.hash).unwrap_or_default() {
            report.duplicates += 1;
            self.record_skip(&twin, &Skip::Duplicate { first: item.guid.clone() }, report).await;
        }
        Ok(())
    }

    async fn record_skip(&self, guid: &str, skip: &Skip, report: &mut PollReport) {
        let outcome = match skip {
            Skip::Duplicate { first } => {
                tracing::info!(guid, first_source = %first,
                    "same content as a document already published: not published again");
                format!("duplicate of {first}")
            }
            Skip::Rejected { kept_at } => format!("rejected, kept at {}", kept_at.display()),
        };
        self.record(guid, &outcome, report).await;
    }

    /// Records a GUID as taken. When Redis fails here, the document is safe (confirmed or kept)
    /// but will be taken again next poll; the poll stops starting new documents, since none
    /// could be recorded either.
    async fn record(&self, guid: &str, outcome: &str, report: &mut PollReport) {
        if let Err(e) = self.taken.record(guid, outcome).await {
            tracing::error!(guid, error = format!("{e:#}"),
                "could not record the GUID as taken: it will be taken again next poll (harmless: the worker deduplicates)");
            report.incomplete.get_or_insert_with(|| format!("Redis failed while recording GUIDs: {e:#}"));
        }
    }

    async fn already_published(&self, hash: &str) -> Option<String> {
        if !self.settings.skip_published {
            return None;
        }
        match self.published?.first_source(hash).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "Redis unavailable: publishing without checking for re-exports");
                None
            }
        }
    }

    /// Keeps the document as `rejected/GUID.json` with its reason file, then dead-letters a
    /// record (so the alert fires). `None` when it could not be kept: then it is not recorded
    /// either, and the next poll tries again (the original is still on SaberisConnect).
    async fn reject(
        &self,
        guid: &str,
        bytes: &[u8],
        error: &DocumentError,
    ) -> anyhow::Result<Option<PathBuf>> {
        let rejected = &self.settings.folder.rejected;
        let text = place::reason_text(error, Some(ORIGIN));
        let kept = place::free_target(rejected, &format!("{guid}.json")).and_then(|target| {
            let reason = place::write_reason(&target, &text)?;
            place::write_new(&target, bytes)?;
            Ok((target, reason))
        });
        let (kept_at, reason_file) = match kept {
            Ok(kept) => kept,
            Err(e) => {
                tracing::error!(guid, error = %e, rejected = %rejected.display(),
                    "cannot keep a refused document: left for the next poll");
                return Ok(None);
            }
        };
        let source = Source::now(SourceKind::SaberisConnect, guid);
        let letter = DeadLetter::rejected(source, kept_at.display().to_string(), error);
        self.publisher
            .publish_dead_letter(&letter)
            .await
            .context("publishing a dead letter")?
            .confirmed()
            .await
            .context("the broker did not confirm a dead letter")?;
        tracing::warn!(guid, error = %error, kept = %kept_at.display(), reason = %reason_file.display(),
            "document refused");
        if let Some(history) = self.history {
            history.record(Outcome::Rejected, guid, None, Some((&letter.kind, &error.reason))).await;
        }
        Ok(Some(kept_at))
    }
}
