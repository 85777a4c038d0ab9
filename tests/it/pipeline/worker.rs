//! `sj-poller` and `sj-worker` processes end to end against the sandbox, the real RabbitMQ and the
//! real Redis: one quote per distinct document, whatever is published twice, whatever Redis
//! forgets, whatever fails on the way.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sj_shared::amqp::headers;
use tokio::process::{Child, Command};

use super::Namespace;
use crate::support::{binary, built, samples};

/// A sandbox, a folder of exports and the environment every bridge process of the test shares.
pub(crate) struct Bridge {
    /// First, so that on a failed test the workers are gone before the namespace is removed.
    pub workers: Workers,
    pub ns: Namespace,
    pub sandbox: sj_sandbox::Sandbox,
    exports: tempfile::TempDir,
    refresh_token: String,
    /// Settings of this test for every process it starts.
    pub env: Vec<(String, String)>,
}

impl Bridge {
    pub async fn start(test: &str) -> Self {
        Self::start_in(Namespace::new(test).await).await
    }

    pub async fn start_in(mut ns: Namespace) -> Self {
        // Short retry tiers, so retries happen within a test; the namespace knows them too, to
        // find (and remove) their queues.
        let delays = [1, 2, 3].map(Duration::from_secs).to_vec();
        ns.topology = sj_shared::amqp::Topology::new(&ns.name, ns.topology.delivery_limit, delays);
        let sandbox = sj_sandbox::spawn(sj_sandbox::Config::default()).await.expect("sandbox");
        let refresh_token = sandbox.issue_tokens().refresh_token;
        let exports = tempfile::tempdir().unwrap();
        // Built now, so that `command` (not async) only looks their paths up.
        for binary_name in ["sj-poller", "sj-worker", "sjctl"] {
            binary(binary_name, binary_name).await;
        }
        std::fs::create_dir_all(exports.path().join("incoming")).unwrap();
        Self { workers: Workers::default(), ns, sandbox, exports, refresh_token, env: Vec::new() }
    }

