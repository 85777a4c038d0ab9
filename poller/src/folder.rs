//! The watched folder: Saberis exports arrive in `incoming/`; each complete one is read,
//! published, and moved to `archive/YYYY-MM-DD/` once the broker confirmed it, or to `rejected/`
//! with its reason when it cannot become a quote.
//!
//! A crash at any moment leaves every file either still in `incoming/` (taken again at restart;
//! a second publish is harmless, the worker deduplicates) or in its final place.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use notify::Watcher as _;
use sj_shared::config::FolderSettings;
use sj_shared::message::SourceKind;
use sj_shared::runtime::Shutdown;
use sj_shared::saberis::{DocumentError, Format};

use crate::place;
use crate::publish::{Batch, DocumentSource, Publishing};

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
    pub publishing: Publishing<'a>,
}

impl DocumentSource for FolderSource<'_> {
    type Item = PathBuf;
    const KIND: SourceKind = SourceKind::Folder;
    const FORMAT: Option<Format> = None;

    fn id(&self, path: &PathBuf) -> String {
        file_name(path)
    }

    /// `rejected/NAME` chosen and `NAME.error.txt` written; the file moves there once the dead
    /// letter was confirmed.
    async fn keep_refused(
        &self,
        path: &PathBuf,
        _bytes: Option<&[u8]>,
        error: &DocumentError,
    ) -> anyhow::Result<Option<PathBuf>> {
        let target = place::free_target(&self.folder().rejected, &file_name(path))?;
        place::write_reason(&target, &place::reason_text(error, None))?;
        Ok(Some(target))
    }

    async fn refused(&self, path: PathBuf, kept_at: &Path) -> anyhow::Result<()> {
        place::move_to(&path, kept_at)?;
        Ok(())
    }

    async fn published(&self, path: PathBuf, _hash: &sj_shared::ids::ContentHash) -> anyhow::Result<()> {
        let archived = place::move_into(&path, &place::dated(&self.folder().archive))?;
        tracing::debug!(file = %file_name(&path), archived = %archived.display(), "archived");
        Ok(())
    }

    async fn duplicate(&self, path: PathBuf, first: &str) -> anyhow::Result<()> {
        let archived = place::move_into(&path, &place::dated(&self.folder().archive))?;
        tracing::info!(file = %file_name(&path), first_source = %first, archived = %archived.display(),
            "same content as a document already published: archived, not published again");
        Ok(())
    }
}

impl FolderSource<'_> {
    fn folder(&self) -> &FolderSettings {
        &self.publishing.settings.folder
    }

    /// One pass: every complete document now in `incoming/`.
    pub async fn pass(&self) -> anyhow::Result<PassReport> {
        let (ready, waiting) = self.scan()?;
        let mut batch = Batch::new(&self.publishing, self);
        for path in ready {
            let bytes = self.publishing.reader.read_file(&path);
            batch.offer(path, bytes).await?;
        }
        let counts = batch.finish().await?;
        Ok(PassReport {
            published: counts.published,
            duplicates: counts.duplicates,
            rejected: counts.refused,
            waiting,
        })
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

/// `--once`: passes until no file is left waiting to settle.
pub async fn drain(source: &FolderSource<'_>, total: &mut PassReport) -> anyhow::Result<()> {
    loop {
        let report = source.pass().await?;
        *total += report;
        if report.waiting == 0 {
            return Ok(());
        }
        tokio::time::sleep(source.folder().settle.0).await;
    }
}

/// Runs a pass whenever the folder changes (inotify), after files settle, and every
/// `rescan_interval` as a safety net; returns on shutdown.
pub async fn watch(
    source: &FolderSource<'_>,
    total: &mut PassReport,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let mut shutdown = shutdown.clone();
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    })
    .context("starting the file watcher")?;
    watcher
        .watch(&source.folder().incoming, notify::RecursiveMode::NonRecursive)
        .context("watching the incoming folder")?;

    let settle = source.folder().settle.0;
    let mut rescan = tokio::time::interval(source.folder().rescan_interval.0);
    loop {
        let report = source.pass().await?;
        *total += report;
        // Files still being written: look again once they could have settled.
        let next_look = if report.waiting > 0 { settle } else { Duration::from_secs(24 * 3600) };
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = rescan.tick() => {}
            _ = tokio::time::sleep(next_look) => {}
            Some(()) = changes.recv() => {
                // Let a burst of events (a copy in progress) pass before looking.
                tokio::time::sleep(settle.min(Duration::from_millis(200))).await;
                while changes.try_recv().is_ok() {}
            }
        }
    }
}
