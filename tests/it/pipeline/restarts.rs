//! RabbitMQ and Redis restarted under a running bridge: every document still ends in Jobber
//! exactly once. These tests stop shared services, so they run alone (`Namespace::new_exclusive`),
//! and a guard starts the service again even when an assertion fails.

use std::time::Duration;

use tokio::process::Command;

use super::worker::{set_fault, Bridge};
use super::Namespace;
use crate::support::samples;

/// A stopped service: [`Stopped::start`] starts it again, without blocking the test's runtime
/// (the sandbox answers the workers from it); a test that failed before starts it when dropped.
struct Stopped(Option<&'static str>);

impl Stopped {
    async fn rabbitmq() -> Self {
        run("rabbitmqctl", &["stop_app"]).await;
        Stopped(Some("rabbitmq"))
    }

    async fn redis() -> Self {
        // Without persistence, as this machine runs it: Redis comes back empty.
        let _ = Command::new("redis-cli").args(["-h", "127.0.0.1", "shutdown", "nosave"]).output().await;
        Stopped(Some("redis"))
    }

    async fn start(mut self) {
        if let Some(service) = self.0.take() {
            start(service).await;
        }
    }
}

impl Drop for Stopped {
    /// Not async: the same start on a runtime of its own, on a thread of its own.
    fn drop(&mut self) {
        if let Some(service) = self.0.take() {
            let _ = std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(start(service));
            })
            .join();
        }
    }
}

async fn start(service: &str) {
    match service {
        "rabbitmq" => run("rabbitmqctl", &["start_app"]).await,
        _ => {
            run(
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
            )
            .await;
            for _ in 0..100 {
                let ping = Command::new("redis-cli").args(["-h", "127.0.0.1", "ping"]).output().await;
                if ping.is_ok_and(|o| o.stdout.starts_with(b"PONG")) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().await.unwrap_or_else(|e| panic!("{program}: {e}"));
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
    let stopped = Stopped::rabbitmq().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stopped.start().await; // RabbitMQ starts again here.
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
    // Redis goes away while a document is waiting: the workers cannot coordinate, so they hold it
    // (not writing blind) and try it again as soon as Redis answers (issue 20: not in the tiers).
    let stopped = Stopped::redis().await;
    bridge.add(&samples().join("saberis/laundry-cote-windows1252.xml"), "laundry.xml");
    bridge.poll_once(&[]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stopped.start().await; // Redis is back, empty: no crosswalk, no tokens, no published hashes.
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
    assert!(
        bridge.worker_log_lines(&["Redis does not answer: taking no documents"]) >= 1,
        "the outage was seen and the worker paused"
    );
    bridge.stop().await;
}
