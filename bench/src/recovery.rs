//! Recovery (issue 20): how long the bridge takes to catch up after a fault, next to its
//! steady-state throughput in the same run. On a RabbitMQ node of the benchmark's own (it is
//! restarted; the machine's never is), the machine's Redis (a namespace of its own) and a sandbox
//! with its limits off:
//!
//! 1. steady state: the pipeline benchmark's backlog run (folder → `sj-poller --once` → 2
//!    workers → sandbox), documents/s;
//! 2. a steady flow of documents (files renamed into the watched folder at a fixed rate, a
//!    long-running poller) throughout three scenarios: a worker SIGKILLed while it holds
//!    documents (a burst has filled both workers' prefetch windows) and restarted at once;
//!    RabbitMQ stopped cleanly and started again; Jobber answering 503 to every GraphQL request
//!    for a while, then the fault cleared.
//!
//! Recovery time: from the fault's end (the new worker consuming; the broker answering an AMQP
//! client; the faults cleared) to the moment every document dropped into the folder before that
//! end is written (its worker's "quote created", or "already in Jobber" for a copy of one written
//! before, by the log's timestamps). Its floor is the flow's own latency (the poller's 500 ms
//! settle included), measured before the faults.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::json;
use sj_shared::config::{AmqpSettings, SecretUrl};
use tokio::process::Child;

use crate::docs;
use crate::env::{self, Binaries, Bridge, Namespace, Sandbox};
use crate::pipeline::{self, Pipeline};
use crate::rabbit::PrivateRabbit;

const CUSTOMERS: usize = 20;
const WORKERS: usize = 2;
/// How long Jobber takes to answer a `quoteCreate` around the worker's kill.
const SLOW_WRITE_MS: u64 = 250;

/// How long and how hard.
#[derive(Clone, Copy)]
pub struct Plan {
    /// Documents of the steady-state (backlog) run.
    pub backlog: usize,
    /// The flow's rate, documents/s.
    pub rate: f64,
    /// Flow before the first fault (its latency measured) and between scenarios.
    pub calm: Duration,
    /// Documents dropped at once before the kill, so that both workers hold documents.
    pub burst: usize,
    /// How long Jobber fails.
    pub outage: Duration,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                backlog: 300,
                rate: 5.0,
                calm: Duration::from_secs(5),
                burst: 200,
                outage: Duration::from_secs(20),
            }
        } else {
            // Within Jobber's request budget, which the workers keep whatever the sandbox's limits
            // (2,500 requests per 300 s, `sj_shared::jobber::budget`): 500 + 5/s × 300 s + a burst
            // of 200 is 2,200 in any window. Above it (a first run at 1,500 + 20/s), the budget,
            // not the fault, set the recovery times (documents held back for the next window).
            Self {
                backlog: 500,
                rate: 5.0,
                calm: Duration::from_secs(10),
                burst: 200,
                outage: Duration::from_secs(60),
            }
        }
    }
}

#[derive(Serialize, Clone, Default)]
pub struct Recovery {
    /// The same run's steady state (the pipeline benchmark's backlog run, on this broker).
    pub steady: Pipeline,
    pub flow_per_s: f64,
    /// The flow's latency before any fault (file appearing → quote created): the recovery
    /// time's floor.
    pub flow_p50_ms: f64,
    pub flow_p99_ms: f64,
    pub scenarios: Vec<Scenario>,
    /// Flow documents in all, and the quotes in the sandbox at the end (for all documents,
    /// backlog included): equal when nothing was written twice.
    pub flow_documents: usize,
    pub documents: usize,
    pub quotes_in_jobber: usize,
    /// Documents with more than one quote in Jobber (by the marker each quote carries): the
    /// document, its quotes' numbers and when the workers logged them.
    pub written_twice: Vec<String>,
    /// Processes that ended unasked and were started again (e.g. on the broker's restart).
    pub restarted_unasked: Vec<String>,
}

