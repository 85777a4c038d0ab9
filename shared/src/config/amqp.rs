//! `[amqp]`: RabbitMQ.

use serde::{Deserialize, Serialize};

use super::{secs, HumanDuration, SecretUrl};

/// `[amqp]`: RabbitMQ.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:port/vhost` (`amqps://` for TLS; `%2f` is the default vhost
    /// `/`). It holds the broker's password: set it with `SJ_AMQP__URL`. Logs show only host and
    /// vhost, `--check-config` shows `amqp://guest:***@…` (a [`SecretUrl`]).
    #[serde(skip_serializing)]
    pub url: SecretUrl,
    /// Redeliveries after which the broker dead-letters a message that keeps failing (crashing) a
    /// worker.
    pub delivery_limit: u32,
    /// The retry tiers, shortest first, one queue each: a transient failure waits in the next
    /// tier's queue.
    pub retry_delays: Vec<HumanDuration>,
    /// Unacknowledged deliveries per worker consumer.
    pub prefetch: u16,
    /// How long a process keeps trying to reach the broker at start.
    pub connect_timeout: HumanDuration,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: SecretUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f").expect("a valid URL"),
            delivery_limit: 5,
            retry_delays: vec![secs(5), secs(30), secs(300), secs(1800)],
            prefetch: 10,
            connect_timeout: secs(30),
        }
    }
}

impl AmqpSettings {
    /// `host:port/vhost` of the URL, without credentials: safe to print.
    pub fn endpoint(&self) -> String {
        self.url.endpoint()
    }

    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if !self.url.has_scheme(&["amqp", "amqps"]) {
            problems.push(format!("amqp.url: must start with amqp:// or amqps:// (found {})", self.url));
        }
        if self.retry_delays.is_empty() {
            problems.push("amqp.retry_delays: at least one retry tier is needed".to_owned());
        }
        if self.retry_delays.windows(2).any(|w| w[0].0 >= w[1].0) {
            problems.push("amqp.retry_delays: the tiers must grow, shortest first".to_owned());
        }
        if self.prefetch == 0 {
            problems.push("amqp.prefetch: must be at least 1".to_owned());
        }
    }
}
