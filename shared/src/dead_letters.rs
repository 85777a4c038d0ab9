//! The parked dead letters (`sj.quotes.dead`) as an operator handles them: list, replay, purge.
//! One implementation for `sjctl dlq` and the console's Parked page, so both follow the same
//! rules on the same queue (and the RabbitMQ UI's "Move messages" stays a third way in).
//!
//! The parked queue is read without consuming: every message is fetched unacknowledged (so the
//! broker does not hand the same one twice), looked at, and given back (`nack` with requeue,
//! [`give_back`]) unless it is replayed or purged. A replayed message is published back to
//! `sj.quotes` with its replay counter (`sj-replay-count`) one higher and its attempts reset, and
//! the parked copy is removed only once the broker confirmed the new one. A purged quote message
//! is removed, and Redis forgets its content hash (published documents, parked records), so a
//! later export of the same order is a new document.

use std::time::SystemTime;

use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use serde::Serialize;

use crate::amqp::{self, header, headers, AmqpError, Publisher, Topology, QUOTE_ROUTING_KEY};
use crate::failure::KindName;
use crate::ids::ContentHash;
use crate::message::{DeadLetter, QuoteRequest};
use crate::store::{History, Outcome, ParkedDocuments, PublishedDocuments, StoreError};

/// What went wrong handling a dead letter.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("reading {queue} (is the topology declared? run a worker once): {cause}")]
    Read { queue: String, cause: lapin::Error },
    #[error("{0}")]
    Amqp(#[from] AmqpError),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm the replay of {id}: {cause}")]
    NotConfirmed { id: String, cause: AmqpError },
    #[error("{document} was refused by the poller ({kind}): nothing to replay. {hint}")]
    NotReplayable { document: String, kind: String, hint: String },
}

/// One parked dead letter, as an operator sees it.
#[derive(Debug, Serialize)]
pub struct Parked {
    /// The id `sjctl dlq` and the console show: see [`amqp::parked_id`].
    pub id: String,
    /// `quote-request` (a worker gave up: replayable) or `rejected-document` (the poller refused
    /// the file: fix the file instead).
    pub what: &'static str,
    pub source: String,
    pub customer: Option<String>,
    pub kind: KindName,
    pub reason: String,
    pub attempts: i64,
    pub replays: i64,
    pub first_failure: Option<String>,
    pub age_seconds: Option<u64>,
    /// The quote message itself, when it is one and readable.
    #[serde(skip)]
    pub request: Option<QuoteRequest>,
    #[serde(skip)]
    pub message: BasicGetMessage,
}

pub const QUOTE_REQUEST: &str = "quote-request";
pub const REJECTED_DOCUMENT: &str = "rejected-document";

impl Parked {
    /// A worker's quote message (replayable), not a refused file's record.
    pub fn is_replayable(&self) -> bool {
        self.what == QUOTE_REQUEST
    }

    /// The message's headers as JSON (the reason, the broker's `x-death`…).
    pub fn headers_json(&self) -> serde_json::Value {
        let props = &self.message.delivery.properties;
        serde_json::Value::Object(
            props
                .headers()
                .as_ref()
                .map(|t| t.inner().iter().map(|(k, v)| (k.to_string(), amqp_json(v))).collect())
                .unwrap_or_default(),
        )
    }

    /// The body as JSON, or as text when it is not JSON.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.message.delivery.data).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.message.delivery.data).into_owned())
        })
    }

    /// The message's content hash (its message id), for a quote message.
    pub fn content_hash(&self) -> Option<ContentHash> {
        self.message.delivery.properties.message_id().as_ref().map(|id| ContentHash::new(id.as_str()))
    }
}

/// Every message of the parked queue, held unacknowledged on `channel` until replayed, purged
/// or given back ([`give_back`]). Keep `channel` open meanwhile: closing it (dropping its last
/// handle) gives them all back at once, and a replay would then leave the parked copy in place.
pub async fn fetch_all(
    channel: &lapin::Channel,
    topology: &Topology,
) -> Result<Vec<Parked>, DeadLetterError> {
    let queue = topology.parked_queue();
    let mut parked = Vec::new();
    loop {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .map_err(|cause| DeadLetterError::Read { queue: queue.to_string(), cause })?;
        let Some(message) = got else { break };
        parked.push(describe(message));
    }
    Ok(parked)
}

