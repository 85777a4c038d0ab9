//! A Jobber outage that lasts (issue 20): the workers holding documents while the shared circuit
//! breaker is open tell the alerter once `alerts.outage_after` has passed, and it emails one
//! notice per outage, whatever the number of workers or their restarts, then one more when Jobber
//! answers again. Real workers, RabbitMQ, Redis, sandbox and SMTP sink.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use sj_shared::store::Keys;

use super::{assert_no_more_mail, body, subject, Alerter, Sink};
use crate::pipeline::routing::kitchen_with_po;
use crate::pipeline::worker::{set_fault, Bridge};

async fn redis() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(sj_shared::config::RedisSettings::default().url.expose()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Whether each of these workers (by start order) holds a document while the breaker is open.
fn holding(bridge: &Bridge, workers: std::ops::Range<usize>) -> bool {
    let dir = bridge.exports_incoming().parent().unwrap().to_owned();
    workers.into_iter().all(|i| {
        let log = std::fs::read_to_string(dir.join(format!("worker-{i}.log"))).unwrap_or_default();
        log.contains("(circuit breaker open): taking no documents")
    })
}

#[tokio::test]
async fn a_long_jobber_outage_is_one_email_whatever_the_workers_then_one_when_jobber_answers() {
    let mut bridge = Bridge::start("alert-outage").await;
    bridge.env.push(("SJ_ALERTS__OUTAGE_AFTER".into(), "1s".into()));
    bridge.env.push(("SJ_WORKER__BREAKER_PROBE_INTERVAL".into(), "1s".into()));
    let mut sink = Sink::new();
    sink.start().await;
    let alerter = Alerter::start(&bridge.ns, &sink, &[]).await;
    bridge.start_consuming_worker().await;
    bridge.start_consuming_worker().await;

    // Jobber fails for everything, and the breaker opened an hour ago (set as the workers do).
    set_fault(&bridge.sandbox, json!({"route": "/api/graphql", "error_rate": 1.0, "status": 503})).await;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let since = now_ms - 3_600_000;
    let open = Keys::new(&bridge.ns.name).key("breaker", "open");
    let () = redis::cmd("SET").arg(&open).arg(since).query_async(&mut redis().await).await.unwrap();
    for n in 1..=4 {
        kitchen_with_po(&bridge, &format!("PO-OUT-{n}"), &format!("out-{n}.xml"));
    }
    bridge.poll_once(&[]).await;
    bridge.wait_until("both workers holding documents", || async { holding(&bridge, 0..2) }).await;

    let mails = sink.wait_for_mails(1).await;
    // Both workers look at the breaker each second while they hold their documents.
    assert_no_more_mail(&sink, 1).await;
    let mail = &mails[0];
    assert_eq!(
        subject(mail),
        format!("[sj-bridge {}] Jobber has been failing for every document for 60 min", bridge.ns.name)
    );
    let text = body(mail);
    assert!(text.starts_with("Jobber has been failing for every document for 60 min (since "), "{text}");
    assert!(
        text.contains(
            "Nothing is lost: documents wait in sj.quotes and are written when Jobber answers; `sjctl \
             status` shows the circuit breaker."
        ),
        "{text}"
    );
    for never in ["replay", "purge", "PARKED", "need attention"] {
        assert!(!text.contains(never), "{never}: {text}");
    }
    assert_eq!(bridge.worker_log_lines(&["for long: the operators are told"]), 1);

    // The workers restarted: a new one (which needs Jobber to start: the fault is lifted while it
    // starts, and no probe may close the breaker meanwhile) holds the documents, and no second
    // email goes out.
    bridge.workers.kill_all().await;
    let probe = Keys::new(&bridge.ns.name).key("breaker", "probe");
    let () = redis::cmd("SET")
        .arg(&probe)
        .arg(1)
        .arg("PX")
        .arg(60_000)
        .query_async(&mut redis().await)
        .await
        .unwrap();
    let _ = reqwest::Client::new().delete(bridge.sandbox.url("/_admin/faults")).send().await.unwrap();
    bridge.start_consuming_worker().await;
    set_fault(&bridge.sandbox, json!({"route": "/api/graphql", "error_rate": 1.0, "status": 503})).await;
    let () = redis::cmd("DEL").arg(&probe).query_async(&mut redis().await).await.unwrap();
    bridge.wait_until("the new worker holding the documents", || async { holding(&bridge, 2..3) }).await;
    assert_no_more_mail(&sink, 1).await;
    assert_eq!(bridge.worker_log_lines(&["for long: the operators are told"]), 1);

    // Jobber answers: the breaker closes, the documents are written, and one more email says so.
    let _ = reqwest::Client::new().delete(bridge.sandbox.url("/_admin/faults")).send().await.unwrap();
    bridge.wait_until("four quotes", || async { bridge.quotes().await.len() == 4 }).await;
    let mails = sink.wait_for_mails(2).await;
    assert_no_more_mail(&sink, 2).await;
    assert_eq!(
        subject(&mails[1]),
        format!("[sj-bridge {}] Jobber answers again after 60 min", bridge.ns.name)
    );
    assert!(body(&mails[1]).contains("nothing to do"), "{}", body(&mails[1]));
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.parked_queue()).await, "nothing parked");

    alerter.stop().await;
    assert_eq!(bridge.ns.peek_count(&bridge.ns.topology.alerts_queue()).await, 0, "both notices acked");
    bridge.stop().await;
}
