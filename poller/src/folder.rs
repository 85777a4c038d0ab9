//! The watched folder: Saberis exports arrive in `incoming/`; each complete one is read,
//! published, and moved to `archive/YYYY-MM-DD/` once the broker confirmed it, or to `rejected/`
//! with its reason when it cannot become a quote.
//!
//! A crash at any moment leaves every file either still in `incoming/` (taken again at restart;
//! a second publish is harmless, the worker deduplicates) or in its final place.
//!
//! The first start of an installation (nothing in `archive/` or `rejected/` yet) takes none of the
//! files already in `incoming/` unless `poller.folder.start_from` says so: they move to
//! `poller.folder.before_bridge` ([`first_start`]), where the backfill (`sj-poller --once --since
//! DATE`) finds them. A note there (`README.txt`: what these files are, how to send some) records
//! that the first start happened, on the disk beside the files themselves, so a Redis that lost its
//! data changes nothing here.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use notify::Watcher as _;
use sj_shared::config::{FolderSettings, StartFrom};
use sj_shared::intake::DocumentReader;
use sj_shared::message::{Source as Origin, SourceKind};
use sj_shared::runtime::Shutdown;
use sj_shared::saberis::{DocumentError, Format};

use crate::backfill::{self, Candidate, Window};
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

    /// The backfill: publishes the chosen files (from `poller.folder.before_bridge`) the same
    /// way as any pass, archiving each once confirmed.
    pub async fn publish_chosen(&self, chosen: Vec<PathBuf>) -> anyhow::Result<PassReport> {
        let mut batch = Batch::new(&self.publishing, self);
        for path in chosen {
            let bytes = self.publishing.reader.read_file(&path);
            batch.offer(path, bytes).await?;
        }
        let counts = batch.finish().await?;
        Ok(PassReport {
            published: counts.published,
            duplicates: counts.duplicates,
            rejected: counts.refused,
            waiting: 0,
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

/// The note in `poller.folder.before_bridge` that says what its files are, and that the folder
/// source's first start happened.
pub const FIRST_START_NOTE: &str = "README.txt";

/// Whether the folder source has started before in this installation: the first start's note is
/// there, or the archive or rejected folder holds anything (an installation that ran before
/// first starts held anything back).
pub fn started_before(folder: &FolderSettings) -> bool {
    let holds_anything =
        |dir: &Path| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    folder.before_bridge_dir().join(FIRST_START_NOTE).exists()
        || holds_anything(&folder.archive)
        || holds_anything(&folder.rejected)
}

/// A document file, read for its date and for the backfill's listing.
pub struct Looked {
    pub path: PathBuf,
    pub candidate: Candidate,
}

/// Reads a document file for what the first start and the backfill need to know: its date (the
/// document's own, else the file's modification day), its customer and total.
pub fn look(reader: &DocumentReader, path: &Path) -> Looked {
    const SOURCE: &str = "folder";
    let name = file_name(path);
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok().map(backfill::day_of);
    let read = reader
        .read_file(path)
        .and_then(|bytes| reader.quote_request(&bytes, None, Origin::now(SourceKind::Folder, &name), false));
    let mut candidate = match read {
        Ok(request) => Candidate::of(SOURCE, &name, &request),
        Err(e) => Candidate::unreadable(SOURCE, &name, None, &e.reason),
    };
    if candidate.date.is_none() {
        candidate.date = modified;
    }
    Looked { path: path.to_path_buf(), candidate }
}

/// The document files directly in `dir`, sorted.
fn documents_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", dir.display()))),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if is_document(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// What the first start would hold back of the files in `incoming/` now: those
/// `poller.folder.start_from` does not take. Empty once the folder source started before.
pub fn first_start_plan(folder: &FolderSettings, reader: &DocumentReader) -> anyhow::Result<Vec<Looked>> {
    if started_before(folder) {
        return Ok(Vec::new());
    }
    let rule = folder.start_from();
    if rule == StartFrom::Everything {
        return Ok(Vec::new());
    }
    let mut held = Vec::new();
    for path in documents_in(&folder.incoming)? {
        let looked = match rule {
            // No need to read them: none is taken.
            StartFrom::NewOnly => Looked {
                candidate: Candidate::unreadable("folder", &file_name(&path), None, "not read"),
                path,
            },
            _ => look(reader, &path),
        };
        if !rule.takes(looked.candidate.date.as_deref()) {
            held.push(looked);
        }
    }
    Ok(held)
}

/// The folder source's first start in this installation: the files in `incoming/` that
/// `poller.folder.start_from` does not take move to `poller.folder.before_bridge`, and the note
/// `README.txt` there records it. Nothing happens when the source started before. Returns how
/// many files were held back.
pub fn first_start(folder: &FolderSettings, reader: &DocumentReader) -> anyhow::Result<usize> {
    if started_before(folder) {
        return Ok(0);
    }
    let held = first_start_plan(folder, reader)?;
    let before = folder.before_bridge_dir();
    for looked in &held {
        place::move_into(&looked.path, &before)
            .with_context(|| format!("moving {} into {}", looked.path.display(), before.display()))?;
    }
    let now = humantime::format_rfc3339_seconds(SystemTime::now());
    let note = format!(
        "The Saberis exports in this folder were already waiting in {incoming} when the bridge \
         (sj-poller) first started, {now}:\n\
         they were made before the bridge, and were not sent to Jobber (poller.folder.start_from = {:?}; \
         {} file(s) held back).\n\n\
         To send some of them: {}\n\
         (or put a file back into {incoming}: it is then sent like a new export).\n\n\
         This note also tells the bridge that its first start is done: leave it here.\n",
        folder.start_from,
        held.len(),
        backfill::HOW_TO_TAKE,
        incoming = folder.incoming.display(),
    );
    let note_path = before.join(FIRST_START_NOTE);
    std::fs::create_dir_all(&before)
        .and_then(|()| std::fs::write(&note_path, note))
        .with_context(|| format!("writing {}", note_path.display()))?;
    if held.is_empty() {
        tracing::info!("first start of the folder source: nothing held back");
    } else {
        tracing::warn!(
            count = held.len(),
            moved_to = %before.display(),
            how = backfill::HOW_TO_TAKE,
            "first start of the folder source: {} files already in incoming/ were made before the bridge: \
             moved to {}, not sent (poller.folder.start_from); to send some of them: {}",
            held.len(),
            before.display(),
            backfill::HOW_TO_TAKE
        );
    }
    Ok(held.len())
}

/// The files before the bridge the backfill's window takes: those in
/// `poller.folder.before_bridge`, and in a dry run before the first start those it would move
/// there. Also returns how many files are before the bridge in all.
pub fn candidates(
    folder: &FolderSettings,
    reader: &DocumentReader,
    window: &Window,
) -> anyhow::Result<(Vec<(Candidate, PathBuf)>, usize)> {
    let mut looked: Vec<Looked> =
        documents_in(&folder.before_bridge_dir())?.iter().map(|path| look(reader, path)).collect();
    for planned in first_start_plan(folder, reader)? {
        looked.push(look(reader, &planned.path));
    }
    let total = looked.len();
    let chosen = looked
        .into_iter()
        .filter(|l| window.contains(l.candidate.date.as_deref()))
        .map(|l| (l.candidate, l.path))
        .collect();
    Ok((chosen, total))
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
