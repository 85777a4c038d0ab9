//! `/healthz`, `/readyz` and `/metrics` of the real processes (docs/operations.md, "Health and
//! metrics"): a pipeline run of `sj-poller`, two `sj-worker`s and `sj-alerter` against the real
//! RabbitMQ and Redis, the sandbox and an SMTP sink, each process scraped, its counters compared
//! with what happened (the sandbox's own counters for the Jobber requests); and a worker that
//! starts with the broker and Redis out of reach, 503 with the reasons until it consumes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::alerter::Sink;
use crate::pipeline::worker::{admin, Bridge};
use crate::pipeline::Namespace;
use crate::support::{binary, samples};

/// One scrape of `/metrics`: every sample, by series (`name{labels}`).
struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once("=\"").expect("label=\"value\"");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            samples.push((name.to_owned(), labels, value.parse().expect("a number")));
        }
        Scrape(samples)
    }

    /// The sum of the samples of `name` that carry every one of `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|(_, v)| v).sum()
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _, _)| n == name)
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = (&'a BTreeMap<String, String>, f64)> + 'a {
        self.0
            .iter()
            .filter(move |(n, l, _)| {
                n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, l, v)| (l, *v))
    }

    /// `name`'s samples summed by the value of `label`.
    fn by(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (labels, value) in self.matching(name, &[]) {
            *out.entry(labels.get(label).cloned().unwrap_or_default()).or_default() += value;
        }
        out
    }
}

/// A process's health endpoints, found through its address file.
struct Endpoint {
    addr: SocketAddr,
}

