//! Before a document is taken in hand: room in Jobber's request window.
//!
//! Jobber allows 2,500 requests per 300 s per account, shared by every worker through Redis
//! ([`CostBudget`]). When a window is spent, a worker holds the delivery it was given and waits
//! for the next window, holding no lock (no intent lease, no customer lease), rather than start
//! the document, have its first request refused and send it through the retry tiers, which a
//! backlog larger than one window would exhaust (the 2,000-document fault run parked 338 valid
//! documents as `jobber.throttled` that way). The delivery stays unacked meanwhile: well inside
//! RabbitMQ's delivery timeout (30 min by default), and back in the queue if the worker stops.

use std::time::Duration;

use sj_shared::jobber::CostBudget;
use sj_shared::observe;
use sj_shared::runtime::Shutdown;

/// How much later than the window's start a waiting worker looks again, at most: spreads the
/// workers that all waited for the same instant.
const SPREAD_MS: u64 = 1_000;
/// A waiting worker looks again at least this often (an operator may also clear the count).
const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// Waits until Jobber's request window has room. `false`: shutdown came first (the delivery is
/// returned, untouched). Redis unreachable means no pacing: the document goes, and Jobber's own
/// answers still apply.
pub async fn wait_for_window(budget: &CostBudget, shutdown: &Shutdown) -> bool {
    let mut shutdown = shutdown.clone();
    let mut waiting: Option<WaitingGauge> = None;
    loop {
        let wait = match budget.window_room().await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::debug!(error = %e, "Jobber budget unavailable (Redis): not pacing");
                return true;
            }
        };
        if wait.is_zero() {
            if waiting.is_some() {
                tracing::info!("Jobber's request window has room again: taking the document");
            }
            return true;
        }
        if waiting.is_none() {
            tracing::info!(wait = %humantime::format_duration(Duration::from_secs(wait.as_secs().max(1))),
                "Jobber's request window is spent (2,500 requests per 300 s): holding the document, no lock \
                 taken, until the next window");
            waiting = Some(WaitingGauge::new());
        }
        let spread = Duration::from_millis(fastrand::u64(..SPREAD_MS));
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
