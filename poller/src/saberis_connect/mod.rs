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

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sj_shared::config::PollerSettings;
use sj_shared::message::SourceKind;
use sj_shared::runtime::Shutdown;
use sj_shared::saberis::{DocumentError, Format};

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
    pub client: &'a Client,
    pub taken: &'a TakenGuids,
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

        let poll = Poll { source: self, failed: Cell::new(0), incomplete: RefCell::new(None) };
        let mut batch = Batch::new(&self.publishing, &poll);
        let mut remaining = new.into_iter();
        // Stop starting documents on shutdown (what is in flight is finished below) or once
        // Redis failed (nothing more could be recorded).
        while poll.incomplete.borrow().is_none() && !shutdown.requested() {
            let Some(guid) = remaining.next() else { break };
            match self.client.document(&guid, self.publishing.reader.limits.max_bytes).await {
                Ok(bytes) => batch.offer(guid, Ok(bytes)).await?,
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
        // Documents not started (Redis failed, or shutdown): taken next time.
        report.failed += poll.failed.get() + remaining.count();
        if let Some(why) = poll.incomplete.take() {
            report.incomplete.get_or_insert(why);
        }
        Ok(())
    }
}

/// One poll's documents, as the publishing path sees them: a GUID, finished by recording it as
/// taken.
struct Poll<'s> {
    source: &'s SaberisConnectSource<'s>,
    /// Left for the next poll: could not be kept.
    failed: Cell<usize>,
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