impl Endpoint {
    /// Waits for `file` (written once the process listens).
    async fn at(file: &Path) -> Self {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(addr) = sj_shared::observe::read_address(file) {
                return Endpoint { addr };
            }
            assert!(tokio::time::Instant::now() < deadline, "no address in {}", file.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response =
            reqwest::get(format!("http://{}{path}", self.addr)).await.expect("the endpoint answers");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn scrape(&self) -> Scrape {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "{text}");
        Scrape::parse(&text)
    }
}

/// The sum over several processes of one metric, by a label.
fn total_by(scrapes: &[Scrape], name: &str, label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for scrape in scrapes {
        for (k, v) in scrape.by(name, label) {
            *out.entry(k).or_default() += v;
        }
    }
    out
}

fn total(scrapes: &[Scrape], name: &str, labels: &[(&str, &str)]) -> f64 {
    scrapes.iter().map(|s| s.sum(name, labels)).sum()
}

/// Waits (up to a generous bound: no timing assertion) until `done` holds.
async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GraphQL requests the sandbox served, by operation name.
async fn sandbox_operations(sandbox: &sj_sandbox::Sandbox) -> BTreeMap<String, f64> {
    let counters: Value = reqwest::get(sandbox.url("/_admin/counters")).await.unwrap().json().await.unwrap();
    counters["graphql_operations"]
        .as_object()
        .expect("graphql_operations")
        .iter()
        .map(|(op, n)| (op.clone(), n.as_f64().unwrap()))
        .collect()
}

/// A bridge process of the test with its health address file, its log in `dir`, killed with the
/// bridge's workers.
fn spawn(bridge: &mut Bridge, name: &str, dir: &Path, tag: &str, env: &[(&str, String)]) -> PathBuf {
    let address_file = dir.join(format!("{tag}.addr"));
    let log = std::fs::File::create(dir.join(format!("{tag}.log"))).unwrap();
    let child = bridge
        .command(name, name)
        .env("SJ_HEALTH__ADDRESS_FILE", &address_file)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    bridge.workers.push(child);
    address_file
}

#[tokio::test]
async fn every_process_counts_what_happened_in_a_pipeline_run() {
    let mut bridge = Bridge::start("observe").await;
    binary("sj-alerter", "sj-alerter").await;
    let dir = tempfile::tempdir().unwrap();
    let mut documents = 0;
    for folder in ["saberis", "bad"] {
        for entry in std::fs::read_dir(samples().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            bridge.add(&path, path.file_name().unwrap().to_str().unwrap());
            documents += 1;
        }
    }

    // The poller: every document read; the kitchen (XML, JSON, re-export) published once, the
    // bath too (the worker parks it), three refused.
    let poller = Endpoint::at(&spawn(&mut bridge, "sj-poller", dir.path(), "poller", &[])).await;
    wait_for("the poller to take every document", || async {
        let s = poller.scrape().await;
        s.sum("sj_documents_published_total", &[])
            + s.sum("sj_documents_duplicate_total", &[])
            + s.sum("sj_documents_rejected_total", &[])
            == documents as f64
    })
    .await;
    let s = poller.scrape().await;
    assert_eq!(s.sum("sj_documents_seen_total", &[("source", "folder")]), documents as f64);
    assert_eq!(s.sum("sj_documents_published_total", &[("source", "folder")]), 4.0);
    assert_eq!(s.sum("sj_documents_duplicate_total", &[("source", "folder")]), 2.0);
    let rejected = s.by("sj_documents_rejected_total", "kind");
    let expected_rejected: BTreeMap<String, f64> =
        [("parse.invalid-value", 1.0), ("parse.malformed-xml", 1.0), ("sanity.price-above-limit", 1.0)]
            .map(|(k, v)| (k.to_owned(), v))
            .into();
    assert_eq!(rejected, expected_rejected);
    assert_eq!(s.by("sj_dead_letters_total", "kind"), expected_rejected, "a refused file is dead-lettered");
    assert_eq!(poller.get("/readyz").await, (200, "ready\n".to_owned()));
    assert_eq!(poller.get("/healthz").await.0, 200);
    assert_eq!(s.sum("sj_ready", &[]), 1.0);

    // Two workers: three quotes, the nameless bath parked.
    let worker_files =
        [1, 2].map(|n| spawn(&mut bridge, "sj-worker", dir.path(), &format!("worker-{n}"), &[]));
    let workers = [Endpoint::at(&worker_files[0]).await, Endpoint::at(&worker_files[1]).await];
    let parked = bridge.ns.topology.parked_queue();
    wait_for("three quotes and four parked documents", || async {
        bridge.quotes().await.len() == 3 && bridge.ns.peek_count(&parked).await == 4
    })
    .await;
    // The sandbox counts a request before it answers, the worker once the answer is read: wait
    // until both agree (they must, once nothing is in flight).
    let scrape_workers = || async { vec![workers[0].scrape().await, workers[1].scrape().await] };
    wait_for("the workers' Jobber requests to match the sandbox's", || async {
        let scrapes = scrape_workers().await;
        let by_operation = total_by(&scrapes, "sj_jobber_requests_total", "operation");
        by_operation == sandbox_operations(&bridge.sandbox).await
            && total(&scrapes, "sj_quotes_created_total", &[]) == 3.0
            && total(&scrapes, "sj_dead_letters_total", &[]) == 1.0
    })
    .await;
    let scrapes = scrape_workers().await;
    let by_operation = total_by(&scrapes, "sj_jobber_requests_total", "operation");
    assert_eq!(by_operation, sandbox_operations(&bridge.sandbox).await);
    assert!(by_operation.get("CreateQuote") == Some(&3.0), "{by_operation:?}");
    assert_eq!(total_by(&scrapes, "sj_jobber_requests_total", "outcome").keys().collect::<Vec<_>>(), ["ok"]);
    let clients = admin(&bridge.sandbox, "/_admin/jobber/clients").await.len() as f64;
    assert_eq!(total(&scrapes, "sj_clients_created_total", &[]), clients);
    assert_eq!(total(&scrapes, "sj_quote_lines_added_total", &[]), 0.0);
    assert_eq!(total(&scrapes, "sj_document_latency_seconds_count", &[]), 3.0, "one latency per quote");
    let dead = total_by(&scrapes, "sj_dead_letters_total", "kind");
    assert_eq!(dead, [("mapping.no-customer-name".to_owned(), 1.0)].into());
    assert_eq!(total(&scrapes, "sj_retries_total", &[]), 0.0);
    assert_eq!(total(&scrapes, "sj_jobber_rate_limited_total", &[]), 0.0);
    let quotes_queue = bridge.ns.topology.quotes_queue();
    for (worker, scrape) in workers.iter().zip(&scrapes) {
        assert_eq!(worker.get("/readyz").await, (200, "ready\n".to_owned()));
        assert_eq!(scrape.sum("sj_consuming", &[("queue", &quotes_queue)]), 1.0);
        assert_eq!(scrape.sum("sj_build_info", &[("program", "sj-worker")]), 1.0);
        // Both looked up the marker field, so both talked to Jobber: the budget and the token.
        assert_eq!(scrape.sum("sj_jobber_budget_maximum_points", &[]), 10000.0);
        let remaining = scrape.sum("sj_jobber_access_token_remaining_seconds", &[]);
        assert!(remaining > 120.0 && remaining <= 3600.0, "{remaining}");
    }
    // One of them read the mapping index; every scrape reads it from Redis.
    assert!(scrapes.iter().all(|s| s.has("sj_mapping_rows") && s.has("sj_mapping_age_seconds")));

    // The alerter, started once the four dead letters wait for it: one email.
    let mut sink = Sink::new();
    sink.start().await;
    let alerter_file = spawn(
        &mut bridge,
        "sj-alerter",
        dir.path(),
        "alerter",
        &[
            ("SJ_ALERTS__SMTP__PORT", sink.port.to_string()),
            ("SJ_ALERTS__TO", r#"["ops@example.com"]"#.to_owned()),
            ("SJ_ALERTS__WINDOW", "1s".to_owned()),
        ],
    );
    let alerter = Endpoint::at(&alerter_file).await;
    assert_eq!(sink.wait_for_mails(1).await.len(), 1);
    wait_for("the alerter to count the email", || async {
        alerter.scrape().await.sum("sj_alert_emails_sent_total", &[]) == 1.0
    })
    .await;
    let s = alerter.scrape().await;
    assert_eq!(s.sum("sj_alerts_received_total", &[]), 4.0);
    assert_eq!(s.sum("sj_alerts_received_total", &[("kind", "mapping.no-customer-name")]), 1.0);
    assert_eq!(s.sum("sj_alert_emails_failed_total", &[]), 0.0);
    assert_eq!(s.sum("sj_consuming", &[("queue", &bridge.ns.topology.alerts_queue())]), 1.0);
    assert_eq!(alerter.get("/readyz").await, (200, "ready\n".to_owned()));
    // The container's health check.
    let probe = Command::new(binary("sjctl", "sjctl").await)
        .args(["probe", "--address-file"])
        .arg(&alerter_file)
        .output()
        .await
        .unwrap();
    assert_eq!(probe.status.code(), Some(0), "{}", String::from_utf8_lossy(&probe.stderr));
    assert_eq!(sink.mails().len(), 1);

    bridge.stop().await;
}

/// A TCP relay to a real service, standing in for it being reachable: dropped, every
/// connection through it ends.
struct Relay {
    tasks: tokio::task::JoinSet<()>,
}

impl Relay {
    async fn start(port: u16, to: &'static str) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("the relay's port");
        let mut tasks = tokio::task::JoinSet::new();
        let connections = std::sync::Arc::new(tokio::sync::Mutex::new(tokio::task::JoinSet::new()));
        let held = connections.clone();
        tasks.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                held.lock().await.spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        // Dropping the outer set aborts the accept loop, which drops the connections' set.
        tasks.spawn(async move {
            let _keep = connections;
            std::future::pending::<()>().await
        });
        Relay { tasks }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn readyz_names_what_a_worker_waits_for_until_it_consumes() {
    let mut bridge = Bridge::start_in(Namespace::new("observe-ready").await).await;
    binary("sjctl", "sjctl").await;
    let dir = tempfile::tempdir().unwrap();
    let (amqp_port, redis_port) = (free_port(), free_port());
    let env = [
        ("SJ_AMQP__URL", format!("amqp://guest:guest@127.0.0.1:{amqp_port}/%2f")),
        ("SJ_REDIS__URL", format!("redis://127.0.0.1:{redis_port}/0")),
    ];
    let file = spawn(&mut bridge, "sj-worker", dir.path(), "worker", &env);
    let worker = Endpoint::at(&file).await;

    // Nothing answers on either port: not ready, with the reasons.
    let (status, body) = worker.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready: "), "{body}");
    assert!(body.contains("redis: no answer to PING"), "{body}");
    assert!(body.contains("broker: "), "{body}");
    assert!(body.contains("consuming: "), "{body}");
    assert_eq!(worker.get("/healthz").await.0, 200, "alive all the same");
    let probe = Command::new(crate::support::built("sjctl"))
        .args(["probe", "--address-file"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(probe.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&probe.stderr);
    assert!(stderr.contains("503") && stderr.contains("redis: no answer to PING"), "{stderr}");
    let s = worker.scrape().await;
    assert_eq!(s.sum("sj_ready", &[]), 0.0);

    // Redis and the broker become reachable: the worker finds Jobber, connects, consumes.
    let redis = Relay::start(redis_port, "127.0.0.1:6379").await;
    let amqp = Relay::start(amqp_port, "127.0.0.1:5672").await;
    wait_for("/readyz 200", || async { worker.get("/readyz").await.0 == 200 }).await;
    let s = worker.scrape().await;
    assert_eq!(s.sum("sj_consuming", &[("queue", &bridge.ns.topology.quotes_queue())]), 1.0);
    assert_eq!(s.sum("sj_ready", &[]), 1.0);

    // The broker goes away: not ready again, and /readyz says it is the broker.
    drop(amqp);
    wait_for("/readyz 503 after the broker went away", || async { worker.get("/readyz").await.0 == 503 })
        .await;
    let (_, body) = worker.get("/readyz").await;
    assert!(body.contains("broker: ") || body.contains("consuming: "), "{body}");
    drop(redis);
    bridge.stop().await;
}

#[tokio::test]
async fn the_sandbox_serves_its_counters_on_its_own_port() {
    let dir = tempfile::tempdir().unwrap();
    let address_file = dir.path().join("sandbox.addr");
    let config = sj_sandbox::Config {
        health: sj_sandbox::config::HealthConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            address_file: Some(address_file.clone()),
        },
        ..sj_sandbox::Config::default()
    };
    let sandbox = sj_sandbox::spawn(config).await.unwrap();
    let health = Endpoint::at(&address_file).await;
    assert_eq!(Some(health.addr), sandbox.health_addr());
    assert_ne!(health.addr, sandbox.addr(), "a port of its own");
    assert_eq!(health.get("/readyz").await, (200, "ready\n".to_owned()));

    let token = sandbox.issue_tokens().access_token;
    let response = reqwest::Client::new()
        .post(sandbox.url("/api/graphql"))
        .bearer_auth(token)
        .header("X-JOBBER-GRAPHQL-VERSION", "2025-04-16")
        .json(&serde_json::json!({"query": "query Probe { account { id name } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let s = health.scrape().await;
    assert_eq!(s.sum("sj_sandbox_graphql_operations_total", &[("operation", "Probe")]), 1.0);
    assert_eq!(s.sum("sj_sandbox_requests_total", &[("route", "/api/graphql")]), 1.0);
    assert_eq!(s.sum("sj_sandbox_throttled_total", &[]), 0.0);

    let probe = Command::new(binary("sjctl", "sjctl").await)
        .args(["probe", "--address-file"])
        .arg(&address_file)
        .output()
        .await
        .unwrap();
    assert_eq!(probe.status.code(), Some(0), "{}", String::from_utf8_lossy(&probe.stderr));
    sandbox.shutdown().await;
}
