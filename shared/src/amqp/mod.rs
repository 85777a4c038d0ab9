//! RabbitMQ: the topology, connecting, and publishing with publisher confirms.

mod parked;
mod publish;
mod session;
mod topology;

use std::time::Duration;

pub use parked::{broker_death, parked_id};
pub use publish::{headers, new_traceparent, now_ms, text, trace_id, PendingConfirm, Publisher};
pub use session::Session;
pub use topology::{ExchangeName, QueueName, Topology, QUOTE_ROUTING_KEY};

/// A retry tier's name (`5s`, `30m`), as in its queue's name.
pub fn tier_name(delay: Duration) -> String {
    topology::short_duration(delay)
}

use crate::config::AmqpSettings;

/// Header names the bridge sets on its messages (its own, since RabbitMQ ≥ 3.13 ignores `x-`
/// headers sent by clients).
pub mod header {
    /// W3C trace context: one trace per document, from the poller through every attempt.
    pub const TRACEPARENT: &str = "traceparent";
    /// Where the document came from (file name or SaberisConnect GUID).
    pub const SOURCE: &str = "sj-source";
    /// How many times an operator replayed the message from the dead letters.
    pub const REPLAY_COUNT: &str = "sj-replay-count";
    /// Why a message was dead-lettered: the error kind (`parse.invalid-value`, `jobber.user-error`…).
    pub const ERROR_KIND: &str = "sj-error-kind";
    /// The one-line reason.
    pub const ERROR: &str = "sj-error";
    /// How many attempts were made.
    pub const ATTEMPTS: &str = "sj-attempts";
    /// How many of those attempts sent (or may have sent) the document's write to Jobber: a retry
    /// none of whose attempts got that far needs no marker look-up. Absent on a message an older
    /// bridge routed: then every attempt counts as one that may have written.
    pub const WRITE_ATTEMPTS: &str = "sj-write-attempts";
    /// How many times the worker held the document back because the installation's shared Jobber
    /// budget said wait (nothing sent); these are not counted in `sj-attempts`.
    pub const DEFERRALS: &str = "sj-deferrals";
    /// When it first failed (RFC 3339).
    pub const FIRST_FAILURE: &str = "sj-first-failure";
    /// When a worker parked the message (Unix milliseconds), set on the dead letter. A message
    /// moved back from the dead letters as it is (the RabbitMQ UI's "move messages") carries it,
    /// which tells it from a second copy of the document: it is a new attempt, parked again if it
    /// fails again.
    pub const PARKED_AT: &str = "sj-parked-at";
    /// When the poller published the document (Unix milliseconds): the start of
    /// `sj_document_latency_seconds`. Kept through retries and replays.
    pub const FIRST_SEEN: &str = "sj-first-seen";
    /// On a message of `sj.alerts` that is a notice rather than a dead letter: what it tells of
    /// (`jobber-outage`: [`crate::message::JobberOutage`]).
    pub const ALERT: &str = "sj-alert";
    /// On a message of `sj.review`: the `review.when` rules that hold the document (`always, sanity`).
    pub const REVIEW_REASONS: &str = "sj-review-reasons";
    /// On a message of `sj.review`: the customer total the dealer's rules give (`2733.20`).
    pub const REVIEW_TOTAL: &str = "sj-review-total";
    /// On an approved document sent back to `sj.quotes`: who approved it in the console.
    pub const APPROVED_BY: &str = "sj-approved-by";
}

/// What went wrong talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    // The cause is in the message and not a `source`: printed with its chain (`{:#}`), the
    // reason would otherwise appear twice or three times.
    #[error("cannot connect to RabbitMQ at {endpoint}: {cause}")]
    Connect { endpoint: String, cause: lapin::Error },
    #[error("cannot declare {name} (if its arguments changed, delete it first): {cause}")]
    Declare { name: String, cause: lapin::Error },
    #[error("the dead-letter exchange {exchange} does not exist: refusing to consume, since RabbitMQ would silently drop dead letters ({cause})")]
    MissingDeadLetterExchange { exchange: String, cause: lapin::Error },
    #[error("the broker returned the message as unroutable ({reply_code} {reply_text}): is the topology declared?")]
    Unroutable { reply_code: u16, reply_text: String },
    #[error("the broker refused the message (nack): the queue may be full")]
    Nacked,
    #[error("RabbitMQ: {0}")]
    Channel(#[from] lapin::Error),
}

