//! Time after a fault (issue 20): waiting for another attempt's lease spends no retry tier; a
//! Jobber that fails for everyone opens the shared circuit breaker (documents held, not sent up
//! the tiers) and not one document failing again and again; when Jobber answers again the
//! documents flow at once and those an outage had sent to a long tier are brought back.

use std::time::Duration;

use serde_json::json;
use sj_shared::intake::DocumentReader;
use sj_shared::message::{Source, SourceKind};
use sj_shared::store::Keys;

use super::routing::kitchen_with_po;
use super::worker::{set_fault, Bridge};
use crate::support::samples;

async fn redis() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(sj_shared::config::RedisSettings::default().url.expose()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

async fn breaker_open(bridge: &Bridge) -> bool {
    let key = Keys::new(&bridge.ns.name).key("breaker", "open");
    let exists: bool = redis::cmd("EXISTS").arg(key).query_async(&mut redis().await).await.unwrap();
    exists
}

/// Lines of the history (`sjctl history --json`) with this outcome.
async fn outcomes(bridge: &Bridge, outcome: &str) -> usize {
    let out = bridge.command("sjctl", "sjctl").args(["history", "--json"]).output().await.unwrap();
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    history["entries"].as_array().unwrap().iter().filter(|e| e["outcome"] == outcome).count()
}

#[tokio::test]
async fn a_document_whose_lease_another_attempt_holds_waits_for_it_and_spends_no_retry_tier() {
    let mut bridge = Bridge::start("lease-wait").await;
    // A crashed worker's lease on the document: 4 s left (the test's workers use 2 s leases).
    let path = samples().join("saberis/kitchen-harbour-lane.xml");
    let reader = DocumentReader::default();
    let request = reader
        .quote_request(&reader.read_file(&path).unwrap(), None, Source::now(SourceKind::File, "k.xml"), false)
        .unwrap();
    let key = Keys::new(&bridge.ns.name).key("intent", request.content_hash.as_str());
    let () = redis::cmd("SET")
        .arg(&key)
        .arg("a-crashed-worker")
        .arg("PX")
        .arg(4000)
        .query_async(&mut redis().await)
        .await
        .unwrap();
    bridge.add(&path, "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_consuming_worker().await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(
        bridge.worker_log_lines(&["another attempt holds the document's lease"]),
        1,
        "the worker waited for the lease"
    );
    assert_eq!(bridge.worker_log_lines(&["transient failure: retrying later"]), 0, "no retry tier");
    assert_eq!(outcomes(&bridge, "retried").await, 0);
    bridge.stop().await;
}

#[tokio::test]
async fn an_outage_opens_the_breaker_one_documents_failures_do_not_and_a_long_tier_is_emptied_when_jobber_answers(
) {
    let mut bridge = Bridge::start("breaker").await;
    // Tiers 1 s, 2 s, then 30 min: a document there would wait half an hour.
    let delays = [1, 2, 1800].map(Duration::from_secs).to_vec();
    bridge.ns.topology =
        sj_shared::amqp::Topology::new(&bridge.ns.name, bridge.ns.topology.delivery_limit, delays);
    bridge.env.push(("SJ_AMQP__RETRY_DELAYS".into(), r#"["1s","2s","30m"]"#.into()));
    bridge.env.push(("SJ_WORKER__BREAKER_PROBE_INTERVAL".into(), "1s".into()));
    bridge.start_consuming_worker().await;

    // One document failing again and again (Jobber refuses only its quote): it climbs the
    // tiers to the 30-minute one, and the breaker stays closed.
    set_fault(
        &bridge.sandbox,
        json!({"route": "/api/graphql", "body_contains": "PO-LONE", "fail_next": 3, "status": 503}),
    )
    .await;
    kitchen_with_po(&bridge, "PO-LONE", "lone.xml");
    bridge.poll_once(&[]).await;
    let long_tier = bridge.ns.topology.retry_queue(Duration::from_secs(1800));
    bridge
        .wait_until("the lone document in the 30-minute tier", || async {
            bridge.ns.peek_count(&long_tier).await == 1
        })
        .await;
    assert!(!breaker_open(&bridge).await, "one document's failures open no breaker");

    // Jobber fails for everyone: five documents fail in a row, the breaker opens, and the
    // documents are held instead of climbing the tiers.
    set_fault(&bridge.sandbox, json!({"route": "/api/graphql", "error_rate": 1.0, "status": 503})).await;
    for n in 1..=6 {
        kitchen_with_po(&bridge, &format!("PO-OUT-{n}"), &format!("out-{n}.xml"));
    }
    bridge.poll_once(&[]).await;
    bridge.wait_until("the breaker to open", || async { breaker_open(&bridge).await }).await;
    bridge
        .wait_until("the documents held in hand", || async {
            bridge.worker_log_lines(&["circuit breaker open"]) >= 1
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let climbed = bridge.worker_log_lines(&["transient failure: retrying later"]);
    assert!(
        climbed <= 3 + 4,
        "at most the lone document's 3 and the 4 failures before the breaker opened: {climbed}"
    );

    // Jobber is back: a probe closes the breaker, every document is written, and the lone one
    // comes back from the 30-minute tier now, not in half an hour.
    let _ = reqwest::Client::new().delete(bridge.sandbox.url("/_admin/faults")).send().await.unwrap();
    bridge.wait_until("seven quotes", || async { bridge.quotes().await.len() == 7 }).await;
    assert!(!breaker_open(&bridge).await);
    assert_eq!(bridge.worker_log_lines(&["Jobber answers again: circuit breaker closed"]), 1);
    assert!(bridge.ns.queue_empty(&long_tier).await, "the long tier emptied");
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.parked_queue()).await, "nothing parked");
    bridge.stop().await;
}
