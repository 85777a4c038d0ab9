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
//!
//! The first poll of an installation (no record of it in Redis, no GUID ever taken) publishes
//! none of the exports already listed unless `poller.saberis_connect.start_from` says so: they
//! were made before the bridge, and are recorded as such ([`BEFORE_BRIDGE`]) for the backfill
//! (`sj-poller --once --since DATE`) to take. Its record ([`Baseline`]) is `pending` while it
//! classifies them and `done` once every listed GUID is recorded; only then is a later export new.
//! A Redis that lost its data looks like a first connection: what it lists then is held back as
//! well (nothing is sent again), except that a poller that was running, and so knows when it last
//! found the record, takes the exports dated from the day before that (docs/operations.md).

mod client;
mod store;

pub use client::Client;
pub use store::{is_before_bridge, Baseline, BaselineState, SessionCache, TakenGuids, BEFORE_BRIDGE};

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sj_shared::config::{PollerSettings, StartFrom};
use sj_shared::intake::DocumentReader;
use sj_shared::message::{Source as Origin, SourceKind};
use sj_shared::runtime::Shutdown;
use sj_shared::saberis::{DocumentError, Format};

use crate::backfill::{self, Candidate, Window};
use crate::place;
use crate::publish::{Batch, DocumentSource, Publishing};

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
    /// Held back by the first poll as made before the bridge (a backfill: found before the
    /// bridge).
    pub before_bridge: usize,
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
        self.before_bridge += other.before_bridge;
        // The latest poll's state: an earlier failure that a later poll got past is over.
        self.incomplete = other.incomplete;
    }
}

/// Said before the kind's hint in a refused document's reason file.
const ORIGIN: &str =
    "The document came from SaberisConnect; the watched folder's incoming/ takes the file too.";

pub struct SaberisConnectSource<'a> {
    pub client: &'a Client,
    pub taken: &'a TakenGuids,
    pub baseline: &'a Baseline,
    pub publishing: Publishing<'a>,
}

