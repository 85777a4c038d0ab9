//! The watched folder: Saberis exports arrive in `incoming/`; each complete one is read,
//! published, and moved to `archive/YYYY-MM-DD/` once the broker confirmed it, or to `rejected/`
//! with its reason when it cannot become a quote.
//!
//! A crash at any moment leaves every file either still in `incoming/` (taken again at restart;
//! a second publish is harmless, the worker deduplicates) or in its final place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use futures_util::stream::{FuturesUnordered, StreamExt};
use sj_shared::amqp::Publisher;
use sj_shared::config::{FolderSettings, PollerSettings};
use sj_shared::intake::DocumentReader;
use sj_shared::message::{DeadLetter, Source, SourceKind};
use sj_shared::saberis::DocumentError;
use sj_shared::store::{History, Outcome, PublishedDocuments};
use tracing::Instrument as _;

use crate::{document_span, place};

/// What one pass over the folder did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Published and confirmed.
    pub published: usize,
    /// Same content as a document already published: archived without a second message.
    pub duplicates: usize,
    /// Refused (parse error or sanity rule): moved to `rejected/` and dead-lettered.
    pub rejected: usize,
    /// Still being written (changed within the settle time): left for the next pass.
    pub waiting: usize,
}

impl std::ops::AddAssign for PassReport {
    fn add_assign(&mut self, other: Self) {
        self.published += other.published;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.waiting = other.waiting;
    }
}

pub struct FolderSource<'a> {
    pub settings: &'a PollerSettings,
    pub reader: &'a DocumentReader,
    pub publisher: &'a Publisher,
    pub published: Option<&'a PublishedDocuments>,
    pub history: Option<&'a History>,
}

/// A document read and normalized, waiting for the broker's confirmation.
struct InFlight {
    path: PathBuf,
    hash: String,
    source_id: String,
    /// The document's span: its trace is the one the message's `traceparent` names.
    span: tracing::Span,
}