impl AmqpError {
    fn declare(name: &str, source: lapin::Error) -> Self {
        AmqpError::Declare { name: name.to_owned(), cause: source }
    }
}

impl AmqpSettings {
    /// The topology these settings describe, under `namespace`.
    pub fn topology(&self, namespace: &str) -> Topology {
        Topology::new(namespace, self.delivery_limit, self.retry_delays.iter().map(|d| d.0).collect())
    }
}

/// Starts consuming `queue` on a channel of its own: manual acks, at most `prefetch`
/// unacknowledged deliveries (per consumer: quorum queues refuse a global prefetch). Returns the
/// channel, the consumer and its tag (`<program>-<pid>`, to cancel it at shutdown).
pub async fn consume(
    connection: &lapin::Connection,
    queue: &QueueName,
    prefetch: u16,
    program: &str,
) -> Result<(lapin::Channel, lapin::Consumer, String), AmqpError> {
    let channel = connection.create_channel().await?;
    channel.basic_qos(prefetch, lapin::options::BasicQosOptions::default()).await?;
    let tag = format!("{program}-{}", std::process::id());
    let consumer = channel
        .basic_consume(
            queue.into(),
            tag.as_str().into(),
            lapin::options::BasicConsumeOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer, tag))
}

/// Connects, retrying with backoff for up to `settings.connect_timeout` (a broker that is still
/// starting, or restarting, is the common case in containers).
pub async fn connect(settings: &AmqpSettings) -> Result<lapin::Connection, AmqpError> {
    let endpoint = settings.endpoint();
    let deadline = tokio::time::Instant::now() + settings.connect_timeout.0;
    let mut delay = Duration::from_millis(100);
    let readiness = crate::observe::readiness();
    readiness.not_ready(crate::observe::BROKER, format!("connecting to RabbitMQ at {endpoint}"));
    loop {
        match lapin::Connection::connect(settings.url.expose(), lapin::ConnectionProperties::default()).await
        {
            Ok(connection) => {
                // Ready while this connection lives (until the next connect replaces the check).
                let status = connection.status().clone();
                let lost = format!("lost the connection to RabbitMQ at {endpoint}");
                readiness.ready_while(crate::observe::BROKER, move || {
                    if status.connected() {
                        Ok(())
                    } else {
                        Err(lost.clone())
                    }
                });
                return Ok(connection);
            }
            // A certificate or the credentials refused: waiting cannot help.
            Err(cause) if cannot_improve(&cause) => return Err(not_connected(endpoint, cause)),
            Err(e) if tokio::time::Instant::now() + delay < deadline => {
                readiness.not_ready(
                    crate::observe::BROKER,
                    format!("cannot connect to RabbitMQ at {endpoint}: {e}"),
                );
                tracing::warn!(%endpoint, error = %e, retry_in_ms = delay.as_millis() as u64, "RabbitMQ not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(cause) => return Err(not_connected(endpoint, cause)),
        }
    }
}

/// The connection error, also the reason `/readyz` gives.
fn not_connected(endpoint: String, cause: lapin::Error) -> AmqpError {
    let error = AmqpError::Connect { endpoint, cause };
    crate::observe::readiness().not_ready(crate::observe::BROKER, error.to_string());
    error
}

/// A connection error no retry can mend: the server's certificate is refused (untrusted, expired,
/// for another name) or the broker refused the credentials.
fn cannot_improve(error: &lapin::Error) -> bool {
    let text = error.to_string();
    text.contains("invalid peer certificate") || text.contains("ACCESS_REFUSED")
}
