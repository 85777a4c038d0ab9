//! The review queue's durable side in the console's SQLite file: what awaits review, each
//! decision, and the outbox of approved documents (published, then marked sent).

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use sj_shared::message::ReviewItem;

use crate::db::{now, Db, DbResult};

/// One document held for review, as stored.
#[derive(Debug, Clone)]
pub struct Review {
    pub id: i64,
    pub item: ReviewItem,
    pub held_at: i64,
    pub status: Status,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// What the reviewer changed, for people.
    pub changes: Option<String>,
    pub reject_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Approved,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            _ => Status::Waiting,
        }
    }
}

/// One row of the list.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: i64,
    pub source: String,
    pub customer: String,
    pub total: String,
    pub reasons: String,
    pub held_at: i64,
    pub status: Status,
    pub decided_by: Option<String>,
}

/// An approved document waiting to be published (or published and not yet marked).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: i64,
    pub review_id: i64,
    pub body: String,
    pub traceparent: Option<String>,
}

/// Why a decision was not recorded.
#[derive(Debug)]
pub enum DecideError {
    /// Someone decided it already (or there is no such review).
    NotWaiting,
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for DecideError {
    fn from(e: rusqlite::Error) -> Self {
        DecideError::Db(e)
    }
}

/// Keeps a held document (once per content: a redelivered item changes nothing). Returns its id
/// and whether it is new.
pub fn insert(db: &Db, item: &ReviewItem, traceparent: Option<&str>) -> DbResult<(i64, bool)> {
    let conn = db.conn();
    let customer = item.request.customer.name.clone().unwrap_or_default();
    let reasons = item.reasons.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(", ");
    let json = serde_json::to_string(item).expect("a review item serializes");
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO reviews (content_hash, source, customer, total, reasons, item, traceparent, held_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            item.request.content_hash.as_str(),
            item.request.source.id,
            customer,
            item.total.to_string(),
            reasons,
            json,
            traceparent,
            now()
        ],
    )?;
    let id = conn.query_row(
        "SELECT id FROM reviews WHERE content_hash = ?1",
        [item.request.content_hash.as_str()],
        |r| r.get(0),
    )?;
    Ok((id, inserted > 0))
}

/// The latest reviews, newest first (waiting ones and decided ones).
pub fn list(db: &Db, limit: u32) -> DbResult<Vec<Listed>> {
    let conn = db.conn();
    let mut stmt = conn.prepare(
        "SELECT id, source, customer, total, reasons, held_at, status, decided_by FROM reviews
         ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(Listed {
            id: r.get(0)?,
            source: r.get(1)?,
            customer: r.get(2)?,
            total: r.get(3)?,
            reasons: r.get(4)?,
            held_at: r.get(5)?,
            status: Status::parse(&r.get::<_, String>(6)?),
            decided_by: r.get(7)?,
        })
    })?;
    rows.collect()
}

pub fn waiting_count(db: &Db) -> DbResult<i64> {
    db.conn().query_row("SELECT COUNT(*) FROM reviews WHERE status = 'waiting'", [], |r| r.get(0))
}

pub fn get(db: &Db, id: i64) -> DbResult<Option<Review>> {
    let row = db
        .conn()
        .query_row(
            "SELECT id, item, held_at, status, decided_by, decided_at, changes, reject_reason
             FROM reviews WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((id, item, held_at, status, decided_by, decided_at, changes, reject_reason)) = row else {
        return Ok(None);
    };
    let item: ReviewItem = serde_json::from_str(&item).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Some(Review {
        id,
        item,
        held_at,
        status: Status::parse(&status),
        decided_by,
        decided_at,
        changes,
        reject_reason,
    }))
}

