//! The fault run (issue 12): N documents through the poller, three workers and the alerter while,
//! on a schedule drawn from a seed, workers are SIGKILLed and restarted, RabbitMQ is restarted
//! (cleanly and by a crash), Redis is restarted (once with its data wiped), Jobber (the sandbox)
//! serves 10 % 5xx and 5 % timeouts throughout, loses the answers of some writes, answers bursts
//! THROTTLED, revokes the bridge's token once, after which the operator runs
//! `sjctl jobber connect`, and answers 503 to everything for a sixth of the fault phase (an
//! outage: the workers' shared circuit breaker holds the documents). At the end: every valid document is exactly one quote (or one set of
//! lines on the quote its PO names) on the right client, every customer one client, every invalid
//! or unresolvable document parked once and named in exactly one alert email, nothing left in the
//! quotes queue, a retry tier or the alerts queue; every document written within 60 s of the last
//! fault's end (the recovery time, issue 20); and a table of what was done and what came of it.
//!
//! RabbitMQ and Redis are the run's own (`services`): it restarts them, and the machine's serve
//! other test runs meanwhile.
//!
//! Run (CI does, after the suite, at N = 200):
//! `cargo test -p sj-tests --test it -- --ignored --nocapture fault_run`
//! `SJ_FAULT_RUN_N` (default 200) sets N; `SJ_FAULT_RUN_SEED` repeats a run's schedule and
//! documents (each run prints its seed); `SJ_FAULT_RUN_KEEP=1` keeps the run's folder (logs,
//! broker and Redis data, mails) and prints where.

mod documents;
mod services;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use serde_json::{json, Value};
use sj_shared::amqp::{headers, Topology};
use sj_shared::config::{RedisSettings, SecretUrl};
use sj_shared::store::{self, Keys, RedisEpoch};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use documents::{Doc, Kind, CUSTOMERS, KNOWN, PO_CLIENT, PRODUCT_LINES, TWIN};
use services::{PrivateRabbit, PrivateRedis, Stop};

use crate::alerter::Sink;
use crate::support::{binary, built};

const NAMESPACE: &str = "faultrun";
/// Every document written within this long of the last fault's end (issue 20).
const RECOVERY_BOUND: Duration = Duration::from_secs(60);
const WORKERS: usize = 3;
/// Short retry tiers, so retries happen within the run, and many of them: a document meets a
/// fault on about one attempt in three here, far more often than in production, and must not
/// run out of tiers (then it is parked, as designed) before the faults stop.
const RETRY_DELAYS: [u64; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/// Jobber's answer is awaited this long; a held request (a timeout) is held longer.
const REQUEST_TIMEOUT: &str = "2s";
const HOLD_MS: u64 = 2500;
/// The share of GraphQL requests answered 5xx, and of the others held until the client gives up.
const ERROR_RATE: f64 = 0.10;
const TIMEOUT_RATE: f64 = 0.055; // 5.5 % of the 90 % left: 5 % of all requests

struct Settings {
    n: usize,
    seed: u64,
    keep: bool,
}

fn settings() -> Settings {
    let n = match std::env::var("SJ_FAULT_RUN_N") {
        Ok(v) => v.trim().replace(['_', ','], "").parse().expect("SJ_FAULT_RUN_N: a number of documents"),
        Err(_) => 200,
    };
    let seed = match std::env::var("SJ_FAULT_RUN_SEED") {
        Ok(v) => v.trim().parse().expect("SJ_FAULT_RUN_SEED: an unsigned integer"),
        Err(_) => {
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            (nanos as u64) ^ u64::from(std::process::id())
        }
    };
    let keep = std::env::var("SJ_FAULT_RUN_KEEP").is_ok_and(|v| v == "1");
    Settings { n, seed, keep }
}

/// Seconds since the run started, for the event log.
fn stamp(t0: Instant) -> String {
    format!("[{:>6.1}s]", t0.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// The bridge's processes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Poller,
    Worker(usize),
    Alerter,
}

impl Role {
    fn binary(self) -> &'static str {
        match self {
            Role::Poller => "sj-poller",
            Role::Worker(_) => "sj-worker",
            Role::Alerter => "sj-alerter",
        }
    }

    fn name(self) -> String {
        match self {
            Role::Worker(i) => format!("worker{i}"),
            other => other.binary().trim_start_matches("sj-").to_owned(),
        }
    }
}

struct Proc {
    role: Role,
    child: Option<Child>,
    starts: usize,
}

/// The poller, the workers and the alerter, each restarted when it ends (as systemd would), each
/// start with a log file of its own.
struct Procs {
    env: Vec<(String, String)>,
    logs: PathBuf,
    list: Vec<Proc>,
    /// Ends nobody asked for: (process, exit status).
    unexpected_exits: Vec<(String, String)>,
    sigkills: usize,
}

impl Procs {
    fn new(env: Vec<(String, String)>, logs: PathBuf) -> Self {
        std::fs::create_dir_all(&logs).unwrap();
        Self { env, logs, list: Vec::new(), unexpected_exits: Vec::new(), sigkills: 0 }
    }

    fn spawn(&self, role: Role, start: usize) -> Child {
        let log = std::fs::File::create(self.logs.join(format!("{}-{start}.log", role.name()))).unwrap();
        bridge_command(role.binary())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    fn start(&mut self, role: Role) {
        let child = self.spawn(role, 0);
        self.list.push(Proc { role, child: Some(child), starts: 1 });
    }

    fn restart(&mut self, i: usize) {
        let (role, start) = (self.list[i].role, self.list[i].starts);
        self.list[i].child = Some(self.spawn(role, start));
        self.list[i].starts += 1;
    }

    /// SIGKILL (no chance to finish anything), then a new process at once.
    async fn sigkill_worker(&mut self, worker: usize) {
        let i = self.list.iter().position(|p| p.role == Role::Worker(worker)).expect("worker");
        if let Some(mut child) = self.list[i].child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.sigkills += 1;
        self.restart(i);
    }

    /// Restarts whatever ended on its own, and notes it.
    fn supervise(&mut self) {
        for i in 0..self.list.len() {
            let ended = self.list[i].child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = ended {
                self.unexpected_exits.push((self.list[i].role.name(), status.to_string()));
                assert!(
                    self.unexpected_exits.len() < 50,
                    "the bridge's processes keep ending ({} ends; see the logs in {})",
                    self.unexpected_exits.len(),
                    self.logs.display()
                );
                self.restart(i);
            }
        }
    }

    /// Starts again every process [`Self::stop_all`] stopped.
    fn start_stopped(&mut self) {
        for i in 0..self.list.len() {
            if self.list[i].child.is_none() {
                self.restart(i);
            }
        }
    }

    /// SIGTERM to all, a clean exit awaited (SIGKILL after 30 s).
    async fn stop_all(&mut self) {
        for p in &self.list {
            if let Some(pid) = p.child.as_ref().and_then(Child::id) {
                let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
            }
        }
        for p in &mut self.list {
            if let Some(mut child) = p.child.take() {
                match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                    Ok(Ok(status)) if status.success() => {}
                    Ok(status) => self.unexpected_exits.push((p.role.name(), format!("at stop: {status:?}"))),
                    Err(_) => {
                        self.unexpected_exits.push((p.role.name(), "no exit 30 s after SIGTERM".to_owned()));
                        let _ = child.kill().await;
                    }
                }
            }
        }
    }

    /// Every JSON log line of every start of the processes whose name starts with `prefix`.
    async fn log(&self, prefix: &str) -> Vec<Value> {
        let mut lines = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.logs).await.unwrap();
        while let Some(entry) = dir.next_entry().await.unwrap() {
            if !entry.file_name().to_string_lossy().starts_with(prefix) {
                continue;
            }
            let text = tokio::fs::read_to_string(entry.path()).await.unwrap_or_default();
            lines.extend(text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()));
        }
        lines
    }

    /// Lines that are not JSON log lines (a panic's message, for one).
    async fn raw_lines_containing(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.logs).await.unwrap();
        while let Some(entry) = dir.next_entry().await.unwrap() {
            let text = tokio::fs::read_to_string(entry.path()).await.unwrap_or_default();
            for line in text.lines().filter(|l| l.contains(needle)) {
                found.push(format!("{}: {line}", entry.file_name().to_string_lossy()));
            }
        }
        found
    }
}

