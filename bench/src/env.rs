//! What every benchmark runs on: the release binaries, a sandbox process, a namespace of its own
//! on the machine's RabbitMQ and Redis, bridge processes with their logs, and /proc figures.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context as _};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use serde_json::{json, Value};
use sj_shared::amqp::Topology;
use sj_shared::config::{AmqpSettings, RedisSettings};
use sj_shared::store::{self, Keys, RedisEpoch};
use tokio::io::AsyncBufReadExt as _;
use tokio::process::{Child, Command};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ sits in the workspace root").to_owned()
}

/// The bridge's release binaries.
pub struct Binaries {
    pub poller: PathBuf,
    pub worker: PathBuf,
    pub sandbox: PathBuf,
}

/// Builds (a no-op when up to date) and locates the release binaries of sj-poller, sj-worker and
/// sj-sandbox. Runs before any connection is open, so a blocking wait harms nothing.
pub fn build_binaries() -> anyhow::Result<Binaries> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("sj-bench: cargo build --release -p sj-poller -p sj-worker -p sj-sandbox");
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "sj-poller", "-p", "sj-worker", "-p", "sj-sandbox"])
        .current_dir(root())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release of the bridge's binaries failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let release = target.join("release");
    let bin = |name: &str| -> anyhow::Result<PathBuf> {
        let path = release.join(name);
        anyhow::ensure!(path.is_file(), "{} is missing after the build", path.display());
        Ok(path)
    };
    let mut binaries =
        Binaries { poller: bin("sj-poller")?, worker: bin("sj-worker")?, sandbox: bin("sj-sandbox")? };
    // Another build's worker (e.g. the one before a change), to compare in the same conditions.
    if let Some(worker) = std::env::var_os("SJ_BENCH_WORKER") {
        binaries.worker = PathBuf::from(worker);
        eprintln!("sj-bench: sj-worker from SJ_BENCH_WORKER: {}", binaries.worker.display());
    }
    Ok(binaries)
}

/// An `sj-sandbox` process.
pub struct Sandbox {
    child: Child,
    _stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    pub url: String,
    pub refresh_token: String,
    access_token: String,
    http: reqwest::Client,
}

impl Sandbox {
    /// Starts one on a free port; `limits`: Jobber's two rate limiters on (else both off).
    pub async fn start(binary: &Path, limits: bool, log: &Path) -> anyhow::Result<Self> {
        let on = if limits { "true" } else { "false" };
        let mut child = Command::new(binary)
            .args(["--port", "0"])
            .env_remove("SJ_SANDBOX_CONFIG")
            .env("SJ_SANDBOX_LIMITS__QUERY_COST__ENABLED", on)
            .env("SJ_SANDBOX_LIMITS__REQUESTS__ENABLED", on)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting sj-sandbox")?;
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .context("sj-sandbox did not start within 30 s")??
            .context("sj-sandbox exited at start")?;
        let url = first
            .strip_prefix("sj-sandbox listening on ")
            .with_context(|| format!("unexpected first line from sj-sandbox: {first}"))?
            .trim()
            .to_owned();
        let http = reqwest::Client::new();
        let grant: Value =
            http.post(format!("{url}/_admin/oauth/grants")).send().await?.error_for_status()?.json().await?;
        let token =
            |k: &str| grant[k].as_str().map(str::to_owned).with_context(|| format!("no {k} in the grant"));
        Ok(Self {
            refresh_token: token("refresh_token")?,
            access_token: token("access_token")?,
            child,
            _stdout: stdout,
            url,
            http,
        })
    }

    /// One GraphQL request as a Jobber app sends it (set-up only: it counts against the limits).
    pub async fn gql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let reply: Value = self
            .http
            .post(format!("{}/api/graphql", self.url))
            .bearer_auth(&self.access_token)
            .header("X-JOBBER-GRAPHQL-VERSION", "2025-04-16")
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(reply)
    }

    pub async fn counters(&self) -> anyhow::Result<Counters> {
        let c: Value = self.http.get(format!("{}/_admin/counters", self.url)).send().await?.json().await?;
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        Ok(Counters {
            graphql: n(&c["requests"]["/api/graphql"]),
            token: n(&c["requests"]["/api/oauth/token"]),
            throttled: n(&c["throttled"]),
            too_many: n(&c["too_many_requests"]),
            points_requested: n(&c["points_requested"]),
            points_actual: n(&c["points_actual"]),
        })
    }

    /// Sets a fault spec (`POST /_admin/faults`; see the sandbox's `faults::FaultSpec`).
    pub async fn set_fault(&self, spec: &Value) -> anyhow::Result<()> {
        self.http.post(format!("{}/_admin/faults", self.url)).json(spec).send().await?.error_for_status()?;
        Ok(())
    }

    /// Clears every fault (`DELETE /_admin/faults`).
    pub async fn clear_faults(&self) -> anyhow::Result<()> {
        self.http.delete(format!("{}/_admin/faults", self.url)).send().await?.error_for_status()?;
        Ok(())
    }

    /// The quotes in the sandbox's Jobber account (`GET /_admin/jobber/quotes`).
    pub async fn quotes(&self) -> anyhow::Result<Vec<Value>> {
        Ok(self.http.get(format!("{}/_admin/jobber/quotes", self.url)).send().await?.json().await?)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The sandbox's counters that the benchmarks read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub graphql: u64,
    pub token: u64,
    pub throttled: u64,
    pub too_many: u64,
    pub points_requested: u64,
    pub points_actual: u64,
}

