//! The documents a worker parked: one record per copy of a document that went to the dead
//! letters, keyed by its content hash, replay count and the time it was parked before (the
//! `sj-parked-at` a message moved back from the dead letters carries; 0 for one never parked).
//!
//! A document can come twice: a publish the poller could not see confirmed (the broker crashed
//! under it) is sent again, and a worker killed, or a broker restarted, between a dead letter's
//! confirm and the delivery's ack brings the delivery back. For a valid document the marker makes
//! the second copy harmless. For one that must be parked, this record does: the worker claims the
//! parking before it publishes the dead letter, marks it parked once the broker confirmed it, and
//! a later copy finding it parked is acked without a second dead letter (so one alert too). A
//! replayed document (`sj-replay-count` one higher) or one moved back from the dead letters by
//! hand (its `sj-parked-at`) is a new attempt: it may be parked again.
//!
//! The claim is a lease: a worker killed between its claim and its publish lets go when the lease
//! ends, and another copy parks the document then. What still doubles a dead letter: the worker
//! killed between the broker's confirm and the `parked` mark (milliseconds), or Redis unreachable
//! when the copy arrives (the worker parks without the check: a duplicate rather than a loss).

use std::time::Duration;

use deadpool_redis::Pool;
use redis::AsyncCommands;

use super::{Keys, StoreError};

/// How long a parked record is kept (beyond that a copy is parked again).
const KEEP_SECONDS: u64 = 30 * 24 * 3600;
const PARKING: &str = "parking";
const PARKED: &str = "parked";

/// Which attempt of a document a message is: its `sj-replay-count`, and its `sj-parked-at` when
/// it was parked before and moved back by hand (0 otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParkedCopy {
    pub replays: i64,
    pub parked_before: i64,
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody parked this copy or is parking it: the caller parks it, then calls
    /// [`ParkedDocuments::parked`] (or [`ParkedDocuments::release`] when the publish failed).
    Ours,
    /// Parked already (the broker confirmed the dead letter): ack this copy, publish nothing.
    Parked,
    /// Another worker is parking it now: try again shortly.
    Parking,
}

#[derive(Clone)]
pub struct ParkedDocuments {
    pool: Pool,
    keys: Keys,
}

impl ParkedDocuments {
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self { pool, keys }
    }

    fn key(&self, content_hash: &str, copy: &ParkedCopy) -> String {
        self.keys.key("parked", &format!("{content_hash}:{}:{}", copy.replays, copy.parked_before))
    }

    /// Claims the parking of this copy for `lease`.
    pub async fn claim(
        &self,
        content_hash: &str,
        copy: &ParkedCopy,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let key = self.key(content_hash, copy);
        let mut conn = self.pool.get().await?;
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(lease.as_millis().max(1) as u64));
        let set: Option<String> = conn.set_options(&key, PARKING, options).await?;
        if set.is_some() {
            return Ok(Claim::Ours);
        }
        let found: Option<String> = conn.get(&key).await?;
        Ok(match found.as_deref() {
            Some(PARKED) => Claim::Parked,
            // Another's claim, or one that ended between the two commands: try again shortly.
            _ => Claim::Parking,
        })
    }

    /// Records that the broker confirmed this copy's dead letter.
    pub async fn parked(&self, content_hash: &str, copy: &ParkedCopy) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        conn.set_ex::<_, _, ()>(self.key(content_hash, copy), PARKED, KEEP_SECONDS).await?;
        Ok(())
    }

    /// Forgets every parked record of a document (`sjctl dlq purge`): the same content exported
    /// again is a new document, to be parked again if it fails again.
    pub async fn forget(&self, content_hash: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let pattern = self.keys.key("parked", &format!("{content_hash}:*"));
        let keys: Vec<String> = {
            let mut found = Vec::new();
            let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await?;
            while let Some(key) = iter.next_item().await {
                found.push(key?);
            }
            found
        };
        if !keys.is_empty() {
            conn.del::<_, ()>(keys).await?;
        }
        Ok(())
    }

    /// Lets go of a claim whose dead letter was not published.
    pub async fn release(&self, content_hash: &str, copy: &ParkedCopy) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        conn.del::<_, ()>(self.key(content_hash, copy)).await?;
        Ok(())
    }
}