#[derive(Serialize, Clone, Default)]
pub struct Scenario {
    pub name: String,
    /// What was done, in words.
    pub fault: String,
    /// From the fault's start to its end.
    pub fault_s: f64,
    /// Flow documents dropped from the scenario's start to the fault's end.
    pub documents: usize,
    /// From the fault's end to the last of every document dropped before it written.
    pub recovery_s: f64,
    /// recovery_s × the steady-state throughput.
    pub documents_worth: f64,
    /// Documents sent to a retry tier (distinct), and the retry-tier sends in all.
    pub retried_documents: usize,
    pub retry_sends: usize,
    /// Documents held back by the workers' shared Jobber budget (its window spent): when not 0,
    /// the budget, not the fault, may set the recovery time.
    pub budget_deferrals: usize,
    /// Documents brought back from the retry tiers when the breaker closed.
    pub brought_back: u64,
    /// Documents that waited in hand for another attempt's lease.
    pub lease_waits: usize,
    /// Documents found already written (a copy of one a killed or cut-off worker wrote).
    pub already_written: usize,
    /// Whether the shared circuit breaker opened.
    pub breaker_opened: bool,
    /// Scenario-specific detail.
    pub note: String,
}

pub async fn run(bin: &Binaries, plan: Plan) -> anyhow::Result<Recovery> {
    let scratch = tempfile::Builder::new().prefix("sj-bench-recovery-").tempdir()?;
    eprintln!("sj-bench: recovery: starting a RabbitMQ node of its own");
    let rabbit = PrivateRabbit::start(&scratch.path().join("rabbitmq")).await?;
    let amqp = AmqpSettings {
        url: SecretUrl::parse(&rabbit.url()).map_err(anyhow::Error::msg)?,
        ..AmqpSettings::default()
    };
    let sandbox = Sandbox::start(&bin.sandbox, false, &scratch.path().join("sandbox.log")).await?;
    let bridge = Bridge::new(Namespace::on("recovery", amqp), &sandbox)?;
    let mut run = Run { bin, sandbox, bridge, rabbit, poller: None, poller_starts: 0, restarted: Vec::new() };
    let result = measure(&mut run, plan).await;
    let mut scratch = scratch;
    if result.is_err() || std::env::var_os("SJ_BENCH_KEEP").is_some_and(|v| v == "1") {
        // Kept for a look: the processes' logs and the broker's.
        scratch.disable_cleanup(true);
        run.bridge.dir.disable_cleanup(true);
        eprintln!(
            "sj-bench: recovery: logs kept in {} and {}",
            run.bridge.dir.path().display(),
            scratch.path().display()
        );
    }
    finish(run, result).await
}

async fn finish(mut run: Run<'_>, result: anyhow::Result<Recovery>) -> anyhow::Result<Recovery> {
    if let Some(mut p) = run.poller.take() {
        let _ = p.start_kill();
        let _ = p.wait().await;
    }
    run.bridge.stop().await;
    run.sandbox.stop().await;
    drop(run.rabbit);
    result
}

/// Everything the scenarios act on.
struct Run<'a> {
    bin: &'a Binaries,
    sandbox: Sandbox,
    bridge: Bridge,
    rabbit: PrivateRabbit,
    poller: Option<Child>,
    poller_starts: usize,
    restarted: Vec<String>,
}

