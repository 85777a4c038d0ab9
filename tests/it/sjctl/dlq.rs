//! `sjctl dlq` on real dead letters: a document the worker parked and one the poller refused.

use serde_json::Value;

use super::{sjctl, text};
use crate::pipeline::worker::{admin, Bridge};
use crate::support::samples;

#[tokio::test]
async fn list_show_replay_after_the_fix_and_purge() {
    let mut bridge = Bridge::start("dlq").await;
    bridge.add(&samples().join("saberis/bath-gatineau.json"), "bath.json");
    bridge.add(&samples().join("bad/price-slip.xml"), "price-slip.xml");
    bridge.poll_once(&[]).await;
    bridge.start_consuming_worker().await;
    let parked_queue = bridge.ns.topology.parked_queue();
    bridge
        .wait_until("two parked documents", || async { bridge.ns.peek_count(&parked_queue).await == 2 })
        .await;

    // list: both, with what an operator needs; and listing takes nothing away.
    let out = sjctl(&bridge, &["dlq", "list", "--json"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find =
        |kind: &str| listed.iter().find(|p| p["kind"].as_str().unwrap().starts_with(kind)).unwrap().clone();
    let bath = find("mapping.no-customer-name");
    let slip = find("sanity.price-above-limit");
    assert_eq!(bath["what"], "quote-request");
    assert_eq!(bath["source"], "bath.json");
    assert_eq!(bath["customer"], "(no name) 7 Chemin du Lac");
    assert_eq!(slip["what"], "rejected-document");
    assert!(slip["reason"].as_str().unwrap().contains("1612400.00"));
    // Given back or removed: a quorum queue's count shows it a moment later.
    bridge
        .wait_until("list to take nothing", || async { bridge.ns.peek_count(&parked_queue).await == 2 })
        .await;
    let table = text(&sjctl(&bridge, &["dlq", "list"], "").await);
    assert!(table.contains("bath.json") && table.contains("2 parked"), "{table}");

    // show: the whole message.
    let out = sjctl(&bridge, &["dlq", "show", slip["id"].as_str().unwrap(), "--json"], "").await;
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(shown["body"]["kept_at"].as_str().unwrap().ends_with("price-slip.xml"), "{shown}");

    // A refused file cannot be replayed: fix the file.
    let out = sjctl(&bridge, &["dlq", "replay", "--id", slip["id"].as_str().unwrap()], "").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("put it back in incoming/"), "{}", text(&out));

    // The fix for the nameless customer: workers now name such clients after the address.
    bridge.workers[0].kill().await.unwrap();
    bridge.env.push(("SJ_MAPPING__UNNAMED_CUSTOMER".into(), "create-from-address".into()));
    bridge.start_consuming_worker().await;
    let out = sjctl(&bridge, &["dlq", "replay", "--all", "--kind", "mapping", "--dry-run"], "").await;
    assert!(text(&out).contains("would replay"), "{}", text(&out));
    // A dry run changes nothing: both stay parked (given back; the count may lag a moment).
    bridge.wait_until("both still parked", || async { bridge.ns.peek_count(&parked_queue).await == 2 }).await;
    assert!(bridge.quotes().await.is_empty(), "a dry run replays nothing");
    let out = sjctl(&bridge, &["dlq", "replay", "--all", "--kind", "mapping"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    bridge.wait_until("the replayed quote", || async { bridge.quotes().await.len() == 1 }).await;
    let clients = admin(&bridge.sandbox, "/_admin/jobber/clients").await;
    assert!(clients[0].to_string().contains("7 Chemin du Lac"), "{clients:?}");
    // Given back or removed: a quorum queue's count shows it a moment later.
    bridge
        .wait_until("only the refused file left", || async { bridge.ns.peek_count(&parked_queue).await == 1 })
        .await;
    assert_eq!(bridge.worker_log_lines(&["quote created", "bath.json"]), 1);

    // The history tells the story, with totals.
    let out = sjctl(&bridge, &["history", "--json"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let totals = &history["totals"];
    assert_eq!((totals["created"].as_u64(), totals["replayed"].as_u64()), (Some(1), Some(1)), "{history}");
    assert_eq!(totals["parked"].as_u64(), Some(2), "the refused file and the parked bath: {history}");
    let outcomes: Vec<&str> =
        history["entries"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "rejected").count(), 1, "{outcomes:?}");
    let lines = text(&sjctl(&bridge, &["history", "--since", "1h"], "").await);
    assert!(lines.contains("created 1, updated 0, unchanged 0, parked 2"), "{lines}");

    // purge asks first.
    let out = sjctl(&bridge, &["dlq", "purge", "--id", slip["id"].as_str().unwrap()], "n\n").await;
    assert_eq!(out.status.code(), Some(1));
    // Given back or removed: a quorum queue's count shows it a moment later.
    bridge.wait_until("the purge refused", || async { bridge.ns.peek_count(&parked_queue).await == 1 }).await;
    let out = sjctl(&bridge, &["dlq", "purge", "--id", slip["id"].as_str().unwrap(), "--yes"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Given back or removed: a quorum queue's count shows it a moment later.
    bridge.wait_until("the purge done", || async { bridge.ns.peek_count(&parked_queue).await == 0 }).await;
    bridge.stop().await;
}

/// The RabbitMQ UI's "Move messages" (what an operator does without sjctl): a dynamic shovel from
/// the parked queue to `sj.quotes`, created here through the management API exactly as the UI
/// creates it. The moved document is processed like any other, once.
#[tokio::test]
async fn the_ui_move_messages_route_sends_parked_documents_through_again() {
    let mut bridge = Bridge::start("ui-move").await;
    bridge.add(&samples().join("saberis/bath-gatineau.json"), "bath.json");
    bridge.poll_once(&[]).await;
    bridge.start_consuming_worker().await;
    let parked_queue = bridge.ns.topology.parked_queue();
    bridge.wait_until("the parked bath", || async { bridge.ns.peek_count(&parked_queue).await == 1 }).await;

    // The fix, then the move.
    bridge.workers[0].kill().await.unwrap();
    bridge.env.push(("SJ_MAPPING__UNNAMED_CUSTOMER".into(), "create-from-address".into()));
    bridge.start_consuming_worker().await;
    let name = format!("Move from {parked_queue}");
    let url = format!("http://127.0.0.1:15672/api/parameters/shovel/%2F/{}", name.replace(' ', "%20"));
    let shovel = serde_json::json!({"component": "shovel", "vhost": "/", "name": name, "value": {
        "src-uri": "amqp:///%2F", "src-queue": parked_queue, "src-protocol": "amqp091",
        "src-prefetch-count": 1000, "src-delete-after": "queue-length",
        "dest-uri": "amqp:///%2F", "dest-queue": bridge.ns.topology.quotes_queue(), "dest-protocol": "amqp091",
        "dest-add-forward-headers": false, "ack-mode": "on-confirm"}});
    let response = reqwest::Client::new()
        .put(&url)
        .basic_auth("guest", Some("guest"))
        .json(&shovel)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "the management API took the shovel: {}", response.status());

    bridge.wait_until("the moved document's quote", || async { bridge.quotes().await.len() == 1 }).await;
    bridge
        .wait_until("the parked queue empty", || async { bridge.ns.peek_count(&parked_queue).await == 0 })
        .await;
    // The shovel deletes itself once it moved the queue's length.
    bridge
        .wait_until("the shovel gone", || async {
            let r = reqwest::Client::new().get(&url).basic_auth("guest", Some("guest")).send().await.unwrap();
            r.status() == reqwest::StatusCode::NOT_FOUND
        })
        .await;
    assert_eq!(bridge.worker_log_lines(&["quote created", "bath.json"]), 1);
    bridge.stop().await;
}

/// A purged document is forgotten by the poller too: the same order exported again is published,
/// not archived as one already sent.
#[tokio::test]
async fn a_purged_document_exported_again_is_sent_again() {
    let mut bridge = Bridge::start("dlq-purge-again").await;
    bridge.env.push(("SJ_MAPPING__ON_NO_MATCH".into(), "park".into()));
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_consuming_worker().await;
    let parked_queue = bridge.ns.topology.parked_queue();
    bridge
        .wait_until("the parked kitchen", || async { bridge.ns.peek_count(&parked_queue).await == 1 })
        .await;
    let listed: Vec<Value> =
        serde_json::from_slice(&sjctl(&bridge, &["dlq", "list", "--json"], "").await.stdout).unwrap();
    let out = sjctl(&bridge, &["dlq", "purge", "--id", listed[0]["id"].as_str().unwrap(), "--yes"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen-again.xml");
    let out = bridge.command("sj-poller", "sj-poller").arg("--once").output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 published"), "{}", text(&out));
    bridge.wait_until("parked again", || async { bridge.ns.peek_count(&parked_queue).await == 1 }).await;
    bridge.stop().await;
}
