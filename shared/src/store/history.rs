//! What became of each document, as a capped Redis stream (`<ns>:sj:history`) every process
//! appends to: quotes created, documents already in Jobber, retries, dead letters, refusals,
//! replays. `sjctl history` and `sjctl status` read it; it survives restarts of the processes
//! (and of Redis, when Redis persists).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_redis::Pool;
use serde::{Deserialize, Serialize};

use super::{Keys, QuoteRecord, StoreError};

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
    /// Held for a person's approval in the console (`review.when`): nothing written yet.
    ForReview,
    /// A reviewer approved it in the console (who, and what they changed, in the reason); the
    /// worker writes it next.
    Approved,
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
            Self::ForReview => "for-review",
            Self::Approved => "approved",
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
            Self::ForReview,
            Self::Approved,
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
    /// The quote number, when the document went to a quote.
    pub quote: Option<String>,
    /// The job number, when its lines went to a job (PO routing to a job). Entries written
    /// before jobs have none (and a job's entries then had no quote, or an empty one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
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

    /// Appends one step, with what the document went to (`written`: its quote or job) when
    /// known. History is for people: a failure to record is logged, never fatal.
    pub async fn record(
        &self,
        outcome: Outcome,
        source: &str,
        written: Option<&QuoteRecord>,
        failure: Option<(&str, &str)>,
    ) {
        let result: Result<(), StoreError> = async {
            let mut conn = self.pool.get().await?;
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&self.key).arg("MAXLEN").arg("~").arg(MAX_ENTRIES).arg("*");
            cmd.arg("outcome").arg(outcome.as_str()).arg("source").arg(source);
            if let Some((field, number)) = written.and_then(target_field) {
                cmd.arg(field).arg(number);
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
                    quote: field("quote").filter(|q| !q.is_empty()),
                    job: field("job").filter(|j| !j.is_empty()),
                    kind: field("kind"),
                    reason: field("reason"),
                })
            })
            .collect())
    }
}

/// The stream field naming what a record went to: `("job", "7")` or `("quote", "12")`; none for
/// a record of neither (an empty quote number).
fn target_field(record: &QuoteRecord) -> Option<(&'static str, String)> {
    match &record.job {
        Some(job) => Some(("job", job.job_number.clone())),
        None if record.quote_number.is_empty() => None,
        None => Some(("quote", record.quote_number.clone())),
    }
}

impl HistoryEntry {
    /// What the document went to, as an operator reads it: `quote #12`, `job #7`, or none.
    pub fn target(&self) -> Option<String> {
        match (&self.job, &self.quote) {
            (Some(job), _) => Some(format!("job #{job}")),
            (None, Some(quote)) => Some(format!("quote #{quote}")),
            (None, None) => None,
        }
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
    /// Held for review, and approved in the console.
    pub for_review: usize,
    pub approved: usize,
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
                Outcome::ForReview => totals.for_review += 1,
                Outcome::Approved => totals.approved += 1,
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordedJob;

    fn entry(quote: Option<&str>, job: Option<&str>) -> HistoryEntry {
        HistoryEntry {
            at_ms: 0,
            outcome: Outcome::Updated,
            source: "kitchen.xml".to_owned(),
            quote: quote.map(str::to_owned),
            job: job.map(str::to_owned),
            kind: None,
            reason: None,
        }
    }

    #[test]
    fn a_record_is_stored_as_its_quote_or_its_job() {
        let quote = QuoteRecord { quote_number: "12".to_owned(), ..QuoteRecord::default() };
        assert_eq!(target_field(&quote), Some(("quote", "12".to_owned())));
        let job = QuoteRecord {
            job: Some(RecordedJob { job_number: "7".to_owned(), ..RecordedJob::default() }),
            ..QuoteRecord::default()
        };
        assert_eq!(target_field(&job), Some(("job", "7".to_owned())));
        assert_eq!(target_field(&QuoteRecord::default()), None);
    }

    #[test]
    fn entries_name_what_they_went_to_and_old_ones_still_read() {
        assert_eq!(entry(Some("12"), None).target().as_deref(), Some("quote #12"));
        assert_eq!(entry(None, Some("7")).target().as_deref(), Some("job #7"));
        assert_eq!(entry(None, None).target(), None);
        // JSON of an entry written before jobs: no `job` field.
        let old: HistoryEntry = serde_json::from_str(
            r#"{"at_ms":1,"outcome":"created","source":"a.xml","quote":"3","kind":null,"reason":null}"#,
        )
        .unwrap();
        assert_eq!((old.job.as_deref(), old.target().as_deref()), (None, Some("quote #3")));
        // A quote's entry serializes as before.
        let json = serde_json::to_value(entry(Some("12"), None)).unwrap();
        assert!(json.get("job").is_none(), "{json}");
    }
}
