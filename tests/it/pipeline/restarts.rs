//! RabbitMQ and Redis restarted under a running bridge: every document still ends in Jobber
//! exactly once. These tests stop shared services, so they run alone (`Namespace::new_exclusive`),
//! and a guard starts the service again even when an assertion fails.

use std::process::Command;
use std::time::Duration;

use super::worker::{set_fault, Bridge};
use super::Namespace;
use crate::support::samples;

/// Starts the service again when dropped.
struct Stopped(&'static str);

impl Stopped {
    fn rabbitmq() -> Self {
        run("rabbitmqctl", &["stop_app"]);
        Stopped("rabbitmq")
    }

    fn redis() -> Self {
        // Without persistence, as this machine runs it: Redis comes back empty.
        let _ = Command::new("redis-cli").args(["-h", "127.0.0.1", "shutdown", "nosave"]).output();
        Stopped("redis")
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        match self.0 {
            "rabbitmq" => run("rabbitmqctl", &["start_app"]),
            _ => run(
                "redis-server",
                &[
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    "6379",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            ),
        }
        if self.0 == "redis" {
            for _ in 0..100 {
                let ping = Command::new("redis-cli").args(["-h", "127.0.0.1", "ping"]).output();
                if ping.is_ok_and(|o| o.stdout.starts_with(b"PONG")) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_broker_restart_mid_run_loses_nothing_and_doubles_nothing() {
    let mut bridge = Bridge::start_in(Namespace::new_exclusive("broker").await).await;
    bridge.start_workers(2);
    bridge
        .wait_until("the workers to consume", || async {
            bridge.worker_log_lines(&["sj-worker consuming"]) == 2
        })
        .await;
    // Slow Jobber down so documents are in the workers' hands when the broker goes.
    set_fault(&bridge.sandbox, serde_json::json!({"route": "/api/graphql", "latency_ms": 300})).await;
    for name in ["vanity-single-item.json", "laundry-cote-windows1252.xml", "kitchen-harbour-lane.xml"] {
        bridge.add(&samples().join("saberis").join(name), name);
    }
    bridge.poll_once(&[]).await;
    bridge.wait_until("the first write", || async { !bridge.quotes().await.is_empty() }).await;
    {
        let _stopped = Stopped::rabbitmq();
        tokio::time::sleep(Duration::from_secs(2)).await;
    } // RabbitMQ starts again here.
    bridge.ns.reconnect().await;
    bridge.wait_until("all three quotes", || async { bridge.quotes().await.len() >= 3 }).await;
    bridge
        .wait_until("the workers to reconnect", || async {
            bridge.worker_log_lines(&["sj-worker consuming"]) >= 4
        })
        .await;
    bridge
        .wait_until("the queue to drain", || async {
            bridge.ns.queue_empty(&bridge.ns.topology.quotes_queue()).await
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(bridge.quotes().await.len(), 3, "exactly one quote per document");
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.parked_queue()).await, "nothing parked");
    bridge.stop().await;
}

#[tokio::test]
async fn a_redis_restart_that_loses_its_data_loses_nothing_and_doubles_nothing() {
    let mut bridge = Bridge::start_in(Namespace::new_exclusive("redis").await).await;
    bridge.start_workers(2);
    bridge
        .wait_until("the workers to consume", || async {
            bridge.worker_log_lines(&["sj-worker consuming"]) == 2
        })
        .await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge.wait_until("the first quote", || async { bridge.quotes().await.len() == 1 }).await;
    {
        // Redis goes away while a document is waiting: the workers cannot coordinate, so they
        // send it through the retry tiers instead of writing blind.
        let _stopped = Stopped::redis();
        bridge.add(&samples().join("saberis/laundry-cote-windows1252.xml"), "laundry.xml");
        bridge.poll_once(&[]).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    } // Redis is back, empty: no crosswalk, no tokens, no published hashes.
    bridge.wait_until("the second quote", || async { bridge.quotes().await.len() == 2 }).await;
    // The first document again: Redis forgot it, Jobber did not.
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity-again.json");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the marker look-up", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    assert_eq!(bridge.quotes().await.len(), 2, "exactly one quote per document");
    assert!(bridge.worker_log_lines(&["redis.unavailable"]) >= 1, "the outage was seen and retried");
    bridge.stop().await;
}