impl SaberisConnectSource<'_> {
    fn settings(&self) -> &PollerSettings {
        self.publishing.settings
    }

    /// Polls every `poll_interval` (the first time at once) until shutdown.
    pub async fn watch(&self, total: &mut PollReport, shutdown: &Shutdown) -> anyhow::Result<()> {
        let mut shutdown = shutdown.clone();
        let mut ticks = tokio::time::interval(self.settings().saberis_connect.poll_interval.0);
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
        // `Some`: this poll is (the rest of) the installation's first; what it takes of `new`.
        let first = match self.first_poll().await {
            Ok(first) => first,
            Err(e) => {
                report.incomplete = Some(format!(
                    "Redis unavailable, so the record of the first poll can be neither read nor written: {e:#}"
                ));
                return Ok(());
            }
        };
        if first == Some(StartFrom::NewOnly) {
            // Nothing to fetch: every one of them is held back.
            if let Err(e) = self.taken.record_all(&new, &before_bridge_note()).await {
                report.incomplete = Some(format!("Redis failed while recording GUIDs: {e:#}"));
                return Ok(());
            }
            report.before_bridge = new.len();
            self.first_poll_done(report).await;
            return Ok(());
        }

        let poll = Poll {
            source: self,
            failed: Cell::new(0),
            held_back: Cell::new(0),
            incomplete: RefCell::new(None),
        };
        let mut batch = Batch::new(&self.publishing, &poll);
        let mut remaining = new.into_iter();
        // Stop starting documents on shutdown (what is in flight is finished below) or once
        // Redis failed (nothing more could be recorded).
        while poll.incomplete.borrow().is_none() && !shutdown.requested() {
            let Some(guid) = remaining.next() else { break };
            match self.client.document(&guid, self.publishing.reader.limits.max_bytes).await {
                Ok(bytes) => {
                    let held_back = first.as_ref().is_some_and(|rule| {
                        !rule.takes(date_of(self.publishing.reader, &guid, &bytes).as_deref())
                    });
                    if held_back {
                        poll.record(&guid, &before_bridge_note()).await;
                        poll.held_back.set(poll.held_back.get() + 1);
                    } else {
                        batch.offer(guid, Ok(bytes)).await?
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        guid,
                        error = format!("{e:#}"),
                        "cannot fetch the document: left for the next poll"
                    );
                    poll.failed.set(poll.failed.get() + 1);
                }
            }
        }
        let counts = batch.finish().await?;
        report.published += counts.published;
        report.duplicates += counts.duplicates;
        report.rejected += counts.refused;
        report.before_bridge += poll.held_back.get();
        // Documents not started (Redis failed, or shutdown): taken next time.
        let left = poll.failed.get() + remaining.count();
        report.failed += left;
        if let Some(why) = poll.incomplete.take() {
            report.incomplete.get_or_insert(why);
        }
        // The first poll is over once every listed GUID is published or recorded.
        if first.is_some() && left == 0 && report.incomplete.is_none() {
            self.first_poll_done(report).await;
        }
        Ok(())
    }

    /// `None` when the installation's first poll is over; else what this poll takes of the
    /// exports not taken yet (`poller.saberis_connect.start_from`, or after Redis lost its data
    /// under a running poller, those dated from the day before it last found the record).
    async fn first_poll(&self) -> anyhow::Result<Option<StartFrom>> {
        let configured = self.settings().saberis_connect.start_from();
        match self.baseline.state().await? {
            BaselineState::Done => Ok(None),
            BaselineState::Pending => Ok(Some(self.baseline.pending_rule().unwrap_or(configured))),
            BaselineState::Absent => {
                if let Some(seen) = self.baseline.last_seen_done() {
                    let since = backfill::day_of(seen - Duration::from_secs(24 * 3600));
                    tracing::warn!(
                        since,
                        "Redis lost the poller's records (the first poll's record is gone): exports dated \
                         from {since} are taken again (the workers find those already written in Jobber), \
                         older ones are recorded as before the bridge"
                    );
                    let rule = StartFrom::Since(since);
                    self.baseline
                        .begin(&format!("Redis lost its data; taking {rule:?}"), Some(rule.clone()))
                        .await?;
                    return Ok(Some(rule));
                }
                if self.taken.any().await? {
                    // Polling since before first polls held anything back: nothing is old.
                    self.baseline.done("GUIDs were taken before this record existed").await?;
                    tracing::info!("SaberisConnect: GUIDs already taken: not a first connection");
                    return Ok(None);
                }
                self.baseline.begin(&format!("start_from {configured:?}"), None).await?;
                Ok(Some(configured))
            }
        }
    }

    /// Records the first poll as over, and says (once) what it held back.
    async fn first_poll_done(&self, report: &mut PollReport) {
        let held = report.before_bridge;
        if let Err(e) = self.baseline.done(&format!("{held} exports held back as before the bridge")).await {
            // Every GUID is recorded: the next poll finds none to classify, and records it.
            report.incomplete = Some(format!("Redis failed while recording the first poll: {e:#}"));
            return;
        }
        if held > 0 {
            tracing::warn!(
                count = held,
                how = backfill::HOW_TO_TAKE,
                "first SaberisConnect poll: {held} exports listed before the bridge started are held back, \
                 not sent (poller.saberis_connect.start_from); to send some of them: {}",
                backfill::HOW_TO_TAKE
            );
        } else {
            tracing::info!("first SaberisConnect poll: nothing held back");
        }
    }

    /// The backfill: first the installation's first poll if it has not happened, then the
    /// documents before the bridge in the window that [`candidates`] chose, published the same
    /// way as any poll's and recorded as taken.
    pub async fn publish_before_bridge(
        &self,
        chosen: Vec<(String, Vec<u8>)>,
        shutdown: &Shutdown,
    ) -> anyhow::Result<PollReport> {
        let mut report = PollReport { new: chosen.len(), ..PollReport::default() };
        let poll = Poll {
            source: self,
            failed: Cell::new(0),
            held_back: Cell::new(0),
            incomplete: RefCell::new(None),
        };
        let mut batch = Batch::new(&self.publishing, &poll);
        let mut remaining = chosen.into_iter();
        while poll.incomplete.borrow().is_none() && !shutdown.requested() {
            let Some((guid, bytes)) = remaining.next() else { break };
            batch.offer(guid, Ok(bytes)).await?;
        }
        let counts = batch.finish().await?;
        report.published = counts.published;
        report.duplicates = counts.duplicates;
        report.rejected = counts.refused;
        report.failed = poll.failed.get() + remaining.count();
        report.incomplete = poll.incomplete.take();
        Ok(report)
    }
}

/// What a GUID held back by the first poll is recorded as.
fn before_bridge_note() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now());
    format!("{BEFORE_BRIDGE} (listed at the first poll, {now})")
}

/// The document's own date (ISO), if it can be read.
fn date_of(reader: &DocumentReader, guid: &str, bytes: &[u8]) -> Option<String> {
    let origin = Origin::now(SourceKind::SaberisConnect, guid);
    reader.quote_request(bytes, Some(Format::Json), origin, false).ok()?.document.date
}