impl Run<'_> {
    fn start_poller(&mut self) -> anyhow::Result<std::path::PathBuf> {
        self.poller_starts += 1;
        let log = self.bridge.log(&format!("poller-flow-{}.log", self.poller_starts));
        let child = self
            .bridge
            .command(&self.bin.poller)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting sj-poller")?;
        self.poller = Some(child);
        Ok(log)
    }

    /// Restarts what ended unasked (as systemd would), noting it.
    async fn supervise(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.poller.as_mut().and_then(|p| p.try_wait().ok().flatten()) {
            self.restarted.push(format!("sj-poller ({status})"));
            self.start_poller()?;
        }
        for i in 0..self.bridge.workers.len() {
            if let Some(status) = self.bridge.workers[i].try_wait().ok().flatten() {
                self.restarted.push(format!("sj-worker {i} ({status})"));
                self.bridge.respawn_worker(&self.bin.worker, i).await?;
            }
        }
        Ok(())
    }

    /// Every document's first written time (created, or found already written).
    fn written(&mut self) -> HashMap<String, SystemTime> {
        self.bridge.poll_logs();
        let mut written: HashMap<String, SystemTime> = HashMap::new();
        for c in self.bridge.created().chain(self.bridge.already()) {
            let at = written.entry(c.source.clone()).or_insert(c.at);
            *at = (*at).min(c.at);
        }
        written
    }

    /// Waits until every one of `names` is written; returns the last of their written times.
    async fn wait_written(&mut self, names: &[String], limit: Duration) -> anyhow::Result<SystemTime> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            self.supervise().await?;
            let written = self.written();
            let missing = names.iter().filter(|n| !written.contains_key(*n)).count();
            if missing == 0 {
                let last = names.iter().filter_map(|n| written.get(n)).max().copied();
                return Ok(last.unwrap_or_else(SystemTime::now));
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "{missing} of {} documents not written after {}; last worker warnings:\n{}",
                    names.len(),
                    humantime::format_duration(limit),
                    self.bridge
                        .worker_logs
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

    /// Flow, restarting what ends, for `d`.
    async fn calm(&mut self, d: Duration) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + d;
        while tokio::time::Instant::now() < until {
            self.supervise().await?;
            self.bridge.poll_logs();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

/// Files renamed into the watched folder at a fixed rate (plus bursts on demand), each noted
/// with the moment it appeared.
struct Flow {
    appeared: Arc<Mutex<Vec<(String, SystemTime)>>>,
    burst: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Flow {
    fn start(bridge: &Bridge, rate: f64) -> anyhow::Result<Self> {
        let template = docs::template()?;
        let (incoming, staging) = (bridge.incoming(), bridge.staging());
        let appeared = Arc::new(Mutex::new(Vec::new()));
        let burst = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, b, s) = (appeared.clone(), burst.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let interval = Duration::from_secs_f64(1.0 / rate);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut d = 0usize;
            while !s.load(Ordering::SeqCst) {
                tick.tick().await;
                let count = 1 + b.swap(0, Ordering::SeqCst);
                let mut names = Vec::with_capacity(count);
                for _ in 0..count {
                    let name = format!("flow-{d:06}.xml");
                    let staged = staging.join(&name);
                    std::fs::write(&staged, docs::document(&template, "r", d, d % CUSTOMERS))?;
                    std::fs::rename(&staged, incoming.join(&name))?;
                    names.push(name);
                    d += 1;
                }
                let now = SystemTime::now();
                a.lock().expect("not poisoned").extend(names.into_iter().map(|n| (n, now)));
            }
            Ok(())
        });
        Ok(Self { appeared, burst, stop, task })
    }

    /// Documents that appeared in `[from, to]`.
    fn between(&self, from: SystemTime, to: SystemTime) -> Vec<String> {
        let appeared = self.appeared.lock().expect("not poisoned");
        appeared.iter().filter(|(_, at)| *at >= from && *at <= to).map(|(n, _)| n.clone()).collect()
    }

    fn count(&self) -> usize {
        self.appeared.lock().expect("not poisoned").len()
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.task.is_finished(), "the document flow stopped");
        Ok(())
    }

    async fn stop(&mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        (&mut self.task).await?
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn measure(run: &mut Run<'_>, plan: Plan) -> anyhow::Result<Recovery> {
    eprintln!("sj-bench: recovery: steady state ({} documents, {WORKERS} workers)", plan.backlog);
    let steady = pipeline::measure(run.bin, &run.sandbox, &mut run.bridge, plan.backlog, CUSTOMERS).await?;
    let steady_rate = steady.docs_per_s;

    let poller_log = run.start_poller()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&poller_log).unwrap_or_default().contains("sj-poller ready") {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "sj-poller did not get ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("sj-bench: recovery: a flow of {:.0} documents/s, {} s calm", plan.rate, plan.calm.as_secs());
    let mut flow = Flow::start(&run.bridge, plan.rate)?;
    let flow_start = SystemTime::now();
    run.calm(plan.calm).await?;
    let calm_names = flow.between(flow_start, SystemTime::now());
    run.wait_written(&calm_names, Duration::from_secs(60)).await?;
    let latencies = {
        let written = run.written();
        let appeared = flow.appeared.lock().expect("not poisoned");
        let mut l: Vec<f64> = appeared
            .iter()
            .filter(|(n, _)| calm_names.contains(n))
            .filter_map(|(n, at)| written.get(n)?.duration_since(*at).ok())
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        l.sort_by(f64::total_cmp);
        l
    };

    let mut scenarios = Vec::new();
    for which in [Which::WorkerKill, Which::BrokerRestart, Which::JobberOutage] {
        flow.check()?;
        eprintln!("sj-bench: recovery: {}", which.name());
        let scenario = scenario(run, &flow, plan, which, steady_rate).await?;
        eprintln!(
            "sj-bench: recovery: {}: {:.1} s after the fault's end ({:.0} documents' worth at steady state)",
            scenario.name, scenario.recovery_s, scenario.documents_worth
        );
        scenarios.push(scenario);
        run.calm(plan.calm).await?;
    }

    flow.check()?;
    flow.stop().await?;
    let flow_documents = flow.count();
    let all: Vec<String> = {
        let appeared = flow.appeared.lock().expect("not poisoned");
        appeared.iter().map(|(n, _)| n.clone()).collect()
    };
    run.wait_written(&all, Duration::from_secs(120)).await?;
    // The last writes' quotes are in the sandbox once logged; a moment for the count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let quotes = run.sandbox.quotes().await?;
    std::fs::write(run.bridge.log("quotes.json"), serde_json::to_string_pretty(&quotes)?)?;
    let written_twice = twice(&quotes, &run.bridge);
    Ok(Recovery {
        steady,
        flow_per_s: plan.rate,
        flow_p50_ms: env::percentile(&latencies, 50.0),
        flow_p99_ms: env::percentile(&latencies, 99.0),
        scenarios,
        flow_documents,
        documents: plan.backlog + flow_documents,
        quotes_in_jobber: quotes.len(),
        written_twice,
        restarted_unasked: run.restarted.clone(),
    })
}

#[derive(Clone, Copy)]
enum Which {
    WorkerKill,
    BrokerRestart,
    JobberOutage,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::WorkerKill => "worker SIGKILLed",
            Which::BrokerRestart => "RabbitMQ restarted",
            Which::JobberOutage => "Jobber outage",
        }
    }
}