impl std::ops::Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            graphql: self.graphql - o.graphql,
            token: self.token - o.token,
            throttled: self.throttled - o.throttled,
            too_many: self.too_many - o.too_many,
            points_requested: self.points_requested - o.points_requested,
            points_actual: self.points_actual - o.points_actual,
        }
    }
}

/// A namespace of the benchmark's own (queues, exchanges, Redis keys), removed at the end.
pub struct Namespace {
    pub name: String,
    pub topology: Topology,
    /// The broker it lives on: the machine's, unless the benchmark runs its own.
    pub amqp: AmqpSettings,
}

impl Namespace {
    /// A namespace on the machine's RabbitMQ.
    pub fn new(what: &str) -> Self {
        Self::on(what, AmqpSettings::default())
    }

    /// A namespace on the broker `amqp` names.
    pub fn on(what: &str, amqp: AmqpSettings) -> Self {
        let name = format!("bench{}-{what}", std::process::id());
        let topology = amqp.topology(&name);
        Self { name, topology, amqp }
    }

    /// Redis has held this namespace's records for a month: the common case in production, where
    /// a known customer's document is one Jobber request (see worker/src/lookup.rs).
    pub async fn trust_redis(&self) -> anyhow::Result<()> {
        let pool = store::pool(&RedisSettings::default())?;
        RedisEpoch::set(&pool, &Keys::new(&self.name), store::epoch::now() - 30 * 24 * 3600).await?;
        Ok(())
    }

    /// Messages ready in one of the namespace's queues.
    pub async fn ready(&self, queue: &str) -> anyhow::Result<u32> {
        let connection = sj_shared::amqp::connect(&self.amqp).await?;
        let channel = connection.create_channel().await?;
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let count = match channel.queue_declare(queue.into(), passive, Default::default()).await {
            Ok(q) => q.message_count(),
            Err(_) => 0,
        };
        let _ = connection.close(200, "counted".into()).await;
        Ok(count)
    }

    /// Deletes the namespace's queues, exchanges and Redis keys.
    pub async fn remove(&self) {
        let t = &self.topology;
        if let Ok(connection) = sj_shared::amqp::connect(&self.amqp).await {
            if let Ok(channel) = connection.create_channel().await {
                let mut queues = vec![
                    t.quotes_queue(),
                    t.parked_queue(),
                    t.alerts_queue(),
                    t.undeliverable_alerts_queue(),
                ];
                queues.extend(t.retry_delays.iter().map(|d| t.retry_queue(*d)));
                for queue in queues {
                    let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
                }
                for exchange in [t.quotes_exchange(), t.dead_exchange()] {
                    let _ = channel
                        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                        .await;
                }
            }
            let _ = connection.close(200, "bench done".into()).await;
        }
        let Ok(client) = redis::Client::open(RedisSettings::default().url.expose()) else { return };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
        }
    }
}

/// A folder of exports, a mapping table and the settings every bridge process of one benchmark
/// shares.
pub struct Bridge {
    pub ns: Namespace,
    pub dir: tempfile::TempDir,
    pub sandbox_url: String,
    refresh_token: String,
    pub workers: Vec<Child>,
    pub worker_logs: Vec<LogTail>,
}

impl Bridge {
    pub fn new(ns: Namespace, sandbox: &Sandbox) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("sj-bench-").tempdir()?;
        for sub in ["incoming", "staging", "logs"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        Ok(Self {
            ns,
            dir,
            sandbox_url: sandbox.url.clone(),
            refresh_token: sandbox.refresh_token.clone(),
            workers: Vec::new(),
            worker_logs: Vec::new(),
        })
    }

    pub fn incoming(&self) -> PathBuf {
        self.dir.path().join("incoming")
    }

    pub fn staging(&self) -> PathBuf {
        self.dir.path().join("staging")
    }

    pub fn mapping_csv(&self) -> PathBuf {
        self.dir.path().join("mapping.csv")
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(name)
    }

