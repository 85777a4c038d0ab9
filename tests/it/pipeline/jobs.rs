//! PO routing to a job (`quote.po_job_pattern`): a document whose PO number names an existing
//! Jobber job (`J#7`) adds its cabinets to that job as line items (unit cost = the line's cost,
//! unit price by `jobs.line_price`), once, whatever is lost on the way.

use serde_json::{json, Value};
use sj_shared::failure::KindName;

use super::routing::{aspen_ridge_client, drain_parked, kitchen_with_po};
use super::worker::{admin, set_fault, Bridge};
use crate::support::samples;

/// The pattern the tests set: `J#7`, `j 7`, `J7`.
pub(crate) const JOB_PATTERN: &str = r"(?i)^\s*J\s*#?\s*(\d+)\s*$";

/// The kitchen sample's five cabinets and their costs (COGS), in document order.
const KITCHEN: [(&str, f64, f64); 5] = [
    ("B24", 2.0, 612.40),
    ("SB36", 1.0, 701.15),
    ("W3030", 2.0, 388.00),
    ("PULL-5\"", 14.0, 9.85),
    ("TK8", 3.0, 24.00),
];

/// A client with a job of one line (made by staff in Jobber Online: the admin API); returns the
/// job's number.
pub(crate) async fn existing_job(bridge: &Bridge) -> u64 {
    let (client, _) = aspen_ridge_client(bridge).await;
    let job = reqwest::Client::new()
        .post(bridge.sandbox.url("/_admin/jobber/jobs"))
        .json(&json!({"client": client, "title": "Kitchen install",
            "line_items": [{"name": "Install labour", "quantity": 1, "unit_price": 1800, "unit_cost": 950}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(job.status().as_u16(), 201);
    let job: Value = job.json().await.unwrap();
    job["job_number"].as_u64().unwrap()
}

/// The one job's line items (the admin API's records).
pub(crate) async fn job_lines(bridge: &Bridge) -> Vec<Value> {
    let jobs = admin(&bridge.sandbox, "/_admin/jobber/jobs").await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs[0]["line_items"].as_array().unwrap().clone()
}

fn with_job_routing(bridge: &mut Bridge) {
    bridge.env.push(("SJ_QUOTE__PO_JOB_PATTERN".into(), JOB_PATTERN.into()));
}

/// The kitchen's lines on the job after the staff's own line: names, quantities and costs as in
/// the document, every description ending with the marker; returns the unit prices.
fn the_kitchen_once(lines: &[Value]) -> Vec<f64> {
    assert_eq!(lines.len(), 1 + KITCHEN.len(), "the staff's line, then the kitchen's, once: {lines:?}");
    assert_eq!(lines[0]["name"], "Install labour");
    for (line, (name, quantity, cost)) in lines[1..].iter().zip(KITCHEN) {
        assert_eq!((line["name"].as_str().unwrap(), line["quantity"].as_f64().unwrap()), (name, quantity));
        assert!(
            (line["unit_cost"].as_f64().unwrap() - cost).abs() < 0.005,
            "unit cost = the line's cost: {line}"
        );
        let description = line["description"].as_str().unwrap();
        assert!(description.contains("[SJ-") && description.ends_with(']'), "the marker: {line}");
    }
    lines[1..].iter().map(|l| l["unit_price"].as_f64().unwrap()).collect()
}

/// An entry as a worker wrote it for a job before entries named jobs: an empty quote number.
async fn old_history_entry(bridge: &Bridge, source: &str) {
    let client = redis::Client::open(sj_shared::config::RedisSettings::default().url.expose()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = sj_shared::store::Keys::new(&bridge.ns.name).key("history", "documents");
    let _: String = redis::cmd("XADD")
        .arg(key)
        .arg("*")
        .arg(&["outcome", "unchanged", "source", source, "quote", ""])
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// `sjctl history` as an operator reads it.
async fn sjctl_history(bridge: &Bridge) -> String {
    let out = bridge.command("sjctl", "sjctl").args(["history", "--since", "1h"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_po_naming_a_job_adds_the_cabinets_to_it_once_at_zero_price_even_when_sent_again() {
    let mut bridge = Bridge::start("job-route").await;
    with_job_routing(&mut bridge);
    let number = existing_job(&bridge).await;
    bridge.start_consuming_worker().await;
    kitchen_with_po(&bridge, &format!("J#{number}"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the lines on the job", || async {
            bridge.worker_log_lines(&["lines added to an existing job"]) == 1
        })
        .await;
    let prices = the_kitchen_once(&job_lines(&bridge).await);
    assert!(prices.iter().all(|p| *p == 0.0), "jobs.line_price = zero by default: {prices:?}");
    assert!(bridge.quotes().await.is_empty(), "no quote");
    assert_eq!(admin(&bridge.sandbox, "/_admin/jobber/clients").await.len(), 1, "no client resolved or made");

    // The same document published again: the crosswalk knows it.
    let copy = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(samples().join("saberis/kitchen-harbour-lane.xml"))
        .unwrap()
        .replace("PO-2231", &format!("J#{number}"));
    std::fs::write(copy.path().join("kitchen.xml"), text).unwrap();
    bridge.publish_again(&copy.path().join("kitchen.xml"), "kitchen-copy.xml").await;
    bridge
        .wait_until("the copy", || async {
            bridge.worker_log_lines(&["already in Jobber", "kitchen-copy.xml"]) == 1
        })
        .await;
    // Both say which job: the worker's log line and `sjctl history`, where an entry written before
    // jobs (an empty quote number) still reads.
    let found = bridge.worker_log(&["already in Jobber", "kitchen-copy.xml"]);
    assert_eq!((&found[0]["to"], found[0].get("quote")), (&json!(format!("job #{number}")), None));
    let added = bridge.worker_log(&["lines added to an existing job"]);
    assert_eq!(added[0]["to"], json!(format!("job #{number}")), "{}", added[0]);
    old_history_entry(&bridge, "old-job.xml").await;
    let history = sjctl_history(&bridge).await;
    let line = |source: &str| history.lines().find(|l| l.contains(source)).unwrap_or_default().to_owned();
    for (source, outcome) in [("kitchen.xml", "updated"), ("kitchen-copy.xml", "unchanged")] {
        let line = line(source);
        assert!(line.contains(outcome) && line.ends_with(&format!("  job #{number}")), "{history}");
    }
    assert!(line("old-job.xml").trim_end().ends_with("old-job.xml"), "no number, no `quote #`: {history}");
    assert!(!history.contains("quote #"), "{history}");
    // And once more with Redis forgetting everything: found on the job by the marker.
    bridge.ns.forget_redis().await;
    bridge.publish_again(&copy.path().join("kitchen.xml"), "kitchen-again.xml").await;
    bridge
        .wait_until("the marker look-up", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    the_kitchen_once(&job_lines(&bridge).await);
    assert_eq!(bridge.worker_log_lines(&["lines added to an existing job"]), 1);
    bridge.stop().await;
}

/// jobCreateLineItems is done by Jobber, but its answer is held and the worker killed there: no
/// crosswalk, no ack. The redelivery finds the lines by their marker.
#[tokio::test]
async fn a_worker_killed_after_adding_the_job_lines_leaves_them_once() {
    let mut bridge = Bridge::start("job-sigkill").await;
    with_job_routing(&mut bridge);
    let number = existing_job(&bridge).await;
    bridge.start_consuming_worker().await;
    set_fault(
        &bridge.sandbox,
        json!({"route": "/api/graphql", "body_contains": "jobCreateLineItems", "lose_response_next": 1, "hold_ms": 60000}),
    )
    .await;
    kitchen_with_po(&bridge, &format!("j {number}"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.wait_until("Jobber to have the lines", || async { job_lines(&bridge).await.len() > 1 }).await;
    bridge.workers.kill_all().await;
    assert_eq!(bridge.worker_log_lines(&["lines added to an existing job"]), 0, "the answer never came");

    bridge.start_workers(1);
    bridge
        .wait_until("the marker look-up", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    the_kitchen_once(&job_lines(&bridge).await);
    bridge.stop().await;
}

#[tokio::test]
async fn customer_prices_on_request_and_a_po_naming_no_job_is_parked() {
    let mut bridge = Bridge::start("job-missing").await;
    with_job_routing(&mut bridge);
    bridge.env.push(("SJ_JOBS__LINE_PRICE".into(), "customer".into()));
    // A 10 % markup, so that the customer's price is neither 0 nor the cost.
    bridge.env.push(("SJ_PRICING__MARKUP_PERCENT".into(), "10".into()));
    let number = existing_job(&bridge).await;
    kitchen_with_po(&bridge, &format!("J#{number}"), "kitchen.xml");
    kitchen_with_po(&bridge, "J#999", "kitchen-999.xml");
    // Beyond GraphQL's Int (Jobber's job numbers): no such job either, not a refused request.
    kitchen_with_po(&bridge, "J#3000000000", "kitchen-big.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    let queue = bridge.ns.topology.parked_queue();
    bridge.wait_until("the parked documents", || async { bridge.ns.peek_count(&queue).await >= 2 }).await;
    bridge
        .wait_until("the lines on the job", || async {
            bridge.worker_log_lines(&["lines added to an existing job"]) == 1
        })
        .await;

    // The customer's prices: the cost (the sample's list and selling prices) plus 10 %, to the
    // cent; the unit cost stays the cost.
    let prices = the_kitchen_once(&job_lines(&bridge).await);
    for (price, (name, _, cost)) in prices.iter().zip(KITCHEN) {
        let expected = (cost * 110.0).round() / 100.0;
        assert!((price - expected).abs() < 0.005, "{name}: {price} for {expected}");
    }

    let parked = drain_parked(&bridge).await;
    assert_eq!(parked.len(), 2, "{parked:?}");
    for (kind, reason) in &parked {
        assert_eq!(kind, "routing.job-missing", "{reason}");
        let hint = KindName::parse(kind).hint();
        assert!(hint.contains("job number") && hint.contains("quote.po_job_pattern"), "{hint}");
    }
    assert!(parked[0].1.contains("J#3000000000") && parked[0].1.contains("job #3000000000"), "{parked:?}");
    assert!(parked[1].1.contains("J#999") && parked[1].1.contains("job #999"), "{parked:?}");
    assert!(bridge.quotes().await.is_empty(), "a PO naming a job never becomes a quote");
    bridge.stop().await;
}