async fn scenario(
    run: &mut Run<'_>,
    flow: &Flow,
    plan: Plan,
    which: Which,
    steady_rate: f64,
) -> anyhow::Result<Scenario> {
    let began = SystemTime::now();
    let (fault, note, fault_start, end) = match which {
        Which::WorkerKill => {
            // A burst fills both workers' prefetch windows (10 each): once messages wait ready
            // in the queue, each worker holds its full window. Jobber answers `quoteCreate` after
            // 250 ms meanwhile, so that 4 of them (`worker.concurrency`) are in the middle of
            // their write, their intent lease taken, when the SIGKILL comes: the case the lease
            // bounds (a copy of a crashed worker's document waits for the rest of its lease).
            let slow =
                json!({"route": "/api/graphql", "latency_ms": SLOW_WRITE_MS, "body_contains": "quoteCreate"});
            run.sandbox.set_fault(&slow).await?;
            flow.burst.store(plan.burst, Ordering::SeqCst);
            let queue = run.bridge.ns.topology.quotes_queue().to_string();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            let ready = loop {
                let ready = run.bridge.ns.ready(&queue).await?;
                if ready >= 5 {
                    break ready;
                }
                anyhow::ensure!(
                    tokio::time::Instant::now() < deadline,
                    "the burst never filled the workers' windows (ready: {ready})"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            let start = SystemTime::now();
            run.bridge.kill_worker(0).await;
            run.sandbox.clear_faults().await?;
            run.bridge.respawn_worker(&run.bin.worker, 0).await?;
            let end = SystemTime::now();
            (
                format!(
                    "burst of {} documents, Jobber's quoteCreate slowed to {SLOW_WRITE_MS} ms; SIGKILL worker 0 of 2 \
                     mid-write, restarted at once",
                    plan.burst
                ),
                format!("{ready} ready in the queue at the kill: both prefetch windows full"),
                start,
                end,
            )
        }
        Which::BrokerRestart => {
            let start = SystemTime::now();
            run.rabbit.restart().await?;
            let end = SystemTime::now();
            (
                "RabbitMQ (the bench's own node) stopped cleanly, started again".to_owned(),
                String::new(),
                start,
                end,
            )
        }
        Which::JobberOutage => {
            let start = SystemTime::now();
            run.sandbox
                .set_fault(&json!({"route": "/api/graphql", "error_rate": 1.0, "status": 503}))
                .await?;
            let until = tokio::time::Instant::now() + plan.outage;
            while tokio::time::Instant::now() < until {
                run.supervise().await?;
                run.bridge.poll_logs();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            run.sandbox.clear_faults().await?;
            let end = SystemTime::now();
            (
                format!(
                    "every Jobber GraphQL request answered 503 for {} s, then DELETE /_admin/faults",
                    plan.outage.as_secs()
                ),
                String::new(),
                start,
                end,
            )
        }
    };
    // Every document dropped before the fault's end: those of the scenario, and any earlier one
    // not yet written.
    let everything_before = flow.between(SystemTime::UNIX_EPOCH, end);
    let documents = flow.between(began, end).len();
    let last = run.wait_written(&everything_before, Duration::from_secs(300)).await?;
    let recovery_s = last.duration_since(end).map(|d| d.as_secs_f64()).unwrap_or(0.0);

    let window = |at: SystemTime| at >= began && at <= last;
    let events: Vec<&env::Event> = run.bridge.events().filter(|e| window(e.at)).collect();
    let distinct = |message: &str| {
        events
            .iter()
            .filter(|e| e.message == message)
            .filter_map(|e| e.source.as_deref())
            .collect::<HashSet<_>>()
            .len()
    };
    let retry = env::NOTABLE[0];
    Ok(Scenario {
        name: which.name().to_owned(),
        fault,
        fault_s: end.duration_since(fault_start).map(|d| d.as_secs_f64()).unwrap_or(0.0),
        documents,
        recovery_s,
        documents_worth: recovery_s * steady_rate,
        retried_documents: distinct(retry),
        retry_sends: events.iter().filter(|e| e.message == retry).count(),
        budget_deferrals: events.iter().filter(|e| e.message == env::NOTABLE[1]).count(),
        brought_back: events.iter().filter(|e| e.message == env::NOTABLE[5]).map(|e| e.back).sum(),
        // Logged once per wait (the line names no document).
        lease_waits: events.iter().filter(|e| e.message == env::NOTABLE[2]).count(),
        already_written: run.bridge.already().filter(|c| window(c.at)).count(),
        breaker_opened: events.iter().any(|e| e.message == env::NOTABLE[3]),
        note,
    })
}

/// The document marker a quote carries (`SJ-…`, in its custom field or title).
fn marker(quote: &serde_json::Value) -> Option<String> {
    let text = quote.to_string();
    let at = text.find("SJ-")?;
    let id: String = text[at + 3..].chars().take_while(char::is_ascii_alphanumeric).collect();
    (!id.is_empty()).then(|| format!("SJ-{id}"))
}

/// Documents written more than once: markers on several quotes, each quote named with what its
/// worker logged (document, time), if it logged it.
fn twice(quotes: &[serde_json::Value], bridge: &Bridge) -> Vec<String> {
    let mut by_marker: HashMap<String, Vec<String>> = HashMap::new();
    for q in quotes {
        if let Some(m) = marker(q) {
            by_marker.entry(m).or_default().push(q["quote_number"].as_str().unwrap_or("?").to_owned());
        }
    }
    let logged: HashMap<&str, &env::Created> = bridge.created().map(|c| (c.quote.as_str(), c)).collect();
    let mut found: Vec<String> = by_marker
        .into_iter()
        .filter(|(_, numbers)| numbers.len() > 1)
        .map(|(m, numbers)| {
            let each: Vec<String> = numbers
                .iter()
                .map(|n| match logged.get(n.as_str()) {
                    Some(c) => format!("#{n} ({} at {})", c.source, humantime::format_rfc3339_millis(c.at)),
                    None => format!("#{n} (no \"quote created\" logged)"),
                })
                .collect();
            format!("{m}: {}", each.join(", "))
        })
        .collect();
    found.sort();
    found
}
