//! The broker's topology: every exchange and queue of the bridge, their names (with the
//! configured namespace), their arguments, declared idempotently by every process at start and
//! exported as RabbitMQ definitions for operators (`deploy/rabbitmq/definitions.json`).
//!
//! ```text
//! exchange sj.quotes (direct) ──"quote"──▶ sj.quotes (quorum; delivery limit; DLX sj.dead, at-least-once)
//! sj.quotes.retry.<delay> (quorum; message TTL; DLX sj.quotes)  ← workers republish transient failures
//! exchange sj.dead (fanout) ──▶ sj.quotes.dead (parked; no consumer)
//!                           └─▶ sj.alerts (the alerter) ··▶ sj.alerts.undeliverable (mail refused)
//! sj.review (quorum; the console)  ← documents held for a person's approval (`review.when`), by the
//!                                     workers and the poller; approved ones go back to sj.quotes
//! ```
//!
//! Queue arguments rather than policies: a process that declares the topology needs no access
//! to the management API, and the arguments travel with the definitions file. The price is that
//! changing an argument of an existing queue needs the queue deleted first (RabbitMQ refuses a
//! redeclaration with other arguments, which we report as such).

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use serde_json::{json, Value};

use super::AmqpError;

/// The routing key of quote messages on the `sj.quotes` exchange.
pub const QUOTE_ROUTING_KEY: &str = "quote";

/// Names and arguments of the bridge's exchanges and queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    /// Redeliveries after which the broker dead-letters a message (a worker that crashes on it).
    pub delivery_limit: u32,
    /// The retry tiers, shortest first.
    pub retry_delays: Vec<Duration>,
}

impl Topology {
    /// `namespace` prefixes every name (`acme` → `acme.sj.quotes`); empty means no prefix.
    pub fn new(namespace: &str, delivery_limit: u32, retry_delays: Vec<Duration>) -> Self {
        let prefix = if namespace.is_empty() { String::new() } else { format!("{namespace}.") };
        Self { prefix, delivery_limit, retry_delays }
    }

    fn name(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }

    /// The exchange quote messages are published to.
    pub fn quotes_exchange(&self) -> ExchangeName {
        ExchangeName(self.name("sj.quotes"))
    }

    /// The work queue the workers consume.
    pub fn quotes_queue(&self) -> QueueName {
        QueueName(self.name("sj.quotes"))
    }

    /// The retry queue of a delay tier: `sj.quotes.retry.5s`, `sj.quotes.retry.30m`.
    pub fn retry_queue(&self, delay: Duration) -> QueueName {
        QueueName(self.name(&format!("sj.quotes.retry.{}", short_duration(delay))))
    }

    /// The fanout exchange every dead letter goes to.
    pub fn dead_exchange(&self) -> ExchangeName {
        ExchangeName(self.name("sj.dead"))
    }

    /// Where dead letters are parked for inspection and replay.
    pub fn parked_queue(&self) -> QueueName {
        QueueName(self.name("sj.quotes.dead"))
    }

    /// What the alerter consumes.
    pub fn alerts_queue(&self) -> QueueName {
        QueueName(self.name("sj.alerts"))
    }

    /// Alerts the mail server refused for good, parked by the alerter (with the server's answer).
    pub fn undeliverable_alerts_queue(&self) -> QueueName {
        QueueName(self.name("sj.alerts.undeliverable"))
    }

    /// Documents waiting for a person's approval (`review.when`): the console consumes it.
    pub fn review_queue(&self) -> QueueName {
        QueueName(self.name("sj.review"))
    }

