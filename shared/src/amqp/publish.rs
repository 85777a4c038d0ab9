//! Publishing with publisher confirms: every message persistent and mandatory, many in flight at
//! once, each confirmation checked (an unroutable message is "acked" by the broker too: only the
//! returned message tells it apart).

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use lapin::{Confirmation, PublisherConfirm};

use super::{header, AmqpError, Topology, QUOTE_ROUTING_KEY};
use crate::message::{DeadLetter, JobberOutage, QuoteRequest, ReviewItem, SCHEMA};

/// AMQP delivery mode 2: written to disk.
const PERSISTENT: u8 = 2;

/// A channel in confirm mode that publishes the bridge's messages.
pub struct Publisher {
    channel: Channel,
    topology: Topology,
}

/// A message the broker has not confirmed yet. Await it before acting on the publish (moving
/// the source file, acking a delivery).
#[must_use = "a publish is only safe once confirmed"]
pub struct PendingConfirm(PublisherConfirm);

impl PendingConfirm {
    /// Waits for the broker's answer: Ok only when it took responsibility for the message.
    pub async fn confirmed(self) -> Result<(), AmqpError> {
        match self.0.await? {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(AmqpError::Unroutable {
                reply_code: returned.reply_code,
                reply_text: returned.reply_text.to_string(),
            }),
            Confirmation::Nack(_) => Err(AmqpError::Nacked),
            Confirmation::NotRequested => unreachable!("the publisher's channel is in confirm mode"),
        }
    }
}

impl Publisher {
    /// Opens a channel in confirm mode on `connection`.
    pub async fn open(connection: &Connection, topology: Topology) -> Result<Self, AmqpError> {
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(Self { channel, topology })
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes a quote message to `sj.quotes`; `message_id` is the content hash.
    pub async fn publish_quote(&self, request: &QuoteRequest) -> Result<PendingConfirm, AmqpError> {
        let body = serde_json::to_vec(request).expect("a message serializes");
        let mut table = FieldTable::default();
        table.insert(header::SOURCE.into(), text(&request.source.id));
        table.insert(header::REPLAY_COUNT.into(), AMQPValue::LongLongInt(0));
        table.insert(header::TRACEPARENT.into(), text(&document_traceparent(request.content_hash.as_str())));
        table.insert(header::FIRST_SEEN.into(), now_ms());
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(request.content_hash.as_str()))
            .with_content_type("application/json".into())
            .with_type(SCHEMA.into())
            .with_delivery_mode(PERSISTENT)
            .with_headers(table);
        self.publish(&self.topology.quotes_exchange(), QUOTE_ROUTING_KEY, &body, properties).await
    }

