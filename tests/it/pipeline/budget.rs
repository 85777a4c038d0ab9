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

/// Spends (`true`) or restores (`false`) Jobber's request window for the namespace: this window
/// and the next, should one end during the test.
async fn spend_window(b: &CostBudget, spent: bool) {
    set_window(b, spent.then_some(sj_shared::jobber::REQUEST_LIMIT)).await;
}

/// Sets this window's and the next one's request count (`None`: none used).
async fn set_window(b: &CostBudget, used: Option<u64>) {
    let pool = store::pool(&RedisSettings::default()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let (now, _): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let index = now / sj_shared::jobber::REQUEST_WINDOW.as_secs();
    for window in [index, index + 1] {
        let key = b.window_counter_key(window);
        let mut cmd = redis::cmd(if used.is_some() { "SET" } else { "DEL" });
        cmd.arg(&key);
        if let Some(used) = used {
            cmd.arg(used).arg("EX").arg(900);
        }
        let _: () = cmd.query_async(&mut conn).await.unwrap();
    }
}

/// Seconds left in Redis' current request window.
async fn window_left() -> u64 {
    let pool = store::pool(&RedisSettings::default()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let (now, _): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let window = sj_shared::jobber::REQUEST_WINDOW.as_secs();
    window - now % window
}

#[tokio::test]
async fn the_room_is_read_without_being_spent() {
    let ns = Namespace::new("budget-room").await;
    let b = budget(&ns);
    assert_eq!(b.room().await, Ok(Duration::ZERO));
    assert_eq!(b.room().await, Ok(Duration::ZERO), "asking reserved nothing");
    spend_window(&b, true).await;
    let wait = b.room().await.unwrap();
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(300), "{wait:?}");
    spend_window(&b, false).await;
    assert_eq!(b.room().await, Ok(Duration::ZERO));
    ns.remove().await;
}

/// A backlog larger than Jobber's window: the worker holds the document, takes no lock and sends
/// no request until the window has room, then writes it on its first attempt; nothing goes
/// through the retry tiers (which a long backlog would exhaust and park as `jobber.throttled`).
#[tokio::test]
async fn a_spent_request_window_holds_the_document_lock_free_until_the_next_window() {
    use super::requests::graphql_requests;
    use super::worker::Bridge;
    use crate::support::samples;

    let mut bridge = Bridge::start("budget-window").await;
    let b = budget(&bridge.ns);
    bridge.start_consuming_worker().await;
    spend_window(&b, true).await;
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the worker to wait for the window", || async {
            bridge.worker_log_lines(&["budget is spent"]) == 1
        })
        .await;

    // Waiting: no request, no lock, nothing routed anywhere, the delivery in the worker's hands.
    let requests = graphql_requests(&bridge).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(graphql_requests(&bridge).await, requests, "no Jobber request while the window is spent");
    let pool = store::pool(&RedisSettings::default()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let locks: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:lock:*", bridge.ns.name)).query_async(&mut conn).await.unwrap();
    let intents: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:intent:*", bridge.ns.name)).query_async(&mut conn).await.unwrap();
    assert!(locks.is_empty() && intents.is_empty(), "no lock held while waiting: {locks:?} {intents:?}");
    assert!(bridge.quotes().await.is_empty());
    let t = &bridge.ns.topology;
    for queue in t.retry_delays.iter().map(|d| t.retry_queue(*d)).chain([t.parked_queue()]) {
        assert!(bridge.ns.queue_empty(&queue).await, "{queue} is empty");
    }

    // The next window: written at once, on its first attempt.
    spend_window(&b, false).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(bridge.worker_log_lines(&["budget has room again"]), 1);
    assert_eq!(bridge.worker_log_lines(&["transient failure"]), 0, "no retry tier");
    bridge.stop().await;
}

/// A document that found room for one request, and then none: its next request is held back by
/// the shared budget (nothing sent), and the document comes back without an attempt counted, so
/// a long contention cannot exhaust the retry tiers; once there is room it is written.
#[tokio::test]
async fn documents_held_back_by_the_shared_budget_come_back_without_counting_an_attempt() {
    use super::worker::Bridge;
    use crate::support::samples;

    let mut bridge = Bridge::start("budget-deferred").await;
    // A request waits for the budget at most 2 s, far less than the rest of the window.
    bridge.env.push(("SJ_JOBBER__REQUEST_TIMEOUT".to_owned(), "2s".to_owned()));
    bridge.start_consuming_worker().await;
    let b = budget(&bridge.ns);
    let left = window_left().await;
    if left < 20 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
    // Room for exactly one request: a new customer's document needs several (searches, the
    // client, the quote).
    set_window(&b, Some(sj_shared::jobber::REQUEST_LIMIT - 1)).await;
    bridge.add(&samples().join("saberis/laundry-cote-windows1252.xml"), "laundry.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the document held back", || async {
            bridge.worker_log_lines(&["held back by Jobber's shared budget"]) >= 1
        })
        .await;
    assert!(bridge.quotes().await.is_empty());
    // The next window.
    set_window(&b, None).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(bridge.worker_log_lines(&["transient failure"]), 0, "no attempt counted");
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.parked_queue()).await);
    bridge.stop().await;
}
