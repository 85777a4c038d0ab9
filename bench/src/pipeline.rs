//! The full pipeline's throughput and what it costs: a folder of N documents of known customers
//! → `sj-poller --once` → 2 workers → the sandbox with its limits off.

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::docs;
use crate::env::{self, Binaries, Bridge, Namespace, Sandbox};

#[derive(Serialize, Clone, Default)]
pub struct Pipeline {
    pub documents: usize,
    pub customers: usize,
    pub workers: usize,
    /// From the poller's start to the last quote created.
    pub seconds: f64,
    pub docs_per_s: f64,
    /// Of those: the poller's `--once` run (read, parse, publish with confirms).
    pub poller_seconds: f64,
    pub jobber_requests_per_doc: f64,
    pub cost: Cost,
}

/// CPU and memory of the bridge's processes during a run.
#[derive(Serialize, Clone, Default)]
pub struct Cost {
    pub poller_cpu_s: f64,
    pub workers_cpu_s: f64,
    /// (poller + workers) CPU seconds per 1,000 documents.
    pub cpu_s_per_1000: f64,
    pub poller_cpu_s_per_1000: f64,
    pub workers_cpu_s_per_1000: f64,
    /// KiB; the idle figure is VmRSS before the first document, the load figure VmHWM after.
    pub poller_rss_idle_kib: u64,
    pub poller_rss_peak_kib: u64,
    pub worker_rss_idle_kib: u64,
    pub worker_rss_peak_kib: u64,
}

impl Cost {
    /// The figures of a run of `n` documents: CPU seconds of the poller and the workers, and
    /// (idle, peak) RSS in KiB of the poller and of the largest worker.
    pub fn of(n: usize, cpu: (f64, f64), poller_rss: (u64, u64), worker_rss: (u64, u64)) -> Self {
        let (poller_cpu, workers_cpu) = cpu;
        let per_1000 = |s: f64| s * 1000.0 / n as f64;
        Cost {
            poller_cpu_s: poller_cpu,
            workers_cpu_s: workers_cpu,
            cpu_s_per_1000: per_1000(poller_cpu + workers_cpu),
            poller_cpu_s_per_1000: per_1000(poller_cpu),
            workers_cpu_s_per_1000: per_1000(workers_cpu),
            poller_rss_idle_kib: poller_rss.0,
            poller_rss_peak_kib: poller_rss.1,
            worker_rss_idle_kib: worker_rss.0,
            worker_rss_peak_kib: worker_rss.1,
        }
    }
}

pub async fn run(bin: &Binaries, n: usize) -> anyhow::Result<Pipeline> {
    let customers = 20;
    let ns = Namespace::new("pipeline");
    let scratch = tempfile::tempdir()?;
    let sandbox = Sandbox::start(&bin.sandbox, false, &scratch.path().join("sandbox.log")).await?;
    let mut bridge = Bridge::new(ns, &sandbox)?;
    let result = measure(bin, &sandbox, &mut bridge, n, customers).await;
    bridge.stop().await;
    sandbox.stop().await;
    result
}

/// The run on a bridge of the caller's (its namespace, sandbox and broker): creates the customers,
/// starts 2 workers (left running) and pushes a backlog of `n` documents through `sj-poller --once`.
pub async fn measure(
    bin: &Binaries,
    sandbox: &Sandbox,
    bridge: &mut Bridge,
    n: usize,
    customers: usize,
) -> anyhow::Result<Pipeline> {
    let known = docs::create_customers(sandbox, customers).await?;
    docs::write_mapping(&bridge.mapping_csv(), &known)?;
    bridge.ns.trust_redis().await?;
    docs::write_backlog(&bridge.incoming(), "p", n, customers)?;
    bridge.start_workers(&bin.worker, 2).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids = bridge.worker_pids();
    let worker_rss_idle = pids.iter().filter_map(|p| env::memory_kib(*p)).map(|m| m.0).max().unwrap_or(0);
    let workers_before: f64 = pids.iter().filter_map(|p| env::cpu_seconds(*p)).sum();
    let counters_before = sandbox.counters().await?;

    let children_before = env::children_cpu_seconds();
    let started_wall = SystemTime::now();
    let started = Instant::now();
    let mut poller = bridge
        .command(&bin.poller)
        .arg("--once")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(bridge.log("poller.log"))?)
        .spawn()?;
    let pid = poller.id().unwrap_or(0);
    let (mut poller_rss_idle, mut poller_rss_peak) = (0, 0);
    let status = loop {
        if let Some((rss, hwm)) = env::memory_kib(pid) {
            if poller_rss_idle == 0 {
                poller_rss_idle = rss;
            }
            poller_rss_peak = poller_rss_peak.max(hwm);
        }
        tokio::select! {
            status = poller.wait() => break status?,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    let poller_seconds = started.elapsed().as_secs_f64();
    let poller_cpu = env::children_cpu_seconds() - children_before;
    anyhow::ensure!(
        status.success(),
        "sj-poller --once failed (log: {})",
        bridge.log("poller.log").display()
    );

    bridge.wait_created(n, Duration::from_secs(600)).await?;
    let last = bridge.created().map(|c| c.at).max().unwrap_or_else(SystemTime::now);
    let seconds = last.duration_since(started_wall).unwrap_or_default().as_secs_f64();
    let workers_cpu = pids.iter().filter_map(|p| env::cpu_seconds(*p)).sum::<f64>() - workers_before;
    let worker_rss_peak = pids.iter().filter_map(|p| env::memory_kib(*p)).map(|m| m.1).max().unwrap_or(0);
    let spent = sandbox.counters().await? - counters_before;
    Ok(Pipeline {
        documents: n,
        customers,
        workers: 2,
        seconds,
        docs_per_s: n as f64 / seconds,
        poller_seconds,
        jobber_requests_per_doc: spent.graphql as f64 / n as f64,
        cost: Cost::of(
            n,
            (poller_cpu, workers_cpu),
            (poller_rss_idle, poller_rss_peak),
            (worker_rss_idle, worker_rss_peak),
        ),
    })
}