/// Records an approval, its audit record and the outbox row of the approved document (`body`:
/// the `sj.quote-request.v1` message with the decision), in one transaction.
pub fn approve(
    db: &Db,
    id: i64,
    by: &str,
    decision_json: &str,
    changes: &str,
    body: &str,
) -> Result<(), DecideError> {
    let mut conn = db.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now();
    let updated = tx.execute(
        "UPDATE reviews SET status = 'approved', decided_by = ?2, decided_at = ?3, decision = ?4, changes = ?5
         WHERE id = ?1 AND status = 'waiting'",
        params![id, by, now, decision_json, changes],
    )?;
    if updated == 0 {
        return Err(DecideError::NotWaiting);
    }
    tx.execute(
        "INSERT INTO review_outbox (review_id, body, created_at) VALUES (?1, ?2, ?3)",
        params![id, body, now],
    )?;
    tx.execute(
        "INSERT INTO audit (at, actor, action, detail) VALUES (?1, ?2, 'review.approve', ?3)",
        params![now, by, format!("review {id}: {changes}")],
    )?;
    tx.commit()?;
    Ok(())
}

/// Records a rejection and its audit record, in one transaction.
pub fn reject(db: &Db, id: i64, by: &str, reason: &str) -> Result<(), DecideError> {
    let mut conn = db.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now();
    let updated = tx.execute(
        "UPDATE reviews SET status = 'rejected', decided_by = ?2, decided_at = ?3, reject_reason = ?4
         WHERE id = ?1 AND status = 'waiting'",
        params![id, by, now, reason],
    )?;
    if updated == 0 {
        return Err(DecideError::NotWaiting);
    }
    tx.execute(
        "INSERT INTO audit (at, actor, action, detail) VALUES (?1, ?2, 'review.reject', ?3)",
        params![now, by, format!("review {id}: {reason}")],
    )?;
    tx.commit()?;
    Ok(())
}

/// Approved documents not yet published (or not yet marked), oldest first.
pub fn unsent(db: &Db) -> DbResult<Vec<Outgoing>> {
    let conn = db.conn();
    let mut stmt = conn.prepare(
        "SELECT o.id, o.review_id, o.body, r.traceparent FROM review_outbox o JOIN reviews r ON r.id = o.review_id
         WHERE o.sent_at IS NULL ORDER BY o.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Outgoing { id: r.get(0)?, review_id: r.get(1)?, body: r.get(2)?, traceparent: r.get(3)? })
    })?;
    rows.collect()
}

pub fn mark_sent(db: &Db, outbox_id: i64) -> DbResult<()> {
    db.conn().execute("UPDATE review_outbox SET sent_at = ?2 WHERE id = ?1", params![outbox_id, now()])?;
    Ok(())
}

/// When the approved document was handed to the workers (`None`: not yet).
pub fn sent_at(db: &Db, review_id: i64) -> DbResult<Option<i64>> {
    db.conn().query_row("SELECT MAX(sent_at) FROM review_outbox WHERE review_id = ?1", [review_id], |r| {
        r.get::<_, Option<i64>>(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> ReviewItem {
        let request = sj_shared::pricing::examples::request_of(Vec::new());
        sj_shared::intake::review_item(
            &request,
            &sj_shared::saberis::DocumentError::new(
                sj_shared::saberis::ErrorKind::Sanity(sj_shared::failure::SanityRule::PriceAboveLimit),
                "unit price 100660.00 (list) is above the limit",
                None,
            ),
        )
        .expect("a mendable refusal")
    }

    #[test]
    fn an_item_is_kept_once_decided_once_and_its_approval_sent_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        let (id, new) = insert(&db, &item(), None).unwrap();
        assert!(new);
        assert_eq!(insert(&db, &item(), None).unwrap(), (id, false), "a redelivery changes nothing");
        assert_eq!(waiting_count(&db).unwrap(), 1);
        approve(&db, id, "maria", "{}", "no changes", "{}").unwrap();
        assert!(matches!(approve(&db, id, "sam", "{}", "", "{}"), Err(DecideError::NotWaiting)));
        assert!(matches!(reject(&db, id, "sam", "no"), Err(DecideError::NotWaiting)));
        let unsent = unsent(&db).unwrap();
        assert_eq!(unsent.len(), 1);
        assert_eq!(sent_at(&db, id).unwrap(), None);
        mark_sent(&db, unsent[0].id).unwrap();
        assert!(super::unsent(&db).unwrap().is_empty());
        assert!(sent_at(&db, id).unwrap().is_some());
        let review = get(&db, id).unwrap().unwrap();
        assert_eq!((review.status, review.decided_by.as_deref()), (Status::Approved, Some("maria")));
        assert_eq!(db.recent_audit(1).unwrap()[0].2, "review.approve");
    }
}