impl FolderSource<'_> {
    fn folder(&self) -> &FolderSettings {
        &self.settings.folder
    }

    /// One pass: every complete document now in `incoming/`.
    pub async fn pass(&self) -> anyhow::Result<PassReport> {
        let (ready, waiting) = self.scan()?;
        let mut report = PassReport { waiting, ..PassReport::default() };
        let mut in_flight = FuturesUnordered::new();
        // Documents of the same content in this pass wait for the first one's confirmation.
        let mut same_content: HashMap<String, Vec<PathBuf>> = HashMap::new();

        for path in ready {
            let name = file_name(&path);
            let span = document_span(&name);
            let request = span.in_scope(|| {
                let bytes = self.reader.read_file(&path);
                bytes.and_then(|bytes| {
                    let source = Source::now(SourceKind::Folder, &name);
                    self.reader.quote_request(&bytes, None, source, true).map_err(|e| e.in_file(&name))
                })
            });
            let request = match request {
                Ok(request) => request,
                Err(error) => {
                    self.reject(&path, &name, &error).instrument(span).await?;
                    report.rejected += 1;
                    continue;
                }
            };
            if let Some(others) = same_content.get_mut(&request.content_hash) {
                others.push(path);
                continue;
            }
            if let Some(first) = self.already_published(&request.content_hash).instrument(span.clone()).await
            {
                let archived = place::move_into(&path, &place::dated(&self.folder().archive))?;
                span.in_scope(|| {
                    tracing::info!(file = %name, first_source = %first, archived = %archived.display(),
                    "same content as a document already published: archived, not published again")
                });
                report.duplicates += 1;
                continue;
            }
            let pending = self
                .publisher
                .publish_quote(&request)
                .instrument(span.clone())
                .await
                .context("publishing to RabbitMQ")?;
            same_content.insert(request.content_hash.clone(), Vec::new());
            let item = InFlight { path, hash: request.content_hash, source_id: name, span };
            in_flight.push(async move { (item, pending.confirmed().await) });
            if in_flight.len() >= self.settings.max_in_flight {
                let (item, confirmed) = in_flight.next().await.expect("not empty");
                let span = item.span.clone();
                self.finish(item, confirmed, &mut same_content, &mut report).instrument(span).await?;
            }
        }
        while let Some((item, confirmed)) = in_flight.next().await {
            let span = item.span.clone();
            self.finish(item, confirmed, &mut same_content, &mut report).instrument(span).await?;
        }
        Ok(report)
    }

    /// After the broker's answer: record the hash, archive the file and its same-content twins.
    async fn finish(
        &self,
        item: InFlight,
        confirmed: Result<(), sj_shared::amqp::AmqpError>,
        same_content: &mut HashMap<String, Vec<PathBuf>>,
        report: &mut PassReport,
    ) -> anyhow::Result<()> {
        confirmed.with_context(|| format!("the broker did not confirm {}", item.source_id))?;
        if let Some(published) = self.published {
            if let Err(e) = published.record(&item.hash, &item.source_id).await {
                // Only costs a second message for a later re-export; the worker deduplicates.
                tracing::warn!(file = %item.source_id, error = %e, "could not record the published hash in Redis");
            }
        }
        let archive = place::dated(&self.folder().archive);
        let archived = place::move_into(&item.path, &archive)?;
        tracing::info!(file = %item.source_id, hash = %item.hash, archived = %archived.display(), "published");
        report.published += 1;
        for twin in same_content.remove(&item.hash).unwrap_or_default() {
            place::move_into(&twin, &archive)?;
            tracing::info!(file = %file_name(&twin), first_source = %item.source_id,
                "same content as a document published in this pass: archived, not published again");
            report.duplicates += 1;
        }
        Ok(())
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

    /// Writes the reason file, dead-letters a record (so the alert fires), then moves the file.
    async fn reject(&self, path: &Path, name: &str, error: &DocumentError) -> anyhow::Result<()> {
        // The place is chosen first, so the reason file and the dead letter name where it will be.
        let target = place::free_target(&self.folder().rejected, name)?;
        let reason_file = place::write_reason(&target, &place::reason_text(error, None))?;
        let letter =
            DeadLetter::rejected(Source::now(SourceKind::Folder, name), target.display().to_string(), error);
        self.publisher
            .publish_dead_letter(&letter)
            .await
            .context("publishing a dead letter")?
            .confirmed()
            .await
            .context("the broker did not confirm a dead letter")?;
        place::move_to(path, &target)?;
        if let Some(history) = self.history {
            history.record(Outcome::Rejected, name, None, Some((&letter.kind, &error.reason))).await;
        }
        tracing::warn!(file = %name, error = %error, moved = %target.display(), reason = %reason_file.display(),
            "document refused");
        Ok(())
    }

    /// Files ready to take (unchanged for the settle time) and how many are still changing.
    fn scan(&self) -> anyhow::Result<(Vec<PathBuf>, usize)> {
        let incoming = &self.folder().incoming;
        let entries =
            std::fs::read_dir(incoming).with_context(|| format!("reading {}", incoming.display()))?;
        let settle = self.folder().settle.0;
        let now = SystemTime::now();
        let (mut ready, mut waiting) = (Vec::new(), 0);
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if !is_document(&path) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or(Duration::ZERO);
            if age >= settle {
                ready.push(path);
            } else {
                waiting += 1;
            }
        }
        ready.sort();
        Ok((ready, waiting))
    }
}

/// `*.xml` and `*.json` (any case), not hidden, not a partial download.
fn is_document(path: &Path) -> bool {
    let name = file_name(path);
    let extension = path.extension().map(|e| e.to_ascii_lowercase());
    !name.starts_with('.') && matches!(extension.as_deref().and_then(|e| e.to_str()), Some("xml" | "json"))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