    /// A bridge process with the test's settings: a tokio command, so that waiting for it never
    /// blocks the test's runtime (the sandbox answers from it, its AMQP connection sends heartbeats).
    pub fn command(&self, _package: &str, name: &str) -> Command {
        let root = self.exports.path();
        let mut cmd = Command::new(built(name));
        cmd.env_remove("SJ_CONFIG")
            .env("SJ_NAMESPACE", &self.ns.name)
            .env("SJ_LOG__FORMAT", "json")
            .env("SJ_POLLER__FOLDER__INCOMING", root.join("incoming"))
            .env("SJ_POLLER__FOLDER__ARCHIVE", root.join("archive"))
            .env("SJ_POLLER__FOLDER__REJECTED", root.join("rejected"))
            .env("SJ_POLLER__FOLDER__SETTLE", "20ms")
            // The tests put documents in before the poller's first start: take them all.
            .env("SJ_POLLER__FOLDER__START_FROM", "everything")
            .env("SJ_MAPPING__CSV__PATH", self.mapping_csv())
            .env("SJ_AMQP__RETRY_DELAYS", r#"["1s","2s","3s"]"#)
            // A dead worker's hold on a document expires fast (the default is minutes).
            .env("SJ_WORKER__INTENT_LEASE", "2s")
            // The samples' catalogs have no row in a test's (empty) catalog table: priced by the
            // default markup, as before the table; the pricing tests set their own.
            .env("SJ_PRICING__UNPRICED_CATALOG", "default")
            .env("SJ_JOBBER__API_URL", self.sandbox.base_url())
            .env("SJ_JOBBER__CLIENT_SECRET", "sandbox-client-secret")
            .env("SJ_JOBBER__REFRESH_TOKEN", &self.refresh_token)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// The test's mapping table (CSV store, the default).
    pub fn mapping_csv(&self) -> std::path::PathBuf {
        self.exports.path().join("mapping.csv")
    }

    pub fn exports_incoming(&self) -> std::path::PathBuf {
        self.exports.path().join("incoming")
    }

    pub fn add(&self, from: &Path, as_name: &str) {
        std::fs::copy(from, self.exports.path().join("incoming").join(as_name)).unwrap();
    }

    /// A second copy of a document already sent: `from` put in again as `as_name` and published
    /// although the poller knows its content (what a publish it could not see confirmed, or a
    /// poller without Redis, brings).
    pub async fn publish_again(&self, from: &Path, as_name: &str) {
        self.add(from, as_name);
        self.poll_once(&[("SJ_POLLER__SKIP_PUBLISHED", "false")]).await;
    }

    pub async fn poll_once(&self, extra_env: &[(&str, &str)]) {
        let mut cmd = self.command("sj-poller", "sj-poller");
        cmd.arg("--once").envs(extra_env.iter().copied());
        let out = cmd.output().await.unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts one worker and waits until it consumes (so faults set next hit documents, not start-up).
    pub async fn start_consuming_worker(&mut self) {
        let consuming = self.worker_log_lines(&["sj-worker consuming"]);
        self.start_workers(1);
        self.wait_until("the worker to consume", || async {
            self.worker_log_lines(&["sj-worker consuming"]) > consuming
        })
        .await;
    }

    pub fn start_workers(&mut self, n: usize) {
        for _ in 0..n {
            self.start_worker_with(&[]);
        }
    }

    pub fn start_worker_with(&mut self, args: &[&str]) {
        let log =
            std::fs::File::create(self.exports.path().join(format!("worker-{}.log", self.workers.len())))
                .unwrap();
        let child = self
            .command("sj-worker", "sj-worker")
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.workers.push(child);
    }
    /// Log lines of all workers (JSON) containing every one of `parts`.
    pub fn worker_log(&self, parts: &[&str]) -> Vec<Value> {
        (0..self.workers.len())
            .flat_map(|i| {
                let path = self.exports.path().join(format!("worker-{i}.log"));
                let log = std::fs::read_to_string(path).unwrap_or_default();
                log.lines()
                    .filter(|l| parts.iter().all(|p| l.contains(p)))
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect::<Vec<Value>>()
            })
            .collect()
    }

    pub fn worker_log_lines(&self, parts: &[&str]) -> usize {
        self.worker_log(parts).len()
    }

    pub async fn quotes(&self) -> Vec<Value> {
        admin(&self.sandbox, "/_admin/jobber/quotes").await
    }

    /// Waits until a worker found the document's quote in Jobber by its marker (an earlier
    /// attempt wrote it), then checks that Jobber holds exactly one quote.
    pub async fn found_by_marker_once(&self) {
        self.wait_until("the marker look-up", || async {
            self.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
        assert_eq!(self.quotes().await.len(), 1, "exactly one quote");
    }

    /// Waits (up to a generous bound: this is no timing assertion) until `done` holds.
    pub async fn wait_until<F: std::future::Future<Output = bool>>(
        &self,
        what: &str,
        mut done: impl FnMut() -> F,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        while !done().await {
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for {what}\n{}", self.diagnosis().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What a failed wait needs to be understood: the parked documents and the workers' last
    /// warnings and errors.
    async fn diagnosis(&self) -> String {
        let mut out = String::from("parked:\n");
        for message in self.ns.drain(&self.ns.topology.parked_queue()).await {
            let h = message.delivery.properties.headers();
            out.push_str(&format!(
                "  {} {}: {}\n",
                headers::text(h, "sj-source").unwrap_or_default(),
                headers::text(h, "sj-error-kind").unwrap_or_default(),
                headers::text(h, "sj-error").unwrap_or_default()
            ));
        }
        out.push_str("worker warnings and errors (last 30):\n");
        let mut lines: Vec<String> = (0..self.workers.len())
            .flat_map(|i| {
                let log = std::fs::read_to_string(self.exports.path().join(format!("worker-{i}.log")));
                log.unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\""))
                    .map(|l| format!("  [{i}] {l}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        let skip = lines.len().saturating_sub(30);
        out.push_str(&lines.split_off(skip).join("\n"));
        out
    }

    pub async fn stop(mut self) {
        self.workers.kill_all().await;
        self.sandbox.shutdown().await;
        self.ns.remove().await;
    }
}

/// The workers a test started, killed when dropped: a test that failed before `stop` leaves no
/// worker running (a live worker would declare its namespace's queues again after the namespace
/// is removed).
#[derive(Default)]
pub(crate) struct Workers(Vec<Child>);

impl std::ops::Deref for Workers {
    type Target = Vec<Child>;
    fn deref(&self) -> &Vec<Child> {
        &self.0
    }
}

impl std::ops::DerefMut for Workers {
    fn deref_mut(&mut self) -> &mut Vec<Child> {
        &mut self.0
    }
}

impl Workers {
    /// SIGKILLs every worker and waits for them to be gone, without blocking the runtime (the
    /// test's AMQP connection needs its heartbeats). Their log files stay in place.
    pub async fn kill_all(&mut self) {
        for worker in &mut self.0 {
            let _ = worker.start_kill();
        }
        for worker in &mut self.0 {
            let _ = worker.wait().await;
        }
    }
}

impl Drop for Workers {
    /// Not async: SIGKILL, then a short blocking wait for each to be reaped.
    fn drop(&mut self) {
        for worker in &mut self.0 {
            let _ = worker.start_kill();
        }
        for worker in &mut self.0 {
            for _ in 0..500 {
                if !matches!(worker.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// An admin answer that is one object (`/_admin/counters`).
async fn admin_value(sandbox: &sj_sandbox::Sandbox, path: &str) -> Value {
    reqwest::get(sandbox.url(path)).await.unwrap().json().await.unwrap()
}

pub(crate) async fn admin(sandbox: &sj_sandbox::Sandbox, path: &str) -> Vec<Value> {
    reqwest::get(sandbox.url(path)).await.unwrap().json().await.unwrap()
}

fn sorted_totals(quotes: &[Value]) -> Vec<String> {
    let mut totals: Vec<String> =
        quotes.iter().map(|q| format!("{:.2}", q["amounts"]["total"].as_f64().unwrap())).collect();
    totals.sort();
    totals
}

#[tokio::test]
async fn every_distinct_document_becomes_one_quote_and_the_rest_is_parked_with_a_reason() {
    let mut bridge = Bridge::start("e2e").await;
    for dir in ["saberis", "bad"] {
        for entry in std::fs::read_dir(samples().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            bridge.add(&path, path.file_name().unwrap().to_str().unwrap());
        }
    }
    bridge.poll_once(&[]).await;
    bridge.start_workers(3);
    bridge.wait_until("three quotes", || async { bridge.quotes().await.len() >= 3 }).await;

    // The kitchen came three times (XML, JSON, re-export): one quote. The nameless bath is parked.
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), 3);
    assert_eq!(sorted_totals(&quotes), ["1299.00", "1847.25", "2911.85"]);
    let mut lines: Vec<usize> = quotes.iter().map(|q| q["line_items"].as_array().unwrap().len()).collect();
    lines.sort();
    assert_eq!(lines, [1, 2, 5]);
    let clients = admin(&bridge.sandbox, "/_admin/jobber/clients").await;
    assert_eq!(clients.len(), 3, "one client per customer");
    // Every quote carries its marker in the "Saberis reference" custom field.
    for quote in &quotes {
        let marker = quote["custom_fields"][0]["value"]["text"].as_str().unwrap();
        assert!(marker.starts_with("SJ-") && marker.len() == 15, "{marker}");
    }

    bridge
        .wait_until("the parked documents", || async {
            bridge.ns.peek_count(&bridge.ns.topology.parked_queue()).await >= 4
        })
        .await;
    let parked = bridge.ns.drain(&bridge.ns.topology.parked_queue()).await;
    let mut kinds: Vec<String> = parked
        .iter()
        .map(|m| headers::text(m.delivery.properties.headers(), "sj-error-kind").unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "mapping.no-customer-name",
            "parse.invalid-value",
            "parse.malformed-xml",
            "sanity.price-above-limit"
        ]
    );
    let bath = parked
        .iter()
        .find(|m| {
            headers::text(m.delivery.properties.headers(), "sj-source").as_deref()
                == Some("bath-gatineau.json")
        })
        .unwrap();
    let reason = headers::text(bath.delivery.properties.headers(), "sj-error").unwrap();
    assert!(reason.contains("7 Chemin du Lac"), "the reason names the address: {reason}");
    bridge.stop().await;
}

#[tokio::test]
async fn a_document_published_twice_or_forgotten_by_redis_is_not_written_twice() {
    let mut bridge = Bridge::start("twice").await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge.start_workers(2);
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;

    // The same content again, published despite being known (a poller without Redis would).
    bridge.publish_again(&samples().join("saberis/vanity-single-item.json"), "vanity-again.json").await;
    bridge
        .wait_until("the duplicate to be handled", || async {
            bridge.worker_log_lines(&["already in Jobber"]) == 1
        })
        .await;

    // Redis loses everything it knew (crosswalk, published hashes): Jobber still knows, by the
    // quote's marker.
    bridge.ns.forget_redis().await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity-third.json");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the marker look-up", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    assert_eq!(bridge.quotes().await.len(), 1, "still exactly one quote");
    assert_eq!(admin(&bridge.sandbox, "/_admin/jobber/clients").await.len(), 1, "still one client");
    bridge.stop().await;
}

#[tokio::test]
async fn a_document_to_park_that_comes_twice_is_parked_once_and_again_after_a_replay() {
    let mut bridge = Bridge::start("park-once").await;
    bridge.add(&samples().join("saberis/bath-gatineau.json"), "bath.json");
    bridge.poll_once(&[]).await;
    bridge.start_workers(2);
    let parked_queue = bridge.ns.topology.parked_queue();
    bridge.wait_until("the bath parked", || async { bridge.ns.peek_count(&parked_queue).await == 1 }).await;

    // A second copy of the same message (what a publish the poller could not see confirmed, or
    // a delivery back after a broker restart, brings): acked, not parked again.
    bridge.publish_again(&samples().join("saberis/bath-gatineau.json"), "bath-again.json").await;
    bridge
        .wait_until("the second copy to be seen as parked", || async {
            bridge.worker_log_lines(&["parked already"]) == 1
        })
        .await;
    assert_eq!(bridge.ns.peek_count(&parked_queue).await, 1, "one dead letter for the document");

    // A replay is a new copy: when it fails again it is parked again.
    let out = crate::sjctl::sjctl(&bridge, &["dlq", "replay", "--all"], "").await;
    assert!(out.status.success(), "{}", crate::sjctl::text(&out));
    bridge
        .wait_until("the replayed copy parked again", || async {
            bridge.worker_log_lines(&["dead-lettered", "bath"]) == 2
        })
        .await;
    let parked = bridge.ns.drain(&parked_queue).await;
    assert_eq!(parked.len(), 1);
    let moved = &parked[0].delivery;
    assert_eq!(headers::integer(moved.properties.headers(), "sj-replay-count"), Some(1));

    // Moved back by hand as it is (the RabbitMQ UI's "move messages": same replay count): a new
    // attempt, parked again, not taken for a copy of the parked one.
    bridge
        .ns
        .channel
        .basic_publish(
            "".into(),
            bridge.ns.topology.quotes_queue().as_str().into(),
            lapin::options::BasicPublishOptions::default(),
            &moved.data,
            moved.properties.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    bridge
        .wait_until("the moved copy parked again", || async {
            bridge.worker_log_lines(&["dead-lettered", "bath"]) == 3
        })
        .await;
    assert_eq!(bridge.ns.peek_count(&parked_queue).await, 1);
    assert_eq!(bridge.worker_log_lines(&["parked already"]), 1, "only the second copy was taken for one");
    bridge.stop().await;
}

/// The fault run's duplicate (seed 1796215610447832503): two copies of one document, the first
/// worker waiting on its customer's lock longer than the document's intent lease (2 s here). The
/// lease was lost on the way, the second copy took it, and both wrote. Now the holder keeps it
/// alive while it waits, and the second copy waits for the lease in hand until the first has
/// written, then finds the quote.
#[tokio::test]
async fn a_worker_waiting_past_its_lease_keeps_the_document_and_a_second_copy_writes_nothing() {
    let mut bridge = Bridge::start("lease-kept").await;
    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    // The customer's lock, held as by a worker that died holding it.
    let customer_lock = format!("{}:sj:lock:customer:number:C-1007", bridge.ns.name);
    let _: () = redis::cmd("SET")
        .arg(&customer_lock)
        .arg("a-dead-worker")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut redis)
        .await
        .unwrap();

    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge.publish_again(&samples().join("saberis/vanity-single-item.json"), "vanity-again.json").await;
    bridge.start_workers(2);

    let intent_pattern = format!("{}:sj:intent:*", bridge.ns.name);
    let intent_holder = |mut redis: redis::aio::MultiplexedConnection| {
        let pattern = intent_pattern.clone();
        async move {
            let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut redis).await.unwrap();
            match keys.first() {
                Some(key) => {
                    redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut redis).await.unwrap()
                }
                None => None,
            }
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let first_holder = loop {
        if let Some(holder) = intent_holder(redis.clone()).await {
            break Some(holder);
        }
        assert!(tokio::time::Instant::now() < deadline, "no worker took the document");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Past the lease (2 s), still waiting for the customer: the same holder, the other copy
    // turned away.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(intent_holder(redis.clone()).await, first_holder, "the waiting worker kept its lease");
    assert!(
        bridge.worker_log_lines(&["another attempt holds the document's lease"]) >= 1,
        "the second copy waits for the lease (no retry tier spent)"
    );
    assert!(bridge.quotes().await.is_empty());

    // The customer's lock is let go: one quote, the other copy finds it.
    let _: () = redis::cmd("DEL").arg(&customer_lock).query_async(&mut redis).await.unwrap();
    bridge
        .wait_until("the second copy to find the quote", || async {
            bridge.worker_log_lines(&["already in Jobber"]) == 1
        })
        .await;
    assert_eq!(bridge.quotes().await.len(), 1, "exactly one quote");
    bridge.stop().await;
}

#[tokio::test]
async fn jobber_failures_are_retried_until_the_quote_is_written() {
    let mut bridge = Bridge::start("retry").await;
    // The worker starts and reads the account's custom fields; then two `quoteCreate`s fail with
    // 503 and one is THROTTLED (a mutation is never tried again in place: its failure may hide a
    // write): the document goes through two retry tiers and comes back once more from the
    // shortest without an attempt counted (THROTTLED), then is written.
    bridge.start_consuming_worker().await;
    set_fault(
        &bridge.sandbox,
        serde_json::json!({"route": "/api/graphql", "body_contains": "quoteCreate", "fail_next": 2, "status": 503,
            "throttle_next": 1}),
    )
    .await;
    bridge.add(&samples().join("saberis/laundry-cote-windows1252.xml"), "laundry.xml");
    bridge.poll_once(&[]).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(sorted_totals(&bridge.quotes().await), ["1847.25"]);
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.parked_queue()).await, "nothing parked");
    assert_eq!(bridge.worker_log_lines(&["transient failure: retrying later"]), 2, "the two 503s");
    assert_eq!(
        bridge.worker_log_lines(&["Jobber answered THROTTLED", "no attempt counted"]),
        1,
        "THROTTLED is the account's budget, not the document's failure"
    );
    bridge.stop().await;
}

pub(crate) async fn set_fault(sandbox: &sj_sandbox::Sandbox, spec: Value) {
    let response =
        reqwest::Client::new().post(sandbox.url("/_admin/faults")).json(&spec).send().await.unwrap();
    assert!(response.status().is_success(), "fault accepted");
}

#[tokio::test]
async fn a_lost_response_to_quote_create_does_not_make_a_second_quote() {
    lost_response(Bridge::start("lost").await).await;
}

/// Jobber writes the quote, but the answer never reaches the worker (connection dropped): the
/// retry finds the quote by its marker. (Also run with a Redis old enough to be trusted, where
/// the retry is what calls for the look-up: `requests.rs`.)
pub(crate) async fn lost_response(mut bridge: Bridge) {
    bridge.start_consuming_worker().await;
    set_fault(
        &bridge.sandbox,
        serde_json::json!({"route": "/api/graphql", "body_contains": "quoteCreate", "lose_response_next": 1}),
    )
    .await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    // The worker retries; before writing again it finds its marker on the quote Jobber made.
    bridge
        .wait_until("the marker look-up", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    assert_eq!(bridge.quotes().await.len(), 1);
    let retried = bridge.worker_log(&["transient failure: retrying later", "jobber.unavailable"]);
    assert_eq!(retried.len(), 1);
    // Both attempts log under the trace the poller started for the document.
    let found = bridge.worker_log(&["already in Jobber"]);
    let trace = |line: &Value| line["span"]["trace_id"].as_str().unwrap_or("none").to_owned();
    assert_eq!(trace(&retried[0]).len(), 32, "{}", retried[0]);
    assert_eq!(trace(&retried[0]), trace(&found[0]));
    bridge.stop().await;
}

#[tokio::test]
async fn a_worker_killed_after_the_jobber_write_and_before_the_ack_leaves_one_quote() {
    killed_after_write(Bridge::start("sigkill").await).await;
}

/// quoteCreate is done by Jobber, but its answer is held, and the worker is killed there: no
/// crosswalk, no ack, its intent lease left behind. The redelivery finds the quote by its marker.
/// (Also run with a trusted Redis, where the redelivery calls for the look-up: `requests.rs`.)
pub(crate) async fn killed_after_write(mut bridge: Bridge) {
    bridge.start_consuming_worker().await;
    set_fault(
        &bridge.sandbox,
        serde_json::json!({"route": "/api/graphql", "body_contains": "quoteCreate", "lose_response_next": 1, "hold_ms": 60000}),
    )
    .await;
    bridge.add(&samples().join("saberis/laundry-cote-windows1252.xml"), "laundry.xml");
    bridge.poll_once(&[]).await;
    bridge.wait_until("Jobber to have the quote", || async { bridge.quotes().await.len() == 1 }).await;
    bridge.workers.kill_all().await;
    assert_eq!(bridge.worker_log_lines(&["quote created"]), 0, "the first worker never saw its answer");

    // The broker redelivers to a new worker, which waits out the lease, then finds the marker.
    bridge.start_workers(1);
    bridge.found_by_marker_once().await;
    bridge.stop().await;
}

#[tokio::test]
async fn workers_racing_on_one_new_customer_create_one_client() {
    let mut bridge = Bridge::start("race").await;
    // Six orders of one new customer (the kitchen with six PO numbers: six distinct documents).
    let kitchen = std::fs::read_to_string(samples().join("saberis/kitchen-harbour-lane.xml")).unwrap();
    for n in 1..=6 {
        let order = kitchen.replace("PO-2231", &format!("PO-30{n:02}"));
        std::fs::write(bridge.exports_incoming().join(format!("kitchen-{n}.xml")), order).unwrap();
    }
    bridge.poll_once(&[]).await;
    bridge.start_workers(3);
    bridge.wait_until("six quotes", || async { bridge.quotes().await.len() >= 6 }).await;
    let clients = admin(&bridge.sandbox, "/_admin/jobber/clients").await;
    assert_eq!(clients.len(), 1, "one client for one customer: {clients:?}");
    let properties = admin(&bridge.sandbox, "/_admin/jobber/properties").await;
    assert_eq!(properties.len(), 1, "one property for one site");
    assert_eq!(bridge.quotes().await.len(), 6);
    bridge.stop().await;
}

#[tokio::test]
async fn the_real_fixtures_become_one_quote_each_with_the_documents_totals() {
    let Some(fixtures) =
        crate::support::real_fixtures("the_real_fixtures_become_one_quote_each_with_the_documents_totals")
    else {
        return;
    };
    let mut bridge = Bridge::start("fixtures").await;
    // Both forms of every document: the XML and JSON twins are one order each.
    let mut expected = std::collections::BTreeMap::new();
    let reader = sj_shared::intake::DocumentReader::default();
    for dir in ["xml", "connect-json"] {
        for entry in std::fs::read_dir(fixtures.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{dir}-{}", path.file_name().unwrap().to_str().unwrap());
            bridge.add(&path, &name);
            let bytes = reader.read_file(&path).unwrap();
            let source = sj_shared::message::Source::now(sj_shared::message::SourceKind::File, &name);
            let request = reader.quote_request(&bytes, None, source, false).unwrap();
            let has_customer = request.customer.name.is_some()
                || !request.shipping.is_empty()
                || !request.customer.address.is_empty();
            if has_customer {
                expected.insert(
                    request.content_hash.clone(),
                    (request.totals.selling.to_string(), request.totals.product_lines as usize),
                );
            }
        }
    }
    // The dealer accepts the catalog slips here and names address-only customers after the address.
    assert!(
        expected.len() >= 5,
        "the fixtures hold at least five orders with a customer: {}",
        expected.len()
    );
    bridge.env.push(("SJ_SANITY__MAX_UNIT_PRICE".into(), "off".into()));
    bridge.env.push(("SJ_MAPPING__UNNAMED_CUSTOMER".into(), "create-from-address".into()));
    bridge.poll_once(&[]).await;
    bridge.start_workers(3);
    bridge.wait_until("a quote per order", || async { bridge.quotes().await.len() >= expected.len() }).await;
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), expected.len());
    let mut got: Vec<(String, usize)> = quotes
        .iter()
        .map(|q| {
            (
                format!("{:.2}", q["amounts"]["total"].as_f64().unwrap()),
                q["line_items"].as_array().unwrap().len(),
            )
        })
        .collect();
    let mut want: Vec<(String, usize)> = expected.into_values().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "totals and line counts equal the documents'");
    // The orders without any customer detail (three in the fixtures) are parked, not guessed.
    bridge
        .wait_until("the customerless orders to be parked", || async {
            bridge.ns.peek_count(&bridge.ns.topology.parked_queue()).await >= 3
        })
        .await;
    bridge.stop().await;
}

#[tokio::test]
async fn sigterm_lets_the_document_in_hand_finish_then_exits_cleanly() {
    let mut bridge = Bridge::start("sigterm").await;
    bridge.start_consuming_worker().await;
    // Jobber answers slowly: the document is in the worker's hands for a few seconds.
    set_fault(&bridge.sandbox, serde_json::json!({"route": "/api/graphql", "latency_ms": 700})).await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    let graphql_calls = || async {
        let counters: Value =
            reqwest::get(bridge.sandbox.url("/_admin/counters")).await.unwrap().json().await.unwrap();
        counters["requests"]["/api/graphql"].as_u64().unwrap_or(0)
    };
    let before = graphql_calls().await;
    bridge.wait_until("the document to be in hand", || async { graphql_calls().await > before }).await;

    let pid = bridge.workers[0].id().unwrap().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
    let status = bridge.workers.remove(0).wait().await.unwrap();
    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
    assert_eq!(bridge.quotes().await.len(), 1, "the document in hand was finished");
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.quotes_queue()).await, "and acknowledged");
    bridge.stop().await;
}

#[tokio::test]
async fn a_dry_run_shows_the_exact_writes_and_changes_nothing() {
    let mut bridge = Bridge::start("dry-run").await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge.start_worker_with(&["--dry-run"]);
    bridge
        .wait_until("the dry run", || async {
            bridge.worker_log_lines(&["dry run: shown, not written"]) == 1
        })
        .await;

    let mutations = bridge.worker_log(&["dry run: mutation not sent"]);
    let documents: Vec<&str> = mutations.iter().map(|l| l["document"].as_str().unwrap()).collect();
    assert!(documents[0].starts_with("mutation CreateClient"), "{documents:?}");
    assert!(documents[1].starts_with("mutation CreateQuote"), "{documents:?}");
    let variables: Value = serde_json::from_str(mutations[1]["variables"].as_str().unwrap()).unwrap();
    let line = &variables["attributes"]["lineItems"][0];
    assert_eq!((line["name"].as_str(), line["unitPrice"].as_f64()), (Some("VAN48"), Some(1299.0)));
    assert_eq!(line["saveToProductsAndServices"], Value::Bool(false));

    assert!(bridge.quotes().await.is_empty(), "no quote written");
    assert!(admin(&bridge.sandbox, "/_admin/jobber/clients").await.is_empty(), "no client written");
    // Stopped, the worker gives the message back to the queue.
    let pid = bridge.workers[0].id().unwrap().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
    let _ = bridge.workers[0].wait().await;
    let quotes_queue = bridge.ns.topology.quotes_queue();
    bridge
        .wait_until("the message back in the queue", || async {
            bridge.ns.peek_count(&quotes_queue).await == 1
        })
        .await;
    bridge.stop().await;
}

/// A read (here the client search) that fails on the way is tried again at once, in place: one
/// page's bad luck does not send the document through the retry tiers.
#[tokio::test]
async fn a_read_that_fails_on_the_way_is_tried_again_in_place() {
    let mut bridge = Bridge::start("read-retry").await;
    bridge.start_consuming_worker().await;
    set_fault(
        &bridge.sandbox,
        serde_json::json!({"route": "/api/graphql", "body_contains": "FindClients", "fail_next": 2, "status": 503}),
    )
    .await;
    bridge.add(&samples().join("saberis/laundry-cote-windows1252.xml"), "laundry.xml");
    bridge.poll_once(&[]).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(bridge.worker_log_lines(&["transient failure"]), 0, "no retry tier");
    let counters = admin_value(&bridge.sandbox, "/_admin/counters").await;
    assert_eq!(counters["faults_served"]["/api/graphql"], 2, "both 503s were served: {counters}");
    bridge.stop().await;
}

#[tokio::test]
async fn timeouts_and_an_expired_token_are_retried_until_the_quote_is_written() {
    let mut bridge = Bridge::start("timeouts").await;
    bridge.env.push(("SJ_JOBBER__REQUEST_TIMEOUT".into(), "1s".into()));
    bridge.start_consuming_worker().await;
    // Jobber holds the next two `quoteCreate`s past the worker's timeout, and every access token
    // dies.
    set_fault(
        &bridge.sandbox,
        serde_json::json!({"route": "/api/graphql", "body_contains": "quoteCreate", "timeout_next": 2,
            "hold_ms": 3000}),
    )
    .await;
    let response =
        reqwest::Client::new().post(bridge.sandbox.url("/_admin/oauth/expire")).send().await.unwrap();
    assert!(response.status().is_success());
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert!(bridge.worker_log_lines(&["transient failure: retrying later", "jobber.unavailable"]) >= 1);
    assert!(bridge.worker_log_lines(&["Jobber tokens refreshed"]) >= 2, "the expired token was refreshed");
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.parked_queue()).await, "nothing parked");
    bridge.stop().await;
}

#[tokio::test]
async fn a_user_error_from_jobber_parks_the_document_with_jobbers_reason() {
    let mut bridge = Bridge::start("user-error").await;
    bridge.start_consuming_worker().await;
    set_fault(
        &bridge.sandbox,
        serde_json::json!({"route": "/api/graphql", "body_contains": "quoteCreate", "user_error_next": 1,
                           "user_error_message": "Line items unit price is too large"}),
    )
    .await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    let parked_queue = bridge.ns.topology.parked_queue();
    bridge
        .wait_until("the parked document", || async { bridge.ns.peek_count(&parked_queue).await == 1 })
        .await;
    let parked = bridge.ns.drain(&parked_queue).await;
    let h = parked[0].delivery.properties.headers();
    assert_eq!(headers::text(h, "sj-error-kind").as_deref(), Some("jobber.user-error"));
    let reason = headers::text(h, "sj-error").unwrap();
    assert!(reason.contains("Line items unit price is too large"), "{reason}");
    assert_eq!(headers::integer(h, "sj-attempts"), Some(1), "permanent: no retries");
    assert!(bridge.quotes().await.is_empty());
    bridge.stop().await;
}

#[tokio::test]
async fn a_dead_letter_exchange_deleted_under_a_running_worker_still_parks_the_document_with_its_reason() {
    let mut bridge = Bridge::start("dlx-gone").await;
    bridge.start_consuming_worker().await;
    // Jobber refuses the quote, slowly: the document is in the worker's hands meanwhile.
    set_fault(
        &bridge.sandbox,
        serde_json::json!({"route": "/api/graphql", "body_contains": "quoteCreate", "latency_ms": 2000,
            "user_error_next": 5, "user_error_message": "Quote is locked"}),
    )
    .await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the worker to take it", || async {
            bridge.ns.peek_count(&bridge.ns.topology.quotes_queue()).await == 0
        })
        .await;
    // An operator deletes sj.dead: the worker's dead letter closes its publishing channel.
    bridge
        .ns
        .channel
        .exchange_delete(
            bridge.ns.topology.dead_exchange().as_str().into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await
        .unwrap();
    // The worker reconnects, declares the topology again, and the document is parked with its
    // reason (not requeued until the broker drops it for want of a dead-letter exchange).
    let parked_queue = bridge.ns.topology.parked_queue();
    bridge.wait_until("the parked vanity", || async { bridge.ns.peek_count(&parked_queue).await == 1 }).await;
    let parked = bridge.ns.drain(&parked_queue).await;
    let h = parked[0].delivery.properties.headers();
    assert_eq!(headers::text(h, "sj-error-kind").as_deref(), Some("jobber.user-error"));
    assert!(headers::text(h, "sj-error").unwrap().contains("Quote is locked"));
    assert_eq!(bridge.worker_log_lines(&["reconnecting, declaring the topology again"]), 1);
    assert!(bridge.quotes().await.is_empty());
    bridge.stop().await;
}