/// One of the bridge's binaries, without any `SJ_` variable of the test's own environment (the
/// bridge refuses unknown keys, `SJ_FAULT_RUN_N` among them).
fn bridge_command(binary: &str) -> Command {
    let mut cmd = Command::new(built(binary));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SJ_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The schedule

#[derive(Clone, Debug)]
enum Fault {
    KillWorker(usize),
    RestartRabbit {
        how: Stop,
        down: Duration,
    },
    RestartRedis {
        how: Stop,
        wipe: bool,
        down: Duration,
    },
    ThrottleBurst(u32),
    LoseResponse,
    RevokeToken {
        reconnect_after: Duration,
    },
    /// Jobber answers 503 to everything for this long (issue 20's outage, scaled: a sixth of the
    /// fault phase), then recovers.
    JobberOutage(Duration),
    /// The outage's end: Jobber answers again (the other faults go on meanwhile; those that
    /// change Jobber's answers wait for it).
    JobberBack,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::KillWorker(i) => write!(f, "SIGKILL worker{i}, restart it"),
            Fault::RestartRabbit { how, down } => write!(f, "RabbitMQ: {how:?} stop, {down:?} away, start"),
            Fault::RestartRedis { how, wipe: true, down } => {
                write!(f, "Redis: {how:?} stop, data WIPED, {down:?} away, start")
            }
            Fault::RestartRedis { how, down, .. } => {
                write!(f, "Redis: {how:?} stop, {down:?} away, start (data kept)")
            }
            Fault::ThrottleBurst(n) => write!(f, "Jobber: the next {n} requests THROTTLED"),
            Fault::LoseResponse => write!(f, "Jobber: the next mutation is done, its answer lost"),
            Fault::RevokeToken { reconnect_after } => {
                write!(f, "Jobber: every token revoked; sjctl jobber connect {reconnect_after:?} later")
            }
            Fault::JobberOutage(down) => write!(f, "Jobber: 503 to every request for {down:?}"),
            Fault::JobberBack => write!(f, "Jobber: the outage ends"),
        }
    }
}

/// The faults of a run over `span`, in time order. Counts grow with N (at N = 200: 8 worker
/// kills, 2 broker restarts, 3 Redis restarts, 5 THROTTLED bursts, 10 lost answers, 1 revocation).
fn schedule(rng: &mut fastrand::Rng, n: usize, span: Duration) -> Vec<(Duration, Fault)> {
    let scaled = |at_200: usize| (at_200 * n).div_ceil(200).max(1);
    let mut faults = Vec::new();
    for _ in 0..scaled(8) {
        faults.push(Fault::KillWorker(rng.usize(..WORKERS)));
    }
    let broker_restarts = 2 + n / 1000;
    for i in 0..broker_restarts {
        let how = if i % 2 == 0 { Stop::Graceful } else { Stop::Crash };
        faults.push(Fault::RestartRabbit { how, down: Duration::from_millis(rng.u64(500..3000)) });
    }
    let redis_restarts = 3 + n / 1000;
    let wiped = rng.usize(..redis_restarts);
    for i in 0..redis_restarts {
        let how = if i == wiped || i % 2 == 1 { Stop::Crash } else { Stop::Graceful };
        faults.push(Fault::RestartRedis {
            how,
            wipe: i == wiped,
            down: Duration::from_millis(rng.u64(200..3000)),
        });
    }
    for _ in 0..scaled(5) {
        faults.push(Fault::ThrottleBurst(rng.u32(3..=10)));
    }
    for _ in 0..scaled(10) {
        faults.push(Fault::LoseResponse);
    }
    faults.push(Fault::RevokeToken { reconnect_after: Duration::from_millis(rng.u64(1000..4000)) });
    faults.push(Fault::JobberOutage(span / 6));
    let first = Duration::from_secs(3);
    let window = span.saturating_sub(first).as_millis() as u64;
    let mut timed: Vec<(Duration, Fault)> =
        faults.into_iter().map(|f| (first + Duration::from_millis(rng.u64(..window.max(1))), f)).collect();
    // The outage starts within the first two thirds, and ends by itself while the rest go on.
    let outage_at = first + Duration::from_millis(rng.u64(..(window * 2 / 3).max(1)));
    if let Some(i) = timed.iter().position(|(_, f)| matches!(f, Fault::JobberOutage(_))) {
        let Fault::JobberOutage(down) = timed[i].1 else { unreachable!() };
        timed[i].0 = outage_at;
        timed.push((outage_at + down, Fault::JobberBack));
    }
    timed.sort_by_key(|(at, _)| *at);
    timed
}