fn describe(message: BasicGetMessage) -> Parked {
    let props = &message.delivery.properties;
    let h = props.headers();
    let kind = props.kind().as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default();
    let id = amqp::parked_id(props, &message.delivery.data);
    let (what, request) = if kind == DeadLetter::SCHEMA {
        (REJECTED_DOCUMENT, None)
    } else {
        (QUOTE_REQUEST, QuoteRequest::from_json(&message.delivery.data).ok())
    };
    let customer = request.as_ref().and_then(|r| {
        r.customer.name.clone().or_else(|| r.shipping.street1.clone().map(|s| format!("(no name) {s}")))
    });
    let first_failure = headers::text(h, header::FIRST_FAILURE);
    let age_seconds = first_failure
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs());
    Parked {
        id,
        what,
        source: headers::text(h, header::SOURCE).unwrap_or_default(),
        customer,
        kind: KindName::parse(
            &headers::text(h, header::ERROR_KIND)
                .or_else(|| amqp::broker_death(h).map(|(reason, _)| format!("broker.{reason}")))
                .unwrap_or_else(|| "(unknown)".to_owned()),
        ),
        reason: headers::text(h, header::ERROR).unwrap_or_default(),
        attempts: headers::integer(h, header::ATTEMPTS).unwrap_or(0),
        replays: headers::integer(h, header::REPLAY_COUNT).unwrap_or(0),
        first_failure,
        age_seconds,
        request,
        message,
    }
}

/// The parked documents the ids name; each id must match exactly one (prefixes allowed).
pub fn select<'a>(parked: &'a [Parked], ids: &[String]) -> Result<Vec<&'a Parked>, String> {
    let mut found = Vec::new();
    for id in ids {
        let matches: Vec<&Parked> = parked.iter().filter(|p| p.id.starts_with(id.as_str())).collect();
        match matches.as_slice() {
            [one] => found.push(*one),
            [] => return Err(format!("no parked document with id {id} (see sjctl dlq list)")),
            _ => return Err(format!("id {id} matches {} parked documents: give more of it", matches.len())),
        }
    }
    Ok(found)
}

/// Sends a parked quote message back to `sj.quotes` (replay count one higher, attempts reset),
/// then, once the broker confirmed it, removes the parked copy and records the replay in the
/// history. A refused file's record is [`DeadLetterError::NotReplayable`].
pub async fn replay(
    publisher: &Publisher,
    topology: &Topology,
    history: Option<&History>,
    p: &Parked,
) -> Result<(), DeadLetterError> {
    if !p.is_replayable() {
        return Err(DeadLetterError::NotReplayable {
            document: p.source.clone(),
            kind: p.kind.to_string(),
            hint: p.kind.hint().to_owned(),
        });
    }
    let props = &p.message.delivery.properties;
    let replays = headers::integer(props.headers(), header::REPLAY_COUNT).unwrap_or(0) + 1;
    let added = [
        (header::REPLAY_COUNT, AMQPValue::LongLongInt(replays)),
        // A fresh start through the retry tiers.
        (header::ATTEMPTS, AMQPValue::LongLongInt(0)),
    ];
    publisher
        .republish(&topology.quotes_exchange(), QUOTE_ROUTING_KEY, &p.message.delivery.data, props, &added)
        .await?
        .confirmed()
        .await
        .map_err(|cause| DeadLetterError::NotConfirmed { id: p.id.clone(), cause })?;
    // Only now: the parked copy goes.
    p.message.delivery.acker.ack(BasicAckOptions::default()).await?;
    if let Some(history) = history {
        history.record(Outcome::Replayed, &p.source, None, None).await;
    }
    Ok(())
}

/// Redis' records of documents, which a purge makes forget the purged one.
pub struct Forget {
    pub published: PublishedDocuments,
    pub parked: ParkedDocuments,
}

/// Deletes a parked message for good. For a quote message, Redis then forgets its content hash:
/// the poller would otherwise take a later export of the same order for one it already sent (and
/// archive it without a message), and the workers would take it for a copy of this parked one.
/// `Ok(Some(error))`: purged, but Redis did not forget (a re-export would be skipped).
pub async fn purge(forget: Option<&Forget>, p: &Parked) -> Result<Option<StoreError>, DeadLetterError> {
    p.message.delivery.acker.ack(BasicAckOptions::default()).await?;
    if let (Some(forget), Some(hash), true) = (forget, p.content_hash(), p.is_replayable()) {
        let forgotten = match forget.published.forget(&hash).await {
            Ok(()) => forget.parked.forget(hash.as_str()).await,
            Err(e) => Err(e),
        };
        return Ok(forgotten.err());
    }
    Ok(None)
}

/// Returns every message still held to the parked queue (an ack or nack twice is a no-op).
pub async fn give_back(parked: &[Parked]) {
    for p in parked {
        let _ = p
            .message
            .delivery
            .acker
            .nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() })
            .await;
    }
}

fn amqp_json(value: &AMQPValue) -> serde_json::Value {
    match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned().into(),
        AMQPValue::ShortString(s) => s.as_str().into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::Boolean(b) => (*b).into(),
        AMQPValue::Timestamp(t) => (*t).into(),
        AMQPValue::FieldTable(t) => {
            serde_json::Value::Object(t.inner().iter().map(|(k, v)| (k.to_string(), amqp_json(v))).collect())
        }
        AMQPValue::FieldArray(a) => serde_json::Value::Array(a.as_slice().iter().map(amqp_json).collect()),
        other => format!("{other:?}").into(),
    }
}