    /// Publishes a document held for review to `sj.review` (through the default exchange);
    /// `message_id` is the content hash, `sj-review-reasons` the rules that hold it.
    pub async fn publish_review(&self, item: &ReviewItem) -> Result<PendingConfirm, AmqpError> {
        let body = serde_json::to_vec(item).expect("a review item serializes");
        let reasons: Vec<&str> = item.reasons.iter().map(|r| r.rule.as_str()).collect();
        let mut table = FieldTable::default();
        table.insert(header::SOURCE.into(), text(&item.request.source.id));
        table.insert(header::REVIEW_REASONS.into(), text(&reasons.join(", ")));
        table.insert(header::REVIEW_TOTAL.into(), text(&item.total.to_string()));
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(item.request.content_hash.as_str()))
            .with_content_type("application/json".into())
            .with_type(ReviewItem::SCHEMA.into())
            .with_delivery_mode(PERSISTENT)
            .with_headers(table);
        self.publish("", &self.topology.review_queue(), &body, properties).await
    }

    /// Publishes an approved document back to `sj.quotes`: the same `sj.quote-request.v1`
    /// message with the reviewer's decision, its `message_id` the content hash as before.
    /// `traceparent` continues the document's trace when known.
    pub async fn publish_approved(
        &self,
        request: &QuoteRequest,
        traceparent: Option<&str>,
    ) -> Result<PendingConfirm, AmqpError> {
        let body = serde_json::to_vec(request).expect("a message serializes");
        let mut table = FieldTable::default();
        table.insert(header::SOURCE.into(), text(&request.source.id));
        table.insert(header::REPLAY_COUNT.into(), AMQPValue::LongLongInt(0));
        let traceparent =
            traceparent.map(str::to_owned).unwrap_or_else(|| new_traceparent(request.content_hash.as_str()));
        table.insert(header::TRACEPARENT.into(), text(&traceparent));
        table.insert(header::FIRST_SEEN.into(), now_ms());
        if let Some(decision) = &request.decision {
            table.insert(header::APPROVED_BY.into(), text(&decision.approved_by));
        }
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(request.content_hash.as_str()))
            .with_content_type("application/json".into())
            .with_type(SCHEMA.into())
            .with_delivery_mode(PERSISTENT)
            .with_headers(table);
        self.publish(&self.topology.quotes_exchange(), QUOTE_ROUTING_KEY, &body, properties).await
    }

    /// Publishes a rejected document's record to the dead-letter exchange (so the alerter hears
    /// of it and an operator sees it beside the other dead letters).
    pub async fn publish_dead_letter(&self, letter: &DeadLetter) -> Result<PendingConfirm, AmqpError> {
        let body = serde_json::to_vec(letter).expect("a dead letter serializes");
        let mut table = FieldTable::default();
        table.insert(header::SOURCE.into(), text(&letter.source.id));
        table.insert(header::ERROR_KIND.into(), text(letter.kind.name()));
        table.insert(
            header::ERROR.into(),
            text(letter.problems.first().map(String::as_str).unwrap_or_default()),
        );
        table.insert(header::ATTEMPTS.into(), AMQPValue::LongLongInt(1));
        table.insert(header::FIRST_FAILURE.into(), text(&letter.failed_at));
        table.insert(header::TRACEPARENT.into(), text(&document_traceparent(&letter.source.id)));
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_type(DeadLetter::SCHEMA.into())
            .with_delivery_mode(PERSISTENT)
            .with_headers(table);
        self.publish(&self.topology.dead_exchange(), "", &body, properties).await
    }

    /// Publishes a notice of a Jobber outage straight to `sj.alerts` (through the default
    /// exchange: it is no dead letter, nothing to replay), marked `sj-alert: jobber-outage`.
    pub async fn publish_outage_notice(&self, notice: &JobberOutage) -> Result<PendingConfirm, AmqpError> {
        let body = serde_json::to_vec(notice).expect("a notice serializes");
        let mut table = FieldTable::default();
        table.insert(header::ALERT.into(), text(JobberOutage::ALERT));
        let event = match notice.event {
            crate::message::OutageEvent::Open => "open",
            crate::message::OutageEvent::Closed => "closed",
        };
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(format!("jobber-outage:{}:{event}", notice.since_ms)))
            .with_content_type("application/json".into())
            .with_type(JobberOutage::SCHEMA.into())
            .with_delivery_mode(PERSISTENT)
            .with_headers(table);
        self.publish("", &self.topology.alerts_queue(), &body, properties).await
    }

    /// Publishes a delivery again, as it was, with `headers` set on top of its own: to a retry
    /// tier (default exchange, routing key = the tier's queue) or to the dead-letter exchange.
    pub async fn republish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: &BasicProperties,
        headers: &[(&str, AMQPValue)],
    ) -> Result<PendingConfirm, AmqpError> {
        let mut table = properties.headers().clone().unwrap_or_default();
        for (name, value) in headers {
            table.insert((*name).into(), value.clone());
        }
        let properties = properties.clone().with_headers(table).with_delivery_mode(PERSISTENT);
        self.publish(exchange, routing_key, body, properties).await
    }

    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<PendingConfirm, AmqpError> {
        let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
        let confirm = self
            .channel
            .basic_publish(exchange.into(), routing_key.into(), options, body, properties)
            .await?;
        Ok(PendingConfirm(confirm))
    }
}

/// The `traceparent` of the document being published: the current span's (the poller's span for
/// that document) when spans are exported, so the exported span is the one the header names; else
/// a new one, as [`new_traceparent`]. Its trace id goes in the span's `trace_id` field, if it has
/// one, so the poller's log lines name the trace as the worker's do.
fn document_traceparent(seed: &str) -> String {
    let span = tracing::Span::current();
    let traceparent = crate::telemetry::traceparent(&span).unwrap_or_else(|| new_traceparent(seed));
    span.record("trace_id", trace_id(&traceparent).unwrap_or("none"));
    traceparent
}

/// A W3C `traceparent` starting a new trace for one document: the poller is where its journey
/// begins; every later step (worker attempts, retries, the dead letter) carries it on.
pub fn new_traceparent(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let digest = Sha256::new()
        .chain_update(seed)
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("00-{}-{}-01", &hex[..32], &hex[32..48])
}

/// The trace id of a `traceparent` header, if well-formed.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("00"), Some(trace), Some(span), Some(_)) if trace.len() == 32 && span.len() == 16 => {
            Some(trace)
        }
        _ => None,
    }
}

/// A text header value.
pub fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// A time header value: now, in Unix milliseconds (`sj-first-seen`, `sj-parked-at`).
pub fn now_ms() -> AMQPValue {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    AMQPValue::LongLongInt(ms)
}

/// Reading the bridge's headers back from a delivery.
pub mod headers {
    use lapin::types::{AMQPValue, FieldTable};

    /// A text header, if present.
    pub fn text(table: &Option<FieldTable>, name: &str) -> Option<String> {
        match table.as_ref()?.inner().get(name)? {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
            _ => None,
        }
    }

    /// An integer header, if present.
    pub fn integer(table: &Option<FieldTable>, name: &str) -> Option<i64> {
        match table.as_ref()?.inner().get(name)? {
            AMQPValue::LongLongInt(n) => Some(*n),
            AMQPValue::LongInt(n) => Some(i64::from(*n)),
            AMQPValue::ShortInt(n) => Some(i64::from(*n)),
            AMQPValue::LongUInt(n) => Some(i64::from(*n)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_w3c_and_new_each_time() {
        let a = new_traceparent("sha256:ab");
        let b = new_traceparent("sha256:ab");
        assert_ne!(a, b);
        assert_eq!(a.len(), 55);
        assert!(a.starts_with("00-") && a.ends_with("-01"));
        assert_eq!(trace_id(&a), Some(&a[3..35]));
        assert_eq!(trace_id("garbage"), None);
    }
}