/// The documents before the bridge that the backfill's window takes, with their bytes: the GUIDs
/// recorded as [`BEFORE_BRIDGE`], and before the first poll (`first_poll_over` false, a dry run)
/// those it would hold back. Every one is fetched (to read its date). `None` when the API or
/// Redis failed (in `report.incomplete`).
pub async fn candidates(
    client: &Client,
    taken: &TakenGuids,
    first_poll_over: bool,
    start_from: &StartFrom,
    reader: &DocumentReader,
    window: &Window,
    report: &mut PollReport,
) -> Option<Vec<(Candidate, (String, Vec<u8>))>> {
    const SOURCE: &str = "saberis-connect";
    let listed = match client.list().await {
        Ok(listed) => listed,
        Err(e) => {
            report.incomplete = Some(format!("cannot list the exports: {e:#}"));
            return None;
        }
    };
    report.listed = listed.len();
    let mut seen = HashSet::new();
    let guids: Vec<String> =
        listed.into_iter().filter_map(Result::ok).filter(|g| seen.insert(g.clone())).collect();
    let outcomes = match taken.outcomes(&guids).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            report.incomplete = Some(format!("Redis unavailable: {e:#}"));
            return None;
        }
    };
    let mut chosen = Vec::new();
    for (guid, outcome) in guids.into_iter().zip(outcomes) {
        let before_first_poll = !first_poll_over && outcome.is_none();
        if !(outcome.as_deref().is_some_and(is_before_bridge) || before_first_poll) {
            continue;
        }
        let bytes = match client.document(&guid, reader.limits.max_bytes).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(guid, error = format!("{e:#}"), "cannot fetch the document: left out");
                report.failed += 1;
                continue;
            }
        };
        let origin = Origin::now(SourceKind::SaberisConnect, &guid);
        let candidate = match reader.quote_request(&bytes, Some(Format::Json), origin, false) {
            Ok(request) => Candidate::of(SOURCE, &guid, &request),
            Err(e) => Candidate::unreadable(SOURCE, &guid, None, &e.reason),
        };
        if before_first_poll && start_from.takes(candidate.date.as_deref()) {
            continue; // the first poll takes it: not before the bridge
        }
        report.before_bridge += 1;
        if window.contains(candidate.date.as_deref()) {
            chosen.push((candidate, (guid, bytes)));
        }
    }
    Some(chosen)
}

/// One poll's documents, as the publishing path sees them: a GUID, finished by recording it as
/// taken.
struct Poll<'s> {
    source: &'s SaberisConnectSource<'s>,
    /// Left for the next poll: could not be kept.
    failed: Cell<usize>,
    /// Recorded as before the bridge by the first poll.
    held_back: Cell<usize>,
    /// Redis failed while recording: no new document is started.
    incomplete: RefCell<Option<String>>,
}

impl DocumentSource for Poll<'_> {
    type Item = String;
    const KIND: SourceKind = SourceKind::SaberisConnect;
    const FORMAT: Option<Format> = Some(Format::Json);

    fn id(&self, guid: &String) -> String {
        guid.clone()
    }

    /// Kept as `rejected/GUID.json` with its reason file. `None` when it could not be kept: then
    /// it is not recorded either, and the next poll tries again (the original is still on
    /// SaberisConnect).
    async fn keep_refused(
        &self,
        guid: &String,
        bytes: Option<&[u8]>,
        error: &DocumentError,
    ) -> anyhow::Result<Option<PathBuf>> {
        let rejected = &self.source.settings().folder.rejected;
        let text = place::reason_text(error, Some(ORIGIN));
        let kept = place::free_target(rejected, &format!("{guid}.json")).and_then(|target| {
            place::write_reason(&target, &text)?;
            place::write_new(&target, bytes.unwrap_or_default())?;
            Ok(target)
        });
        match kept {
            Ok(target) => Ok(Some(target)),
            Err(e) => {
                tracing::error!(guid, error = %e, rejected = %rejected.display(),
                    "cannot keep a refused document: left for the next poll");
                self.failed.set(self.failed.get() + 1);
                Ok(None)
            }
        }
    }

    async fn refused(&self, guid: String, kept_at: &Path) -> anyhow::Result<()> {
        self.record(&guid, &format!("rejected, kept at {}", kept_at.display())).await;
        Ok(())
    }

    async fn published(&self, guid: String, hash: &sj_shared::ids::ContentHash) -> anyhow::Result<()> {
        self.record(&guid, &format!("published {hash}")).await;
        Ok(())
    }

    async fn duplicate(&self, guid: String, first: &str) -> anyhow::Result<()> {
        tracing::info!(guid, first_source = %first, "same content as a document already published: not published again");
        self.record(&guid, &format!("duplicate of {first}")).await;
        Ok(())
    }
}

impl Poll<'_> {
    /// Records a GUID as taken. When Redis fails here, the document is safe (confirmed or kept)
    /// but will be taken again next poll; the poll stops starting new documents, since none
    /// could be recorded either.
    async fn record(&self, guid: &str, outcome: &str) {
        if let Err(e) = self.source.taken.record(guid, outcome).await {
            tracing::error!(guid, error = format!("{e:#}"),
                "could not record the GUID as taken: it will be taken again next poll (harmless: the worker deduplicates)");
            self.incomplete
                .borrow_mut()
                .get_or_insert_with(|| format!("Redis failed while recording GUIDs: {e:#}"));
        }
    }
}