    /// A bridge process with the benchmark's settings (JSON logs on stderr, defaults otherwise).
    pub fn command(&self, binary: &Path) -> Command {
        let root = self.dir.path();
        let mut cmd = Command::new(binary);
        // The bench's own variables (`SJ_BENCH_*`) are not the bridge's: it refuses unknown keys.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SJ_BENCH") {
                cmd.env_remove(key);
            }
        }
        cmd.env_remove("SJ_CONFIG")
            .env_remove("RUST_LOG")
            .env("SJ_NAMESPACE", &self.ns.name)
            .env("SJ_AMQP__URL", self.ns.amqp.url.expose())
            .env("SJ_LOG__FORMAT", "json")
            .env("SJ_POLLER__FOLDER__INCOMING", root.join("incoming"))
            .env("SJ_POLLER__FOLDER__ARCHIVE", root.join("archive"))
            .env("SJ_POLLER__FOLDER__REJECTED", root.join("rejected"))
            // The backlogs are written before the poller's first start: take them all.
            .env("SJ_POLLER__FOLDER__START_FROM", "everything")
            .env("SJ_MAPPING__CSV__PATH", self.mapping_csv())
            // No catalog table in the bench: every catalog at the default markup.
            .env("SJ_PRICING__UNPRICED_CATALOG", "default")
            .env("SJ_JOBBER__API_URL", &self.sandbox_url)
            .env("SJ_JOBBER__CLIENT_SECRET", "sandbox-client-secret")
            .env("SJ_JOBBER__REFRESH_TOKEN", &self.refresh_token)
            .kill_on_drop(true);
        cmd
    }

    /// Starts `n` workers and waits until each consumes.
    pub async fn start_workers(&mut self, binary: &Path, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            let i = self.workers.len();
            let path = self.log(&format!("worker-{i}.log"));
            let child = self
                .command(binary)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&path)?)
                .spawn()
                .context("starting sj-worker")?;
            self.workers.push(child);
            self.worker_logs.push(LogTail::new(path));
        }
        let logs: Vec<PathBuf> = self.worker_logs.iter().rev().take(n).map(|l| l.path.clone()).collect();
        self.wait_consuming(&logs).await
    }

    /// SIGKILLs worker `i` (no chance to finish or give anything back) and waits for its end.
    pub async fn kill_worker(&mut self, i: usize) {
        let _ = self.workers[i].start_kill();
        let _ = self.workers[i].wait().await;
    }

    /// A new process in worker `i`'s place (its own log file; the old log stays read), waited
    /// for until it consumes.
    pub async fn respawn_worker(&mut self, binary: &Path, i: usize) -> anyhow::Result<()> {
        let path = self.log(&format!("worker-{i}.{}.log", self.worker_logs.len()));
        let child = self
            .command(binary)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&path)?)
            .spawn()
            .context("starting sj-worker")?;
        let _ = self.workers[i].start_kill();
        let _ = self.workers[i].wait().await;
        self.workers[i] = child;
        self.worker_logs.push(LogTail::new(path.clone()));
        self.wait_consuming(&[path]).await
    }

    /// Waits until each of these worker logs says its worker consumes (at most 60 s).
    async fn wait_consuming(&self, logs: &[PathBuf]) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let consuming = logs
                .iter()
                .filter(|l| std::fs::read_to_string(l).unwrap_or_default().contains("sj-worker consuming"))
                .count();
            if consuming == logs.len() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("workers did not start consuming within 60 s (logs in {})", self.log("").display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().filter_map(Child::id).collect()
    }

    /// Reads what the workers logged since the last call.
    pub fn poll_logs(&mut self) {
        for log in &mut self.worker_logs {
            log.poll();
        }
    }

    pub fn created(&self) -> impl Iterator<Item = &Created> {
        self.worker_logs.iter().flat_map(|l| l.created.iter())
    }

    /// Documents a worker found already written (a copy of one written before, e.g. by a worker
    /// killed before its ack): written, nothing sent again.
    pub fn already(&self) -> impl Iterator<Item = &Created> {
        self.worker_logs.iter().flat_map(|l| l.already.iter())
    }

    /// The workers' log lines of [`NOTABLE`] messages.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.worker_logs.iter().flat_map(|l| l.events.iter())
    }

    pub fn created_count(&self) -> usize {
        self.worker_logs.iter().map(|l| l.created.len()).sum()
    }

    /// Waits until `n` quotes are logged as created, at most `limit`.
    pub async fn wait_created(&mut self, n: usize, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            self.poll_logs();
            if self.created_count() >= n {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                let parked = self.ns.ready(&self.ns.topology.parked_queue()).await.unwrap_or(0);
                bail!(
                    "{} of {n} quotes created after {}; {parked} parked; last worker warnings:\n{}",
                    self.created_count(),
                    humantime::format_duration(limit),
                    self.worker_logs
                        .iter()
                        .flat_map(|l| l.warnings.iter().rev().take(5))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Worker log lines (all, read again from the files) containing `part`.
    pub fn count_in_logs(&self, part: &str) -> usize {
        self.worker_logs
            .iter()
            .map(|l| {
                std::fs::read_to_string(&l.path)
                    .unwrap_or_default()
                    .lines()
                    .filter(|x| x.contains(part))
                    .count()
            })
            .sum()
    }

    pub async fn stop(mut self) {
        for w in &mut self.workers {
            let _ = w.start_kill();
        }
        for w in &mut self.workers {
            let _ = w.wait().await;
        }
        self.ns.remove().await;
    }
}

/// A quote the worker logged as created (or found already written).
pub struct Created {
    pub source: String,
    pub at: SystemTime,
    /// The quote's number, as logged.
    pub quote: String,
}

/// A worker log line of one of the [`NOTABLE`] messages.
pub struct Event {
    /// The message's beginning, as in [`NOTABLE`].
    pub message: &'static str,
    pub at: SystemTime,
    pub source: Option<String>,
    /// The line's `back` field (documents brought back from the retry tiers), else 0.
    pub back: u64,
}

/// Worker messages the recovery benchmark counts (each line's message starts with one).
pub const NOTABLE: [&str; 6] = [
    "transient failure: retrying later",
    "held back by Jobber's shared budget",
    "another attempt holds the document's lease",
    "Jobber is failing for every document (circuit breaker open)",
    "probe: Jobber answers again",
    "documents the outage had sent to the retry tiers brought back",
];

fn timestamp(v: &Value) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(v["timestamp"].as_str()?.trim_end_matches('Z')).ok()
}

/// A worker's JSON log, read incrementally.
pub struct LogTail {
    pub path: PathBuf,
    offset: usize,
    pub created: Vec<Created>,
    pub already: Vec<Created>,
    pub events: Vec<Event>,
    /// WARN and ERROR lines (the last few kept).
    pub warnings: Vec<String>,
}

impl LogTail {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            offset: 0,
            created: Vec::new(),
            already: Vec::new(),
            events: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn poll(&mut self) {
        let Ok(bytes) = std::fs::read(&self.path) else { return };
        let Some(end) = bytes[self.offset.min(bytes.len())..].iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let end = self.offset + end + 1;
        let text = String::from_utf8_lossy(&bytes[self.offset..end]).into_owned();
        self.offset = end;
        for line in text.lines() {
            if line.contains("\"quote created\"") {
                let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
                let (Some(source), Some(at)) = (v["source"].as_str(), v["timestamp"].as_str()) else {
                    continue;
                };
                let Ok(at) = humantime::parse_rfc3339_weak(at.trim_end_matches('Z')) else { continue };
                let quote = v["quote"].as_str().unwrap_or_default().to_owned();
                self.created.push(Created { source: source.to_owned(), at, quote });
                continue;
            }
            if line.contains("\"already in Jobber: nothing written\"") {
                let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
                if let (Some(source), Some(at)) = (v["source"].as_str(), timestamp(&v)) {
                    let quote = v["quote"].as_str().unwrap_or_default().to_owned();
                    self.already.push(Created { source: source.to_owned(), at, quote });
                }
            } else if let Some(message) = NOTABLE.iter().find(|m| line.contains(*m)) {
                let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
                if let Some(at) = timestamp(&v) {
                    self.events.push(Event {
                        message,
                        at,
                        source: v["source"].as_str().map(str::to_owned),
                        back: v["back"].as_u64().unwrap_or(0),
                    });
                }
            }
            if line.contains("\"WARN\"") || line.contains("\"ERROR\"") {
                self.warnings.push(line.chars().take(400).collect());
                if self.warnings.len() > 50 {
                    self.warnings.remove(0);
                }
            }
        }
    }
}

/// Clock ticks per second for /proc/<pid>/stat.
fn ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Fields of /proc/<pid>/stat after the command name (field 3, the state, is index 0).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect())
}

/// utime + stime of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let f = stat_fields(&pid.to_string())?;
    Some((f[10] + f[11]) as f64 / ticks_per_second())
}

/// cutime + cstime of this process: the CPU time of the children it has waited for.
pub fn children_cpu_seconds() -> f64 {
    stat_fields("self").map(|f| (f[12] + f[13]) as f64 / ticks_per_second()).unwrap_or(0.0)
}

/// (VmRSS, VmHWM) of a process, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// `uptime`'s load averages (1, 5, 15 minutes).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Percentile (0–100) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        // Busy until the kernel has counted a tick of CPU time (at most 5 s).
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_seconds(pid).is_some_and(|s| s == 0.0) && started.elapsed() < Duration::from_secs(5) {
            for i in 0..1_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
        }
        assert!(cpu_seconds(pid).is_some_and(|s| s > 0.0));
        let (rss, hwm) = memory_kib(pid).unwrap();
        assert!(rss > 0 && hwm >= rss);
    }
}
