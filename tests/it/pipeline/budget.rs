//! The shared Jobber budget (cost bucket and request count) against the real Redis.

use std::time::Duration;

use sj_shared::config::RedisSettings;
use sj_shared::jobber::CostBudget;
use sj_shared::store::{self, Keys};

use super::Namespace;

fn budget(ns: &Namespace) -> CostBudget {
    CostBudget::new(store::pool(&RedisSettings::default()).unwrap(), &Keys::new(&ns.name))
}

#[tokio::test]
async fn a_low_bucket_makes_every_process_wait_for_the_refill() {
    let ns = Namespace::new("budget-low").await;
    let (a, b) = (budget(&ns), budget(&ns)); // two processes' views of one budget
    a.report(1000.0, 10000.0, 500.0).await;
    // Keeping 30 % (3,000) free and a request's 250 needs 2,250 more points: 4.5 s at 500/s.
    let wait = b.reserve().await.unwrap();
    assert!(wait >= Duration::from_millis(4000) && wait <= Duration::from_millis(4500), "{wait:?}");
    ns.remove().await;
}

#[tokio::test]
async fn reservations_from_all_processes_draw_from_one_bucket() {
    let ns = Namespace::new("budget-share").await;
    let views: Vec<CostBudget> = (0..3).map(|_| budget(&ns)).collect();
    views[0].report(10000.0, 10000.0, 500.0).await;
    // (10,000 − 3,000) / 250 = 28 requests go at once, whichever process asks; then they wait.
    let mut immediate = 0;
    for i in 0..40 {
        if views[i % 3].reserve().await.unwrap().is_zero() {
            immediate += 1;
        }
    }
    assert!((28..=29).contains(&immediate), "{immediate}");
    ns.remove().await;
}

#[tokio::test]
async fn the_request_count_stops_at_jobbers_limit() {
    let ns = Namespace::new("budget-count").await;
    let b = budget(&ns);
    let mut tries = 0;
    loop {
        tries += 1;
        for _ in 0..sj_shared::jobber::REQUEST_LIMIT {
            assert!(b.reserve().await.unwrap().is_zero());
        }
        let wait = b.reserve().await.unwrap();
        // Rarely a 300 s window ends during the loop and the count starts again: once more then.
        if wait.is_zero() && tries == 1 {
            continue;
        }
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(300), "{wait:?}");
        break;
    }
    ns.remove().await;
}

#[tokio::test]
async fn a_wait_longer_than_a_request_may_take_is_refused_not_slept() {
    let ns = Namespace::new("budget-patience").await;
    let b = budget(&ns);
    b.report(1000.0, 10000.0, 500.0).await; // the next request may go in about 4.5 s
    let started = std::time::Instant::now();
    let refused = b.before_request(Duration::from_secs(1)).await;
    assert!(refused.is_err_and(|wait| wait > Duration::from_secs(3)), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered at once, not after the refill");
    // Patient enough: it waits for the refill and goes.
    assert_eq!(b.before_request(Duration::from_secs(10)).await, Ok(()));
    ns.remove().await;
}
