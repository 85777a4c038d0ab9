//! Latency at a steady offered load: files dropped into the watched folder at a fixed rate, a
//! long-running poller (default settings: a file is taken once unchanged for 500 ms) and 2
//! workers, the sandbox's limits off. Latency = the worker's "quote created" log time minus the
//! moment the file appeared (renamed into the folder, complete).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::docs;
use crate::env::{self, Binaries, Bridge, Namespace, Sandbox};
use crate::pipeline::Cost;

#[derive(Serialize, Clone, Default)]
pub struct Latency {
    pub rate_per_s: f64,
    pub seconds: f64,
    pub documents: usize,
    pub settle_ms: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU and memory during the steady load (poller running throughout).
    pub cost: Cost,
}

pub async fn run(bin: &Binaries, rate: f64, duration: Duration) -> anyhow::Result<Latency> {
    let ns = Namespace::new("latency");
    let scratch = tempfile::tempdir()?;
    let sandbox = Sandbox::start(&bin.sandbox, false, &scratch.path().join("sandbox.log")).await?;
    let mut bridge = Bridge::new(ns, &sandbox)?;
    let mut poller = None;
    let result = measure(bin, &sandbox, &mut bridge, &mut poller, rate, duration).await;
    if let Some(mut p) = poller {
        let _ = p.start_kill();
        let _ = p.wait().await;
    }
    bridge.stop().await;
    sandbox.stop().await;
    result
}

async fn measure(
    bin: &Binaries,
    sandbox: &Sandbox,
    bridge: &mut Bridge,
    poller_slot: &mut Option<tokio::process::Child>,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Latency> {
    let customers = 20;
    let known = docs::create_customers(sandbox, customers).await?;
    docs::write_mapping(&bridge.mapping_csv(), &known)?;
    bridge.ns.trust_redis().await?;
    let poller_log = bridge.log("poller.log");
    let poller = poller_slot.insert(
        bridge
            .command(&bin.poller)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&poller_log)?)
            .spawn()?,
    );
    let poller_pid = poller.id().unwrap_or(0);
    bridge.start_workers(&bin.worker, 2).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&poller_log).unwrap_or_default().contains("sj-poller ready") {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "sj-poller did not get ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids = bridge.worker_pids();
    let worker_rss_idle = pids.iter().filter_map(|p| env::memory_kib(*p)).map(|m| m.0).max().unwrap_or(0);
    let poller_rss_idle = env::memory_kib(poller_pid).map(|m| m.0).unwrap_or(0);
    let workers_before: f64 = pids.iter().filter_map(|p| env::cpu_seconds(*p)).sum();
    let poller_before = env::cpu_seconds(poller_pid).unwrap_or(0.0);

    let template = docs::template()?;
    let n = (rate * duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let mut appeared: HashMap<String, SystemTime> = HashMap::with_capacity(n);
    for d in 0..n {
        tokio::time::sleep_until(start + interval * d as u32).await;
        let name = format!("order-{d:05}.xml");
        let staged = bridge.staging().join(&name);
        std::fs::write(&staged, docs::document(&template, "l", d, d % customers))?;
        std::fs::rename(&staged, bridge.incoming().join(&name))?;
        appeared.insert(name, SystemTime::now());
        if d % 20 == 0 {
            bridge.poll_logs();
        }
    }
    bridge.wait_created(n, Duration::from_secs(120)).await?;
    let workers_cpu = pids.iter().filter_map(|p| env::cpu_seconds(*p)).sum::<f64>() - workers_before;
    let poller_cpu = env::cpu_seconds(poller_pid).unwrap_or(0.0) - poller_before;
    let worker_rss_peak = pids.iter().filter_map(|p| env::memory_kib(*p)).map(|m| m.1).max().unwrap_or(0);
    let poller_rss_peak = env::memory_kib(poller_pid).map(|m| m.1).unwrap_or(0);

    let mut latencies: Vec<f64> = bridge
        .created()
        .filter_map(|c| {
            let from = appeared.get(&c.source)?;
            Some(c.at.duration_since(*from).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0))
        })
        .collect();
    anyhow::ensure!(latencies.len() == n, "{} of {n} quotes matched to their files", latencies.len());
    latencies.sort_by(f64::total_cmp);
    Ok(Latency {
        rate_per_s: rate,
        seconds: duration.as_secs_f64(),
        documents: n,
        settle_ms: 500,
        p50_ms: env::percentile(&latencies, 50.0),
        p95_ms: env::percentile(&latencies, 95.0),
        p99_ms: env::percentile(&latencies, 99.0),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        cost: Cost::of(
            n,
            (poller_cpu, workers_cpu),
            (poller_rss_idle, poller_rss_peak),
            (worker_rss_idle, worker_rss_peak),
        ),
    })
}
