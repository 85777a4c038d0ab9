//! Health and metrics of the long-running processes (docs/operations.md, "Health and metrics"):
//! `/healthz` (alive), `/readyz` (connected and, for a consumer, consuming; 503 with the reasons
//! otherwise) and `/metrics` (Prometheus text format), served on `health.listen`.
//!
//! - [`metrics`](fn@metrics): the process's metrics (one registry), incremented where things
//!   happen;
//! - [`readiness`](fn@readiness): the conditions `/readyz` reports, set where connections come up
//!   and go down;
//! - [`serve`]: the HTTP server, started once at the start of a process.

pub mod metrics;
mod readiness;
mod server;

use std::sync::OnceLock;

pub use metrics::Metrics;
pub use readiness::Readiness;
pub use server::{on_scrape, read_address, router, serve};

/// The readiness condition of a connection to RabbitMQ.
pub const BROKER: &str = "broker";
/// The readiness condition of a consumer on the process's queue.
pub const CONSUMING: &str = "consuming";

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    metrics::global()
}

/// The process's readiness.
pub fn readiness() -> &'static Readiness {
    static READINESS: OnceLock<Readiness> = OnceLock::new();
    READINESS.get_or_init(Readiness::default)
}

/// This process consumes `queue` on `channel` from now until the guard is dropped (readiness,
/// while the channel is open, and `sj_consuming`). Hold it for as long as the consumer runs.
#[must_use = "the process consumes until the guard is dropped"]
pub fn consuming(queue: &str, channel: &lapin::Channel) -> Consuming {
    let status = channel.status().clone();
    let closed = format!("the channel consuming {queue} closed");
    readiness().ready_while(CONSUMING, move || if status.connected() { Ok(()) } else { Err(closed.clone()) });
    metrics().set_consuming(queue, true);
    Consuming { queue: queue.to_owned() }
}

/// This process does not consume `queue`, for `reason`.
pub fn not_consuming(queue: &str, reason: impl Into<String>) {
    readiness().not_ready(CONSUMING, reason);
    metrics().set_consuming(queue, false);
}

/// See [`consuming`]: dropped, the process no longer consumes.
pub struct Consuming {
    queue: String,
}

impl Drop for Consuming {
    fn drop(&mut self) {
        not_consuming(&self.queue, format!("no consumer on {} (reconnecting or stopping)", self.queue));
    }
}
