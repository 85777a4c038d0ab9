//! The crosswalk (content hash → the Jobber quote written for it), the only record the worker
//! needs to skip a document it already wrote, and the attempt record (content hash → when a write
//! of it was first attempted), written before every Jobber write: a document with an attempt
//! record and no crosswalk may be in Jobber already, and is looked up there first. Jobber stays
//! the truth: when Redis lost these records, the worker looks the quote's marker up in Jobber
//! before writing (see [`super::epoch`]).

use deadpool_redis::Pool;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{Keys, StoreError};
use crate::ids::{ClientId, ContentHash, JobId, LineItemId, QuoteId};

/// How long an attempt record is kept: longer than any document stays in the retry tiers or the
/// dead letters before it is replayed.
pub const ATTEMPT_KEPT: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);

/// What the bridge wrote to Jobber for one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRecord {
    pub quote_id: QuoteId,
    pub quote_number: String,
    pub client_id: ClientId,
    /// True when found in Jobber by its marker rather than written by this attempt.
    #[serde(default)]
    pub found_by_marker: bool,
    /// True when the document's lines were added to an existing quote (PO routing) rather than
    /// a quote created for it; `line_item_ids` are those lines.
    #[serde(default)]
    pub added_to_existing: bool,
    #[serde(default)]
    pub line_item_ids: Vec<LineItemId>,
    /// The file name or GUID the document came from.
    #[serde(default)]
    pub source: String,
    /// The Jobber job the document's lines went to (PO routing to a job, `quote.po_job_pattern`):
    /// `quote_id` and `quote_number` are then empty, `added_to_existing` is true and
    /// `line_item_ids` are the job's lines the bridge added. None (every record before jobs): a
    /// quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<RecordedJob>,
    /// Lines of the quote's template (`msrp-discount`, `package`) that the bridge filled in
    /// rather than added, each with the values it had before: `sjctl undo` puts them back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filled_lines: Vec<FilledLine>,
    /// The customer total the bridge priced the document at (`2911.85`), when it wrote it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub total: String,
}

/// A template line the bridge filled in, as it was before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledLine {
    pub id: LineItemId,
    pub description: String,
    pub quantity: rust_decimal::Decimal,
    pub unit_price: rust_decimal::Decimal,
    pub unit_cost: Option<rust_decimal::Decimal>,
}

/// The job of a [`QuoteRecord`] whose lines went to a job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedJob {
    pub id: JobId,
    /// As people see it (`Job.jobNumber`).
    pub job_number: String,
}

impl QuoteRecord {
    /// What the document went to, as an operator reads it: `quote #12` or `job #7`.
    pub fn target(&self) -> String {
        match &self.job {
            Some(job) => format!("job #{}", job.job_number),
            None => format!("quote #{}", self.quote_number),
        }
    }
}

#[derive(Clone)]
pub struct Crosswalk {
    pool: Pool,
    keys: Keys,
}

impl Crosswalk {
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self { pool, keys }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub async fn get(&self, content_hash: &ContentHash) -> Result<Option<QuoteRecord>, StoreError> {
        let mut conn = self.pool.get().await?;
        let json: Option<String> = conn.get(self.keys.key("quote", content_hash.as_str())).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Records what was written, and the source's latest document (for `sjctl undo --file`).
    pub async fn record(&self, content_hash: &ContentHash, record: &QuoteRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let json = serde_json::to_string(record).expect("a record serializes");
        let mut pipe = redis::pipe();
        pipe.atomic().set(self.keys.key("quote", content_hash.as_str()), json);
        if !record.source.is_empty() {
            pipe.set(self.keys.key("source", &record.source), content_hash.as_str());
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// When a write of the document was first attempted (Unix seconds), if ever.
    pub async fn attempted(&self, content_hash: &ContentHash) -> Result<Option<u64>, StoreError> {
        let mut conn = self.pool.get().await?;
        Ok(conn.get(self.keys.key("attempt", content_hash.as_str())).await?)
    }

    /// Records that a write of the document is about to be attempted (the first attempt's time
    /// is kept), for [`ATTEMPT_KEPT`]. Must succeed before the write is sent.
    pub async fn record_attempt(&self, content_hash: &ContentHash, at: u64) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        redis::cmd("SET")
            .arg(self.keys.key("attempt", content_hash.as_str()))
            .arg(at)
            .arg("NX")
            .arg("EX")
            .arg(ATTEMPT_KEPT.as_secs())
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Withdraws the attempt record made at `at` (and only that one: an older attempt's record
    /// stays): the write it announced was refused by Jobber unexecuted, so nothing of it can be
    /// in Jobber, and the next attempt need not look.
    pub async fn withdraw_attempt(&self, content_hash: &ContentHash, at: u64) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        )
        .key(self.keys.key("attempt", content_hash.as_str()))
        .arg(at)
        .invoke_async::<i64>(&mut conn)
        .await?;
        Ok(())
    }

    /// The content hash of the last document from `source` that the bridge wrote.
    pub async fn hash_of_source(&self, source: &str) -> Result<Option<ContentHash>, StoreError> {
        let mut conn = self.pool.get().await?;
        let hash: Option<String> = conn.get(self.keys.key("source", source)).await?;
        Ok(hash.map(ContentHash::new))
    }

    /// Forgets a document's record (after `sjctl undo`): the next delivery writes it anew.
    pub async fn forget(&self, content_hash: &ContentHash, source: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(self.keys.key("quote", content_hash.as_str()))
            .del(self.keys.key("attempt", content_hash.as_str()));
        if !source.is_empty() {
            pipe.del(self.keys.key("source", source));
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_written_before_jobs_still_reads_and_a_job_record_round_trips() {
        let old = r#"{"quote_id":"UQ","quote_number":"12","client_id":"C","added_to_existing":true,
            "line_item_ids":["L1"],"source":"kitchen.xml"}"#;
        let record: QuoteRecord = serde_json::from_str(old).unwrap();
        assert_eq!((record.job.as_ref(), record.target().as_str()), (None, "quote #12"));
        // A quote's record is written as before: no `job` key.
        assert!(!serde_json::to_string(&record).unwrap().contains("job"));
        let job = QuoteRecord {
            job: Some(RecordedJob { id: JobId::new("J1"), job_number: "7".into() }),
            added_to_existing: true,
            line_item_ids: vec![LineItemId::new("L2")],
            ..QuoteRecord::default()
        };
        let back: QuoteRecord = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(back, job);
        assert_eq!(back.target(), "job #7");
    }
}