    /// Declares everything; safe to run any number of times from any process.
    pub async fn declare(&self, channel: &Channel) -> Result<(), AmqpError> {
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        channel
            .exchange_declare(
                self.dead_exchange().as_str().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await
            .map_err(|e| AmqpError::declare(&self.dead_exchange(), e))?;
        channel
            .exchange_declare(
                self.quotes_exchange().as_str().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await
            .map_err(|e| AmqpError::declare(&self.quotes_exchange(), e))?;
        for (queue, arguments) in self.queues() {
            let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
            channel
                .queue_declare(queue.as_str().into(), options, field_table(&arguments))
                .await
                .map_err(|e| AmqpError::declare(&queue, e))?;
        }
        for (queue, exchange, key) in self.bindings() {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| AmqpError::declare(&queue, e))?;
        }
        Ok(())
    }

    /// Fails unless the dead-letter exchange exists: without it, RabbitMQ silently drops what it
    /// dead-letters, so a consumer must not start.
    pub async fn check_dead_letter_exchange(&self, channel: &Channel) -> Result<(), AmqpError> {
        let passive = ExchangeDeclareOptions { passive: true, ..ExchangeDeclareOptions::default() };
        channel
            .exchange_declare(
                self.dead_exchange().as_str().into(),
                ExchangeKind::Fanout,
                passive,
                FieldTable::default(),
            )
            .await
            .map(|_| ())
            .map_err(|e| AmqpError::MissingDeadLetterExchange {
                exchange: self.dead_exchange().to_string(),
                cause: e,
            })
    }

    /// Every queue with its arguments (as JSON values, for the definitions export too).
    fn queues(&self) -> Vec<(QueueName, Vec<(&'static str, Value)>)> {
        let quorum = ("x-queue-type", json!("quorum"));
        let mut queues = vec![(
            self.quotes_queue(),
            vec![
                quorum.clone(),
                ("x-delivery-limit", json!(self.delivery_limit)),
                ("x-dead-letter-exchange", json!(self.dead_exchange())),
                // At-least-once dead-lettering: the broker keeps a message until the dead-letter
                // queue confirmed it (needs overflow reject-publish).
                ("x-dead-letter-strategy", json!("at-least-once")),
                ("x-overflow", json!("reject-publish")),
            ],
        )];
        for delay in &self.retry_delays {
            queues.push((
                self.retry_queue(*delay),
                vec![
                    quorum.clone(),
                    ("x-message-ttl", json!(delay.as_millis() as u64)),
                    ("x-dead-letter-exchange", json!(self.quotes_exchange())),
                    ("x-dead-letter-routing-key", json!(QUOTE_ROUTING_KEY)),
                    ("x-dead-letter-strategy", json!("at-least-once")),
                    ("x-overflow", json!("reject-publish")),
                ],
            ));
        }
        queues.push((self.parked_queue(), vec![quorum.clone()]));
        queues.push((self.alerts_queue(), vec![quorum.clone()]));
        queues.push((self.undeliverable_alerts_queue(), vec![quorum.clone()]));
        queues.push((self.review_queue(), vec![quorum]));
        queues
    }

    /// (queue, exchange, routing key)
    fn bindings(&self) -> Vec<(QueueName, ExchangeName, &'static str)> {
        vec![
            (self.quotes_queue(), self.quotes_exchange(), QUOTE_ROUTING_KEY),
            (self.parked_queue(), self.dead_exchange(), ""),
            (self.alerts_queue(), self.dead_exchange(), ""),
        ]
    }

    /// The topology as a RabbitMQ definitions document (importable in the management UI or with
    /// `rabbitmqctl import_definitions`), for the default virtual host.
    pub fn definitions(&self) -> Value {
        let exchanges = [(self.quotes_exchange(), "direct"), (self.dead_exchange(), "fanout")]
            .into_iter()
            .map(|(name, kind)| {
                json!({"name": name, "vhost": "/", "type": kind, "durable": true, "auto_delete": false,
                       "internal": false, "arguments": {}})
            })
            .collect::<Vec<_>>();
        let queues = self
            .queues()
            .into_iter()
            .map(|(name, arguments)| {
                let arguments: serde_json::Map<String, Value> =
                    arguments.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                json!({"name": name, "vhost": "/", "durable": true, "auto_delete": false, "arguments": arguments})
            })
            .collect::<Vec<_>>();
        let bindings = self
            .bindings()
            .into_iter()
            .map(|(queue, exchange, key)| {
                json!({"source": exchange, "vhost": "/", "destination": queue, "destination_type": "queue",
                       "routing_key": key, "arguments": {}})
            })
            .collect::<Vec<_>>();
        json!({"exchanges": exchanges, "queues": queues, "bindings": bindings})
    }
}

fn field_table(arguments: &[(&'static str, Value)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in arguments {
        let value = match value {
            Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
            Value::Number(n) => AMQPValue::LongLongInt(n.as_i64().expect("integer arguments")),
            other => unreachable!("no such argument value: {other}"),
        };
        table.insert(ShortString::from(*key), value);
    }
    table
}

/// `5s`, `30s`, `5m`, `30m`, `2h`, or `1500ms`: a retry tier's name, in its queue's name and in
/// the `tier` label of `sj_retries_total`.
pub(crate) fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        _ if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        _ if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(namespace: &str) -> Topology {
        let delays = [5, 30, 300, 1800].map(Duration::from_secs).to_vec();
        Topology::new(namespace, 5, delays)
    }

    #[test]
    fn names_carry_the_namespace() {
        let t = topology("acme");
        assert_eq!(t.quotes_queue(), "acme.sj.quotes");
        assert_eq!(t.retry_queue(Duration::from_secs(300)), "acme.sj.quotes.retry.5m");
        assert_eq!(t.dead_exchange(), "acme.sj.dead");
        assert_eq!(topology("").parked_queue(), "sj.quotes.dead");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(Duration::from_secs(5)), "5s");
        assert_eq!(short_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(short_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(short_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn the_exported_definitions_are_up_to_date() {
        // deploy/rabbitmq/definitions.json is generated from the code; regenerate it with
        // SJ_UPDATE_DEFINITIONS=1 cargo test -p sj-shared definitions
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rabbitmq/definitions.json");
        let defaults = crate::config::AmqpSettings::default().topology("");
        let expected = serde_json::to_string_pretty(&defaults.definitions()).unwrap() + "\n";
        if std::env::var_os("SJ_UPDATE_DEFINITIONS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(actual, expected, "run SJ_UPDATE_DEFINITIONS=1 cargo test -p sj-shared definitions");
    }
}

macro_rules! broker_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&$name> for lapin::types::ShortString {
            fn from(name: &$name) -> Self {
                name.0.as_str().into()
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

broker_name!(
    /// A queue of this installation, with its namespace: only a [`Topology`] makes one, so a
    /// process consumes or inspects its own queues and no other.
    QueueName
);
broker_name!(
    /// An exchange of this installation, with its namespace (made by a [`Topology`]).
    ExchangeName
);
