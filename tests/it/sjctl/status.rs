//! `sjctl status` against the real services: queue depths while no worker runs, consumers once
//! one does, the Jobber budget and token once it has talked to Jobber.

use std::process::Output;

use serde_json::Value;

use crate::pipeline::worker::Bridge;
use crate::support::samples;

/// Runs `sjctl status --json`, without blocking the test's runtime (the sandbox answers from it).
async fn status(bridge: &Bridge) -> (Output, Value) {
    let mut cmd = bridge.command("sjctl", "sjctl");
    cmd.args(["status", "--json"]);
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json = serde_json::from_slice(&out.stdout).unwrap();
    (out, json)
}

fn queue<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["queues"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap()
}

#[tokio::test]
async fn queue_depths_then_consumers_budget_and_token() {
    let mut bridge = Bridge::start("status").await;
    let quotes = bridge.ns.topology.quotes_queue();

    // Not declared yet: said so, and still exit 0 (the broker answered).
    let (_, before) = status(&bridge).await;
    assert_eq!(queue(&before, &quotes)["exists"], false, "{before}");

    // Two documents published, no worker: they wait in sj.quotes.
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.json"), "kitchen.json");
    bridge.poll_once(&[]).await;
    let (_, waiting) = status(&bridge).await;
    let q = queue(&waiting, &quotes);
    assert_eq!(
        (q["exists"].as_bool(), q["ready"].as_u64(), q["consumers"].as_u64()),
        (Some(true), Some(2), Some(0)),
        "{waiting}"
    );
    assert_eq!(queue(&waiting, &bridge.ns.topology.parked_queue())["ready"], 0);
    // Nothing handled yet (no worker), so the last hour's history is all zeros.
    assert_eq!(
        waiting["documents_last_hour"],
        "created 0, updated 0, unchanged 0, parked 0, errors 0 (replayed 0, undone 0) in the last 1h"
    );
    let api = waiting["management_api"].as_str().unwrap();
    if api == "available" {
        // The management API's counts lag a few seconds behind a new queue: absent or 0.
        assert!(q["unacked"].is_null() || q["unacked"] == 0, "{waiting}");
    } else {
        assert!(api.starts_with("unavailable"), "{api}");
    }

    // A worker consumes them: one consumer, the queue empties, Jobber's budget and token known.
    bridge.start_consuming_worker().await;
    bridge.wait_until("both quotes", || async { bridge.quotes().await.len() == 2 }).await;
    let (_, running) = status(&bridge).await;
    let q = queue(&running, &quotes);
    assert_eq!(q["consumers"], 1, "{running}");
    assert_eq!(q["ready"], 0, "{running}");
    assert!(running["jobber"]["cost_budget"]["max"].as_f64().unwrap() > 0.0, "{running}");
    assert!(running["jobber"]["token_expires_at"].as_u64().is_some(), "{running}");
    // The workers created two clients and wrote their rows.
    let mapping = running["mapping"].as_str().unwrap();
    assert!(
        mapping.starts_with("2 rows in use from csv ") && mapping.ends_with("; 0 rows skipped"),
        "{mapping}"
    );

    // The text form says the same.
    let mut cmd = bridge.command("sjctl", "sjctl");
    cmd.arg("status");
    let text = cmd.output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(quotes.as_str()) && text.contains("created 2, updated 0, unchanged 0, parked 0"),
        "{text}"
    );
    assert!(text.contains("Jobber cost budget") && text.contains("access token expires in"), "{text}");
    assert!(text.contains("mapping table: 2 rows in use"), "{text}");
    bridge.stop().await;
}
