//! What became of each document, as a capped Redis stream (`<ns>:sj:history`) every process
//! appends to: quotes created, documents already in Jobber, retries, dead letters, refusals,
//! replays. `sjctl history` and `sjctl status` read it; it survives restarts of the processes
//! (and of Redis, when Redis persists).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_redis::Pool;
use serde::{Deserialize, Serialize};

use super::{Keys, StoreError};

/// The stream keeps about this many entries (older ones are trimmed).
const MAX_ENTRIES: usize = 100_000;

/// What happened to a document at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A worker created its quote.
    Created,
    /// A worker added its lines to an existing quote (PO routing).
    Updated,
    /// A worker found it already in Jobber (crosswalk or marker): nothing written.
    Unchanged,
    /// A transient failure: it waits in a retry tier.
    Retried,
    /// A worker gave up on it (permanent failure or retries exhausted): parked.
    Parked,
    /// The poller refused the file (parse error, sanity rule).
    Rejected,
    /// An operator sent it back from the dead letters.
    Replayed,
    /// An operator removed what the bridge wrote for it (`sjctl undo`).
    Undone,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Retried => "retried",
            Self::Parked => "parked",
            Self::Rejected => "rejected",
            Self::Replayed => "replayed",
            Self::Undone => "undone",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Created,
            Self::Updated,
            Self::Unchanged,
            Self::Retried,
            Self::Parked,
            Self::Rejected,
            Self::Replayed,
            Self::Undone,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// One step of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Milliseconds since the epoch (from the stream id).
    pub at_ms: u64,
    pub outcome: Outcome,
    /// The file name or GUID.
    pub source: String,
    /// The quote number, when one is known.
    pub quote: Option<String>,
    /// The error kind and reason, for failures.
    pub kind: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone)]
pub struct History {
    pool: Pool,
    key: String,
}

impl History {
    pub fn new(pool: Pool, keys: &Keys) -> Self {
        Self { pool, key: keys.key("history", "documents") }
    }

    /// Appends one step. History is for people: a failure to record is logged, never fatal.
    pub async fn record(
        &self,
        outcome: Outcome,
        source: &str,
        quote: Option<&str>,
        failure: Option<(&str, &str)>,
    ) {
        let result: Result<(), StoreError> = async {
            let mut conn = self.pool.get().await?;
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&self.key).arg("MAXLEN").arg("~").arg(MAX_ENTRIES).arg("*");
            cmd.arg("outcome").arg(outcome.as_str()).arg("source").arg(source);
            if let Some(quote) = quote {
                cmd.arg("quote").arg(quote);
            }
            if let Some((kind, reason)) = failure {
                cmd.arg("kind").arg(kind).arg("reason").arg(reason);
            }
            let _: String = cmd.query_async(&mut conn).await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, %source, outcome = outcome.as_str(), "could not record the history");
        }
    }

    /// Every step since `since` ago, oldest first.
    pub async fn since(&self, since: Duration) -> Result<Vec<HistoryEntry>, StoreError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let start = now.saturating_sub(since).as_millis() as u64;
        let mut conn = self.pool.get().await?;
        let raw: Vec<(String, Vec<(String, String)>)> =
            redis::cmd("XRANGE").arg(&self.key).arg(start).arg("+").query_async(&mut conn).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(id, fields)| {
                let at_ms = id.split('-').next()?.parse().ok()?;
                let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                Some(HistoryEntry {
                    at_ms,
                    outcome: Outcome::parse(&field("outcome")?)?,
                    source: field("source").unwrap_or_default(),
                    quote: field("quote"),
                    kind: field("kind"),
                    reason: field("reason"),
                })
            })
            .collect())
    }
}

/// The totals of a stretch of history, counted per step: `{created, updated, unchanged, parked,
/// errors}` (updated: lines added to an existing quote by PO routing; parked:
/// given up by a worker or refused by the poller; errors: transient failures, each retry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub parked: usize,
    pub errors: usize,
    pub replayed: usize,
    pub undone: usize,
}

impl Totals {
    pub fn of(entries: &[HistoryEntry]) -> Self {
        let mut totals = Totals::default();
        for entry in entries {
            match entry.outcome {
                Outcome::Created => totals.created += 1,
                Outcome::Updated => totals.updated += 1,
                Outcome::Undone => totals.undone += 1,
                Outcome::Unchanged => totals.unchanged += 1,
                Outcome::Parked | Outcome::Rejected => totals.parked += 1,
                Outcome::Retried => totals.errors += 1,
                Outcome::Replayed => totals.replayed += 1,
            }
        }
        totals
    }
}
