//! Before a document is taken in hand: room in Jobber's budget.
//!
//! Jobber allows 2,500 requests per 300 s per account and a cost bucket of 10,000 points
//! restoring at 500/s, both shared by every worker through Redis ([`CostBudget`]). When either is
//! spent, a worker holds the delivery it was given and waits for room, holding no lock (no intent
//! lease, no customer lease), rather than start the document, have its request refused by the
//! budget and send it through the retry tiers: a backlog larger than one window would exhaust the
//! tiers (the 2,000-document fault run parked 338 valid documents as `jobber.throttled` that way),
//! and every bounce costs requests of its own. The delivery stays unacked meanwhile, well inside
//! RabbitMQ's delivery timeout (30 min by default), and returns to the queue if the worker stops.

use std::time::Duration;

use sj_shared::jobber::CostBudget;
use sj_shared::observe;
use sj_shared::runtime::Shutdown;

/// How much later than the room is due a waiting worker looks again, at most (a quarter of the
/// wait, for short ones): spreads the workers that all waited for the same instant.
const SPREAD_MS: u64 = 1_000;
/// A waiting worker looks again at least this often (an operator may also clear the count).
const LOOK_AGAIN: Duration = Duration::from_secs(5);
/// A wait at least this long is logged (the bucket's short refills are not).
const TOLD: Duration = Duration::from_secs(10);

/// Waits until Jobber's budget has room for a request. `false`: shutdown came first (the delivery is
/// returned, untouched). Redis unreachable means no pacing: the document goes, and Jobber's own
/// answers still apply.
pub async fn wait_for_room(budget: &CostBudget, shutdown: &Shutdown) -> bool {
    let mut shutdown = shutdown.clone();
    let mut waiting: Option<WaitingGauge> = None;
    let mut told = false;
    loop {
        let wait = match budget.room().await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::debug!(error = %e, "Jobber budget unavailable (Redis): not pacing");
                return true;
            }
        };
        if wait.is_zero() {
            if told {
                tracing::info!("Jobber's budget has room again: taking the document");
            }
            return true;
        }
        if waiting.is_none() {
            waiting = Some(WaitingGauge::new());
        }
        if !told && wait >= TOLD {
            tracing::info!(wait = %humantime::format_duration(Duration::from_secs(wait.as_secs().max(1))),
                "Jobber's budget is spent (2,500 requests per 300 s, or the cost points): holding the \
                 document, no lock taken, until it has room");
            told = true;
        }
        let spread = Duration::from_millis(fastrand::u64(..SPREAD_MS.min(wait.as_millis() as u64 / 4 + 50)));
        tokio::select! {
            _ = tokio::time::sleep(wait.min(LOOK_AGAIN) + spread) => {}
            _ = shutdown.wait() => return false,
        }
    }
}

/// `sj_documents_waiting_for_budget` counts this wait while it lasts.
struct WaitingGauge;

impl WaitingGauge {
    fn new() -> Self {
        observe::metrics().documents_waiting_for_budget.inc();
        Self
    }
}

impl Drop for WaitingGauge {
    fn drop(&mut self) {
        observe::metrics().documents_waiting_for_budget.dec();
    }
}
