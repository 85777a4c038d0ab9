//! Telling the operators of a long outage: when the shared circuit breaker has been open for
//! longer than `alerts.outage_after`, one notice per opening goes to `sj.alerts` (the alerter
//! emails it: "Jobber has been failing for every document for N min"), and, once Jobber answers
//! again, one more. Once among all workers and restarts: the notice is claimed in Redis
//! (`breaker:told`, [`Breaker::claim_notice`]) before it is published, and the claim is given back
//! when the publish is not confirmed, so another look sends it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sj_shared::amqp::Publisher;
use sj_shared::jobber::Breaker;
use sj_shared::message::{JobberOutage, OutageEvent};

/// The opening this process knows is told of (by itself or another worker): no Redis round trip
/// per held document and second once it is.
static TOLD: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Whether an opening since `since_ms` lasts long enough at `now_ms` for a notice.
fn is_long(since_ms: u64, now_ms: u64, outage_after: Duration) -> bool {
    now_ms.saturating_sub(since_ms) >= outage_after.as_millis() as u64
}

/// While the breaker is open since `since_ms` (Unix ms): tells the operators once it has been open
/// for `outage_after`, exactly once per opening among all workers. Called each time a held
/// document looks at the breaker; costs nothing before `outage_after` nor once told.
pub async fn tell_if_long(breaker: &Breaker, publisher: &Publisher, outage_after: Duration, since_ms: u64) {
    let now = now_ms();
    if TOLD.load(Ordering::Relaxed) == since_ms || !is_long(since_ms, now, outage_after) {
        return;
    }
    match breaker.claim_notice(since_ms).await {
        Ok(true) => {}
        Ok(false) => {
            // Told already (another worker, or before a restart), or closed meanwhile.
            TOLD.store(since_ms, Ordering::Relaxed);
            return;
        }
        Err(e) => {
            tracing::debug!(error = %e, "cannot claim the outage notice (Redis); looking again shortly");
            return;
        }
    }
    let notice = JobberOutage::new(OutageEvent::Open, since_ms, now);
    match publish(publisher, &notice).await {
        Ok(()) => {
            TOLD.store(since_ms, Ordering::Relaxed);
            tracing::warn!(
                open_since_ms = since_ms,
                open_for_s = notice.lasted().as_secs(),
                "Jobber has been failing for every document for long: the operators are told (sj.alerts)"
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not publish the outage notice; trying again shortly");
            if let Err(e) = breaker.release_notice(since_ms).await {
                tracing::warn!(error = %e,
                    "could not give back the outage notice's claim (Redis): no notice for this outage");
            }
        }
    }
}

/// After this worker closed the breaker: when the operators were told of the outage, tells them
/// that Jobber answers again (once among all workers).
pub async fn tell_if_back(breaker: &Breaker, publisher: &Publisher) {
    let since_ms = match breaker.claim_back_notice().await {
        Ok(Some(since)) => since,
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the outage notice (Redis): no notice that Jobber is back");
            return;
        }
    };
    let notice = JobberOutage::new(OutageEvent::Closed, since_ms, now_ms());
    match publish(publisher, &notice).await {
        Ok(()) => tracing::info!(
            open_since_ms = since_ms,
            open_for_s = notice.lasted().as_secs(),
            "the operators are told that Jobber answers again (sj.alerts)"
        ),
        Err(e) => tracing::warn!(error = %e, "could not publish the notice that Jobber answers again"),
    }
}

async fn publish(publisher: &Publisher, notice: &JobberOutage) -> Result<(), sj_shared::amqp::AmqpError> {
    publisher.publish_outage_notice(notice).await?.confirmed().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opening_is_long_from_outage_after_on() {
        let after = Duration::from_secs(600);
        assert!(!is_long(1_000_000, 1_000_000 + 599_999, after));
        assert!(is_long(1_000_000, 1_000_000 + 600_000, after));
        // A clock a little behind Redis' (the breaker's time is Redis'): not long, no panic.
        assert!(!is_long(1_000_000, 999_000, after));
    }
}