/// The fault spec Jobber's GraphQL route serves between events: 10 % 5xx, 5 % timeouts.
fn base_spec(rng: &mut fastrand::Rng) -> Value {
    let status = [500, 502, 503][rng.usize(..3)];
    json!({"route": "/api/graphql", "seed": rng.u64(..), "error_rate": ERROR_RATE,
        "status": status, "timeout_rate": TIMEOUT_RATE, "hold_ms": HOLD_MS})
}

async fn set_fault(sandbox: &sj_sandbox::Sandbox, spec: &Value) {
    let response =
        reqwest::Client::new().post(sandbox.url("/_admin/faults")).json(spec).send().await.unwrap();
    assert!(response.status().is_success(), "fault spec refused: {spec}");
}

/// Waits until the GraphQL spec's `counter` is used up (or 30 s: no traffic).
async fn consumed(sandbox: &sj_sandbox::Sandbox, counter: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let specs: Vec<Value> =
            reqwest::get(sandbox.url("/_admin/faults")).await.unwrap().json().await.unwrap();
        let left = specs.iter().find(|s| s["route"] == "/api/graphql").and_then(|s| s[counter].as_u64());
        if left.unwrap_or(0) == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Everything the run restarts or talks to.
struct Run {
    t0: Instant,
    rng: fastrand::Rng,
    procs: Procs,
    rabbit: PrivateRabbit,
    redis: PrivateRedis,
    sandbox: sj_sandbox::Sandbox,
    /// Faults done, by type.
    done: BTreeMap<&'static str, usize>,
    /// Sandbox events whose counter was not used up within 30 s.
    unused: usize,
    connect_attempts: usize,
    /// When the last `sjctl jobber connect` succeeded: the operator watches the workers' logs
    /// from then on (see [`Run::operator`]).
    connected_at: Option<std::time::SystemTime>,
    /// When the operator last read the logs.
    operator_read: Instant,
    /// Reconnections the operator made because the bridge asked for one.
    operator_reconnects: usize,
    /// Jobber answers 503 to everything (the outage): the faults that change Jobber's answers
    /// are skipped meanwhile (they would end it).
    outage: bool,
}

impl Run {
    async fn apply(&mut self, fault: &Fault) {
        if self.outage && matches!(fault, Fault::ThrottleBurst(_) | Fault::LoseResponse) {
            println!("{} {fault}: skipped, Jobber is out", stamp(self.t0));
            *self.done.entry("Jobber answer fault skipped during the outage").or_default() += 1;
            return;
        }
        println!("{} {fault}", stamp(self.t0));
        let what = match fault {
            Fault::KillWorker(i) => {
                self.procs.sigkill_worker(*i).await;
                "worker SIGKILLed and restarted"
            }
            Fault::RestartRabbit { how, down } => {
                self.rabbit.restart(*how, *down).await;
                println!(
                    "{}   RabbitMQ answers again ({:.1} s to start)",
                    stamp(self.t0),
                    self.rabbit.starts.last().unwrap().as_secs_f64()
                );
                match how {
                    Stop::Graceful => "RabbitMQ restarted (clean stop)",
                    Stop::Crash => "RabbitMQ restarted (SIGKILL)",
                }
            }
            Fault::RestartRedis { how, wipe, down } => {
                self.redis.restart(*how, *wipe, *down).await;
                match (wipe, how) {
                    (true, _) => "Redis restarted with its data wiped",
                    (false, Stop::Graceful) => "Redis restarted (clean stop, data kept)",
                    (false, Stop::Crash) => "Redis restarted (SIGKILL, data kept)",
                }
            }
            Fault::ThrottleBurst(n) => {
                let mut spec = base_spec(&mut self.rng);
                spec["throttle_next"] = json!(n);
                set_fault(&self.sandbox, &spec).await;
                if !consumed(&self.sandbox, "throttle_next").await {
                    self.unused += 1;
                }
                set_fault(&self.sandbox, &base_spec(&mut self.rng)).await;
                "Jobber THROTTLED burst"
            }
            Fault::LoseResponse => {
                // While the lost answer waits for a mutation, the other rates apply to mutations only.
                let mut spec = base_spec(&mut self.rng);
                spec["body_contains"] = json!("mutation");
                spec["lose_response_next"] = json!(1);
                set_fault(&self.sandbox, &spec).await;
                if !consumed(&self.sandbox, "lose_response_next").await {
                    self.unused += 1;
                }
                set_fault(&self.sandbox, &base_spec(&mut self.rng)).await;
                "Jobber write done, answer lost (event)"
            }
            Fault::RevokeToken { reconnect_after } => {
                let response = reqwest::Client::new()
                    .post(self.sandbox.url("/_admin/oauth/revoke"))
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                tokio::time::sleep(*reconnect_after).await;
                self.connect().await;
                "Jobber token revoked, then sjctl jobber connect"
            }
            Fault::JobberOutage(_) => {
                set_fault(&self.sandbox, &json!({"route": "/api/graphql", "error_rate": 1.0, "status": 503}))
                    .await;
                self.outage = true;
                "Jobber outage (503 to everything)"
            }
            Fault::JobberBack => {
                set_fault(&self.sandbox, &base_spec(&mut self.rng)).await;
                self.outage = false;
                "Jobber back after the outage"
            }
        };
        *self.done.entry(what).or_default() += 1;
    }

    /// `sjctl jobber connect`, the test playing the operator's browser (Jobber approves at once),
    /// until it stores tokens and proves them (Jobber's 5xx may fail the proof: tried again).
    async fn connect(&mut self) {
        let browser = reqwest::Client::builder().no_proxy().build().unwrap();
        for _ in 0..10 {
            self.connect_attempts += 1;
            let mut child = bridge_command("sjctl")
                .envs(self.procs.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .env_remove("SJ_JOBBER__REFRESH_TOKEN")
                .args(["jobber", "connect", "--port", "0", "--no-browser", "--timeout", "60s"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
            let mut url = None;
            while let Ok(Ok(Some(line))) =
                tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await
            {
                if line.contains("/api/oauth/authorize?") {
                    url = Some(line.trim().to_owned());
                    break;
                }
            }
            if let Some(url) = url {
                let _ = browser.get(&url).send().await;
            }
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            let status = tokio::time::timeout(Duration::from_secs(90), child.wait()).await;
            match status {
                Ok(Ok(s)) if s.success() => {
                    self.connected_at = Some(std::time::SystemTime::now());
                    return;
                }
                other => println!("{}   sjctl jobber connect: {other:?}; again", stamp(self.t0)),
            }
        }
        panic!("sjctl jobber connect did not succeed in 10 attempts");
    }

    /// The operator, after a reconnection: when the workers log, later than a few seconds after
    /// it, that Jobber refuses their tokens and the account must be reconnected, the operator
    /// runs `sjctl jobber connect` again. That happens when Redis loses its data (a wipe) after
    /// `sjctl jobber connect` stored new tokens and before any worker read them: no process then
    /// knows a valid refresh token, and only a person with a browser can make one (what the
    /// `SjJobberUnauthorized` alert and the log line ask for). Read every 5 s; at most 5 times.
    async fn operator(&mut self) {
        let Some(connected_at) = self.connected_at else { return };
        if self.operator_read.elapsed() < Duration::from_secs(5) || self.operator_reconnects >= 5 {
            return;
        }
        self.operator_read = Instant::now();
        let after = connected_at + Duration::from_secs(5);
        let asked = self
            .procs
            .raw_lines_containing("(sjctl jobber connect)")
            .await
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l.split_once(": ")?.1).ok())
            .filter_map(|l| humantime::parse_rfc3339(l["timestamp"].as_str()?).ok())
            .any(|at| at > after);
        if asked {
            println!(
                "{} the workers log that Jobber refuses their tokens since the last connect: the operator \
                 runs sjctl jobber connect",
                stamp(self.t0)
            );
            self.operator_reconnects += 1;
            self.connect().await;
        }
    }

    /// Waits until `at` (since the run's start), restarting what ended meanwhile.
    async fn until(&mut self, at: Duration) {
        while self.t0.elapsed() < at {
            self.procs.supervise();
            self.operator().await;
            tokio::time::sleep(Duration::from_millis(200).min(at.saturating_sub(self.t0.elapsed()))).await;
        }
    }
}

/// Drops the documents into `incoming/` over `span` (each written aside, then renamed in).
async fn feed(docs: &[Doc], incoming: &Path, span: Duration) {
    let gap = span / docs.len().max(1) as u32;
    let aside = incoming.parent().unwrap().join("writing");
    tokio::fs::create_dir_all(&aside).await.unwrap();
    for doc in docs {
        let tmp = aside.join(&doc.name);
        tokio::fs::write(&tmp, &doc.bytes).await.unwrap();
        tokio::fs::rename(&tmp, incoming.join(&doc.name)).await.unwrap();
        tokio::time::sleep(gap).await;
    }
}

// ---------------------------------------------------------------------------------------------
// What came of it

struct Outcome {
    /// Quotes carrying each marker (in the custom field, or at the end of the title).
    quotes_by_marker: HashMap<String, Vec<u64>>,
    /// Quotes without a marker (made before the run).
    unmarked: usize,
    /// quote number → line descriptions.
    lines: HashMap<String, Vec<String>>,
    /// client id → name.
    client_names: HashMap<u64, String>,
    /// quote id → client id.
    quote_client: HashMap<u64, u64>,
    /// Parked messages: (source, error kind).
    parked: Vec<(String, String)>,
    /// Alert email headings: source → how many times named.
    alerted: HashMap<String, usize>,
    mails: usize,
    /// Messages left in each queue after every consumer stopped.
    left: Vec<(String, u32)>,
}

/// Jobber as the run left it: quotes by marker, quotes without one, each quote's line
/// descriptions (by quote number), client names, each quote's client.
type JobberView =
    (HashMap<String, Vec<u64>>, usize, HashMap<String, Vec<String>>, HashMap<u64, String>, HashMap<u64, u64>);

fn quotes_of(sandbox: &sj_sandbox::Sandbox) -> JobberView {
    sandbox.shared().read(|store| {
        let account = &store.accounts[&sj_sandbox::state::DEFAULT_ACCOUNT_ID];
        let mut by_marker: HashMap<String, Vec<u64>> = HashMap::new();
        let mut unmarked = 0;
        let mut lines = HashMap::new();
        let mut quote_client = HashMap::new();
        for quote in account.quotes.values() {
            let field = quote.custom_fields.iter().find_map(|f| match &f.value {
                sj_sandbox::state::CustomFieldValue::Text(t) if t.starts_with("SJ-") => Some(t.clone()),
                _ => None,
            });
            let in_title = quote
                .title
                .as_deref()
                .and_then(|t| t.rsplit_once("[SJ-"))
                .map(|(_, m)| format!("SJ-{}", m.trim_end_matches(']')));
            match field.or(in_title) {
                Some(marker) => by_marker.entry(marker).or_default().push(quote.id),
                None => unmarked += 1,
            }
            lines.insert(
                quote.quote_number.clone(),
                quote.line_items.iter().map(|l| l.description.clone()).collect(),
            );
            quote_client.insert(quote.id, quote.client_id);
        }
        let names = account.clients.values().map(|c| (c.id, c.name())).collect();
        (by_marker, unmarked, lines, names, quote_client)
    })
}

/// Sources named in the alert emails' headings (`3. 00042-twin.xml: PARKED`).
fn alert_headings(mails: &[Value]) -> HashMap<String, usize> {
    let mut named = HashMap::new();
    for mail in mails {
        for line in mail["text"].as_str().unwrap_or_default().lines() {
            let Some((number, rest)) = line.split_once(". ") else { continue };
            if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if let Some(source) =
                rest.strip_suffix(": PARKED").or_else(|| rest.strip_suffix(": REJECTED by the poller"))
            {
                *named.entry(source.to_owned()).or_default() += 1;
            }
        }
    }
    named
}

async fn queue_count(connection: &lapin::Connection, queue: &str) -> u32 {
    let channel = connection.create_channel().await.expect("channel");
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    let count = match channel.queue_declare(queue.into(), passive, Default::default()).await {
        Ok(q) => q.message_count(),
        Err(_) => 0, // never declared: nothing in it
    };
    let _ = channel.close(200, "counted".into()).await;
    count
}

/// What must be true once the run settled; each line one problem.
struct Verdict {
    problems: Vec<String>,
    duplicates: usize,
    lost: usize,
    valid_parked: usize,
}

fn judge(docs: &[Doc], po_quotes: &[String], outcome: &Outcome) -> Verdict {
    let mut v = Verdict { problems: Vec::new(), duplicates: 0, lost: 0, valid_parked: 0 };
    let by_name: HashMap<&str, &Doc> = docs.iter().map(|d| (d.name.as_str(), d)).collect();

    // Every valid order: exactly one quote, on its customer's client.
    let mut expected_markers: HashMap<String, (&Doc, String)> = HashMap::new();
    for doc in docs {
        let customer = match doc.kind {
            Kind::Quote { customer } | Kind::Homeowner { customer } => customer,
            _ => continue,
        };
        expected_markers.entry(doc.marker().unwrap()).or_insert((doc, CUSTOMERS[customer].to_owned()));
    }
    for (marker, (doc, customer)) in &expected_markers {
        let quotes = outcome.quotes_by_marker.get(marker).map(Vec::as_slice).unwrap_or_default();
        match quotes.len() {
            0 => {
                v.lost += 1;
                v.problems.push(format!("LOST: {} ({marker}) has no quote", doc.name));
            }
            1 => {
                let client = outcome.quote_client.get(&quotes[0]).and_then(|c| outcome.client_names.get(c));
                if client.map(String::as_str) != Some(customer.as_str()) {
                    v.problems
                        .push(format!("{} ({marker}) is quoted for {client:?}, not {customer}", doc.name));
                }
            }
            n => {
                v.duplicates += n - 1;
                v.problems.push(format!("DUPLICATE: {} ({marker}) has {n} quotes: {quotes:?}", doc.name));
            }
        }
    }
    // Every PO-routed order: its lines once on the quote it names, and no quote of its own.
    for doc in docs {
        let Kind::PoRouted { quote } = doc.kind else { continue };
        let marker = doc.marker().unwrap();
        let number = &po_quotes[quote];
        let tagged = outcome.lines[number].iter().filter(|d| d.contains(&format!("[{marker}]"))).count();
        match tagged {
            0 => {
                v.lost += 1;
                v.problems.push(format!("LOST: {} added no lines to quote #{number}", doc.name));
            }
            t if t == PRODUCT_LINES => {}
            t => {
                v.duplicates += t.saturating_sub(PRODUCT_LINES).div_ceil(PRODUCT_LINES);
                v.problems
                    .push(format!("{} put {t} lines on quote #{number} (not {PRODUCT_LINES})", doc.name));
            }
        }
        if outcome.quotes_by_marker.contains_key(&marker) {
            v.duplicates += 1;
            v.problems.push(format!("{} made a quote of its own besides adding lines", doc.name));
        }
    }
    // No quote the bridge should not have written.
    for (marker, quotes) in &outcome.quotes_by_marker {
        if !expected_markers.contains_key(marker) {
            let whose: Vec<&str> = docs
                .iter()
                .filter(|d| d.marker().as_ref() == Some(marker))
                .map(|d| d.name.as_str())
                .collect();
            v.duplicates += quotes.len();
            v.problems
                .push(format!("UNEXPECTED: {} quote(s) marked {marker} (documents {whose:?})", quotes.len()));
        }
    }
    if outcome.unmarked != po_quotes.len() {
        v.problems.push(format!(
            "{} quotes without a marker; {} were made before the run",
            outcome.unmarked,
            po_quotes.len()
        ));
    }

    // One client per customer.
    let mut clients: HashMap<&str, usize> = HashMap::new();
    for name in outcome.client_names.values() {
        *clients.entry(name.as_str()).or_default() += 1;
    }
    let mut expected_clients: HashMap<String, usize> = HashMap::new();
    for (c, name) in CUSTOMERS.iter().enumerate() {
        let ordered = docs.iter().any(|d| d.kind == Kind::Quote { customer: c });
        expected_clients.insert((*name).to_owned(), usize::from(c < KNOWN || ordered));
    }
    expected_clients.insert(TWIN.to_owned(), 2);
    expected_clients.insert(PO_CLIENT.to_owned(), 1);
    for (name, want) in &expected_clients {
        let got = clients.get(name.as_str()).copied().unwrap_or(0);
        if got != *want {
            if got > *want {
                v.duplicates += got - want;
            }
            v.problems.push(format!("client {name:?}: {got} in Jobber, {want} expected"));
        }
    }
    for (name, got) in &clients {
        if !expected_clients.contains_key(*name) {
            v.duplicates += got;
            v.problems.push(format!("UNEXPECTED client {name:?} ({got})"));
        }
    }

    // Every invalid or unresolvable document parked once, with its kind, named in one email;
    // nothing else parked.
    let mut parked: HashMap<&str, Vec<&str>> = HashMap::new();
    for (source, kind) in &outcome.parked {
        parked.entry(source.as_str()).or_default().push(kind.as_str());
    }
    for doc in docs {
        let got = parked.get(doc.name.as_str()).cloned().unwrap_or_default();
        let named = outcome.alerted.get(&doc.name).copied().unwrap_or(0);
        match doc.kind.parked() {
            Some(kind) => {
                match got.len() {
                    0 => {
                        v.lost += 1;
                        v.problems.push(format!("LOST: {} ({kind}) is not parked", doc.name));
                    }
                    1 if got[0] == kind => {}
                    1 => v.problems.push(format!("{} parked as {}, expected {kind}", doc.name, got[0])),
                    n => {
                        v.duplicates += n - 1;
                        v.problems.push(format!("DUPLICATE: {} parked {n} times ({got:?})", doc.name));
                    }
                }
                if named != 1 {
                    if named > 1 {
                        v.duplicates += named - 1;
                    } else {
                        v.lost += 1;
                    }
                    v.problems.push(format!("{} is named in {named} alert emails, not 1", doc.name));
                }
            }
            None => {
                if !got.is_empty() {
                    v.valid_parked += 1;
                    v.problems.push(format!("a valid document parked: {} as {got:?}", doc.name));
                }
                if named > 0 {
                    v.problems.push(format!("a valid document alerted: {} ({named} emails)", doc.name));
                }
            }
        }
    }
    for source in parked.keys() {
        if !by_name.contains_key(source) {
            v.problems.push(format!("parked, but no document of the run: {source:?}"));
        }
    }
    for (queue, count) in &outcome.left {
        if *count > 0 {
            v.problems.push(format!("{count} message(s) left in {queue}"));
        }
    }
    v
}

/// The run's folder: removed at the end, kept (and named) when the run fails or is asked to.
struct KeepOnPanic(Option<tempfile::TempDir>);

impl KeepOnPanic {
    fn path(&self) -> &Path {
        self.0.as_ref().expect("the run's folder").path()
    }

    fn keep(&mut self) {
        if let Some(dir) = self.0.take() {
            let kept = dir.keep();
            println!("the run's folder (logs, broker and Redis data, mails) is kept: {}", kept.display());
        }
    }
}

impl Drop for KeepOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.keep();
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the fault run (minutes; its own RabbitMQ and Redis): cargo test -p sj-tests --test it -- --ignored --nocapture fault_run"]
async fn n_documents_under_faults_lose_nothing_and_double_nothing() {
    let cfg = settings();
    println!("fault run: N = {}, seed = {} (SJ_FAULT_RUN_SEED={} repeats it)", cfg.n, cfg.seed, cfg.seed);
    let mut rng = fastrand::Rng::with_seed(cfg.seed);
    let mut tmp = KeepOnPanic(Some(tempfile::Builder::new().prefix("sj-fault-run-").tempdir().unwrap()));
    let dir = tmp.path().to_owned();
    for name in ["sj-poller", "sj-worker", "sj-alerter", "sjctl"] {
        binary(name, name).await;
    }
    // The run's clock starts once the binaries are built.
    let t0 = Instant::now();

    // The run's own Redis and RabbitMQ, the sandbox (Jobber's cost limit on, its request window
    // off: this run is about faults, not the budget), an SMTP sink.
    let redis = PrivateRedis::start(&dir.join("redis")).await;
    let rabbit = PrivateRabbit::start(&dir.join("rabbitmq")).await;
    println!(
        "{} private RabbitMQ node on 127.0.0.1:{} answered {:.1} s after its start; Redis on 127.0.0.1:{}",
        stamp(t0),
        rabbit.port,
        rabbit.starts[0].as_secs_f64(),
        redis.port
    );
    let mut config = sj_sandbox::Config::default();
    config.limits.requests.enabled = false;
    let sandbox = sj_sandbox::spawn(config).await.expect("sandbox");
    let mut sink = Sink::new();
    sink.start().await;

    // Jobber before the run, the documents, the mapping table; Redis a month old (the common
    // case: a known customer's document is one request, until Redis loses its data).
    let world = documents::setup(&sandbox, documents::po_count(cfg.n)).await;
    let docs = documents::plan(cfg.n, &mut rng, &world);
    println!("{} documents: {:?}", stamp(t0), documents::mix(&docs));
    let exports = dir.join("exports");
    std::fs::create_dir_all(exports.join("incoming")).unwrap();
    std::fs::write(exports.join("mapping.csv"), documents::mapping_csv(&world)).unwrap();
    let redis_settings = RedisSettings { url: SecretUrl::parse(&redis.url()).unwrap() };
    let pool = store::pool(&redis_settings).unwrap();
    RedisEpoch::set(&pool, &Keys::new(NAMESPACE), store::epoch::now() - 30 * 24 * 3600).await.unwrap();

    let delays: Vec<String> = RETRY_DELAYS.iter().map(|s| format!("\"{s}s\"")).collect();
    let env: Vec<(String, String)> = [
        ("SJ_NAMESPACE", NAMESPACE.to_owned()),
        ("SJ_LOG__FORMAT", "json".to_owned()),
        ("SJ_AMQP__URL", rabbit.url()),
        ("SJ_AMQP__CONNECT_TIMEOUT", "180s".to_owned()),
        ("SJ_AMQP__RETRY_DELAYS", format!("[{}]", delays.join(","))),
        ("SJ_REDIS__URL", redis.url()),
        ("SJ_WORKER__INTENT_LEASE", "2s".to_owned()),
        ("SJ_WORKER__BREAKER_PROBE_INTERVAL", "2s".to_owned()),
        // No catalog table here: every catalog at the default markup.
        ("SJ_PRICING__UNPRICED_CATALOG", "default".to_owned()),
        ("SJ_JOBBER__API_URL", sandbox.base_url()),
        ("SJ_JOBBER__REQUEST_TIMEOUT", REQUEST_TIMEOUT.to_owned()),
        ("SJ_JOBBER__CLIENT_SECRET", "sandbox-client-secret".to_owned()),
        ("SJ_JOBBER__REFRESH_TOKEN", sandbox.issue_tokens().refresh_token),
        ("SJ_POLLER__FOLDER__INCOMING", exports.join("incoming").display().to_string()),
        ("SJ_POLLER__FOLDER__ARCHIVE", exports.join("archive").display().to_string()),
        ("SJ_POLLER__FOLDER__REJECTED", exports.join("rejected").display().to_string()),
        ("SJ_POLLER__FOLDER__SETTLE", "20ms".to_owned()),
        ("SJ_POLLER__FOLDER__RESCAN_INTERVAL", "2s".to_owned()),
        // Documents may land before the poller's first start: take them all.
        ("SJ_POLLER__FOLDER__START_FROM", "everything".to_owned()),
        ("SJ_MAPPING__CSV__PATH", exports.join("mapping.csv").display().to_string()),
        ("SJ_ALERTS__SMTP__PORT", sink.port.to_string()),
        ("SJ_ALERTS__FROM", "sj-bridge@example.com".to_owned()),
        ("SJ_ALERTS__TO", r#"["ops@example.com"]"#.to_owned()),
        ("SJ_ALERTS__WINDOW", "2s".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut procs = Procs::new(env, dir.join("logs"));
    procs.start(Role::Alerter);
    procs.start(Role::Poller);
    for i in 0..WORKERS {
        procs.start(Role::Worker(i));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while procs.log("worker").await.iter().filter(|l| message(l) == "sj-worker consuming").count() < WORKERS {
        if Instant::now() > deadline {
            let errors = procs.raw_lines_containing("\"level\":\"ERROR\"").await;
            let warnings = procs.raw_lines_containing("\"level\":\"WARN\"").await;
            panic!(
                "the workers did not start consuming within 120 s; ended: {:?}\n{}\n{}",
                procs.unexpected_exits,
                errors.join("\n"),
                warnings.iter().rev().take(20).cloned().collect::<Vec<_>>().join("\n")
            );
        }
        procs.supervise();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The fault phase: documents arrive over 85 % of it, faults throughout.
    let span = Duration::from_millis((cfg.n as u64 * 300).max(60_000));
    let events = schedule(&mut rng, cfg.n, span);
    let mut run = Run {
        t0,
        rng,
        procs,
        rabbit,
        redis,
        sandbox,
        done: BTreeMap::new(),
        unused: 0,
        connect_attempts: 0,
        connected_at: None,
        operator_read: Instant::now(),
        operator_reconnects: 0,
        outage: false,
    };
    println!(
        "{} fault phase: {:.0} s, {} scheduled faults, 10 % 5xx and 5 % timeouts throughout",
        stamp(t0),
        span.as_secs_f64(),
        events.len()
    );
    let base = base_spec(&mut run.rng);
    set_fault(&run.sandbox, &base).await;
    let phase = run.t0.elapsed();
    let incoming = exports.join("incoming");
    let faults = async {
        for (at, fault) in &events {
            run.until(phase + *at).await;
            run.apply(fault).await;
        }
        run.until(phase + span).await;
    };
    tokio::join!(feed(&docs, &incoming, span.mul_f64(0.85)), faults);
    let cleared = reqwest::Client::new().delete(run.sandbox.url("/_admin/faults")).send().await.unwrap();
    assert!(cleared.status().is_success());
    // The end of the last fault: every scheduled fault applied (restarted services answer again).
    let faults_over = std::time::SystemTime::now();
    println!("{} faults over; waiting for the bridge to settle", stamp(t0));

    // Settle: every document where it belongs, nothing in the quotes queue or a retry tier.
    let topology =
        Topology::new(NAMESPACE, 5, RETRY_DELAYS.iter().map(|s| Duration::from_secs(*s)).collect());
    let connection = sj_shared::amqp::connect(&sj_shared::config::AmqpSettings {
        url: SecretUrl::parse(&run.rabbit.url()).unwrap(),
        ..Default::default()
    })
    .await
    .expect("the private broker");
    let mut work_queues = vec![topology.quotes_queue()];
    work_queues.extend(topology.retry_delays.iter().map(|d| topology.retry_queue(*d)));
    let expected_parked = docs.iter().filter(|d| d.kind.parked().is_some()).count();
    // A run past Jobber's 2,500 requests of one 300 s window waits for the next one too.
    let window_wait = if cfg.n > 1_000 { sj_shared::jobber::REQUEST_WINDOW.as_secs() } else { 0 };
    let settle_deadline = Instant::now() + Duration::from_secs(240 + cfg.n as u64 / 10 + window_wait);
    let mut settled = false;
    while Instant::now() < settle_deadline {
        run.procs.supervise();
        run.operator().await;
        let mut busy = 0;
        for queue in &work_queues {
            busy += queue_count(&connection, queue).await;
        }
        let parked = queue_count(&connection, &topology.parked_queue()).await as usize;
        let alerted = alert_headings(&sink.mails()).len();
        let (by_marker, ..) = quotes_of(&run.sandbox);
        let quoted = docs
            .iter()
            .filter(|d| matches!(d.kind, Kind::Quote { .. } | Kind::Homeowner { .. }))
            .all(|d| by_marker.contains_key(&d.marker().unwrap()));
        if busy == 0 && quoted && parked >= expected_parked && alerted >= expected_parked {
            // A late duplicate would show now; then everything stops cleanly. A copy in a
            // worker's hand is in no queue's count: the clean stop finishes it or gives it back,
            // and what came back needs the workers again.
            tokio::time::sleep(Duration::from_secs(3)).await;
            run.procs.stop_all().await;
            let mut back = 0;
            for queue in &work_queues {
                back += queue_count(&connection, queue).await;
            }
            if back == 0 {
                settled = true;
                break;
            }
            println!(
                "{} {back} message(s) in a worker's hand at the check came back when the workers stopped: \
                 everything starts again",
                stamp(t0)
            );
            run.procs.start_stopped();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!("{} {}", stamp(t0), if settled { "settled" } else { "did NOT settle in time" });
    run.procs.stop_all().await;
    let wall = t0.elapsed();

    // What came of it.
    let mut left = Vec::new();
    for queue in work_queues.iter().chain([&topology.alerts_queue(), &topology.undeliverable_alerts_queue()])
    {
        left.push((queue.to_string(), queue_count(&connection, queue).await));
    }
    let channel = connection.create_channel().await.unwrap();
    let mut parked = Vec::new();
    while let Some(m) = channel
        .basic_get(topology.parked_queue().as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let h = m.delivery.properties.headers();
        parked.push((
            headers::text(h, "sj-source").unwrap_or_default(),
            headers::text(h, "sj-error-kind").unwrap_or_default(),
        ));
    }
    let _ = connection.close(200, "fault run done".into()).await;
    let mails = sink.mails();
    let (quotes_by_marker, unmarked, lines, client_names, quote_client) = quotes_of(&run.sandbox);
    let outcome = Outcome {
        quotes_by_marker,
        unmarked,
        lines,
        client_names,
        quote_client,
        parked,
        alerted: alert_headings(&mails),
        mails: mails.len(),
        left,
    };
    let verdict = judge(&docs, &world.po_quotes, &outcome);

    // The figures.
    let workers_log = run.procs.log("worker").await;
    let mut retries: BTreeMap<String, usize> = BTreeMap::new();
    for line in workers_log.iter().filter(|l| message(l) == "transient failure: retrying later") {
        *retries.entry(line["kind"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
    }
    // Recovery: from the end of the last fault to the last document written (issue 20).
    let written_at = workers_log
        .iter()
        .filter(|l| {
            matches!(message(l), "quote created" | "lines added to an existing quote")
                || message(l).starts_with("lines added to")
        })
        .filter_map(|l| humantime::parse_rfc3339_weak(l["timestamp"].as_str()?).ok())
        .max();
    let recovery = written_at.and_then(|at| at.duration_since(faults_over).ok()).unwrap_or_default();
    let found_by_marker = workers_log
        .iter()
        .filter(|l| message(l).starts_with("already in Jobber") && l["by_marker"] == json!(true))
        .count();
    let counters: Value =
        reqwest::get(run.sandbox.url("/_admin/counters")).await.unwrap().json().await.unwrap();
    let by_kind = |k: &str| counters["faults_by_kind"][k].as_u64().unwrap_or(0);
    let panics = run.procs.raw_lines_containing("panicked").await;

    println!();
    println!("## Fault run: N = {}, seed = {}, {} workers", cfg.n, cfg.seed, WORKERS);
    println!();
    println!("| | |");
    println!("| --- | --- |");
    let mut rows: Vec<(String, String)> = Vec::new();
    for (what, n) in &run.done {
        rows.push((format!("fault: {what}"), n.to_string()));
    }
    rows.push(("fault: Jobber 5xx served".into(), by_kind("error").to_string()));
    rows.push((
        "fault: Jobber timeouts served (held past the client's timeout)".into(),
        by_kind("timeout").to_string(),
    ));
    rows.push(("fault: Jobber answers lost after the write".into(), by_kind("lost_response").to_string()));
    rows.push((
        "fault: Jobber THROTTLED (forced bursts and the cost bucket)".into(),
        counters["throttled"].to_string(),
    ));
    rows.push(("GraphQL requests served".into(), counters["requests"]["/api/graphql"].to_string()));
    rows.push(("401 (revoked token) served".into(), counters["unauthorized"].to_string()));
    rows.push(("sjctl jobber connect runs".into(), run.connect_attempts.to_string()));
    rows.push((
        "of them, the operator answering the workers' \"reconnect\" (tokens lost with Redis)".into(),
        run.operator_reconnects.to_string(),
    ));
    let retry_total: usize = retries.values().sum();
    let retry_kinds: Vec<String> = retries.iter().map(|(k, n)| format!("{k} {n}")).collect();
    rows.push((
        "retries (worker → retry tier)".into(),
        format!("{retry_total} ({})", retry_kinds.join(", ")),
    ));
    rows.push(("found by marker (an earlier attempt had written)".into(), found_by_marker.to_string()));
    let breaker_opened =
        workers_log.iter().filter(|l| message(l).starts_with("Jobber is failing for every document")).count();
    let breaker_closed =
        workers_log.iter().filter(|l| message(l).starts_with("probe: Jobber answers again")).count();
    rows.push((
        "circuit breaker: documents held while open / times closed by a probe".into(),
        format!("{breaker_opened} / {breaker_closed}"),
    ));
    rows.push((
        "**recovery time**: last fault's end → last document written (bound 60 s)".into(),
        format!("{:.1} s", recovery.as_secs_f64()),
    ));
    rows.push(("parked".into(), format!("{} (expected {expected_parked})", outcome.parked.len())));
    rows.push(("alert emails".into(), outcome.mails.to_string()));
    rows.push(("valid documents parked".into(), verdict.valid_parked.to_string()));
    rows.push(("**duplicates** (must be 0)".into(), verdict.duplicates.to_string()));
    rows.push(("**lost** (must be 0)".into(), verdict.lost.to_string()));
    rows.push(("processes ended unasked (restarted)".into(), run.procs.unexpected_exits.len().to_string()));
    let starts: Vec<String> = run.rabbit.starts.iter().map(|d| format!("{:.1} s", d.as_secs_f64())).collect();
    rows.push(("private RabbitMQ node: time to answer, each start".into(), starts.join(", ")));
    rows.push(("wall time".into(), format!("{:.1} s", wall.as_secs_f64())));
    for (what, value) in &rows {
        println!("| {what} | {value} |");
    }
    println!();
    for (process, status) in &run.procs.unexpected_exits {
        println!("ended unasked: {process}: {status}");
    }
    if run.unused > 0 {
        println!("{} Jobber fault events found no request to hit within 30 s", run.unused);
    }

    let mut problems = verdict.problems;
    if !settled {
        problems.push("the bridge did not settle within the bound after the faults ended".to_owned());
    }
    if recovery > RECOVERY_BOUND {
        problems.push(format!(
            "recovery took {:.1} s after the last fault ended (bound {} s)",
            recovery.as_secs_f64(),
            RECOVERY_BOUND.as_secs()
        ));
    }
    problems.extend(panics.into_iter().map(|p| format!("PANIC: {p}")));
    if !problems.is_empty() || cfg.keep {
        tmp.keep();
    }
    drop(run);
    assert!(
        problems.is_empty(),
        "fault run N = {} seed = {}: {} problem(s):\n{}",
        cfg.n,
        cfg.seed,
        problems.len(),
        problems.join("\n")
    );
}
