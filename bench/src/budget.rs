//! Jobber's budget: a backlog of documents of known customers, 3 workers, the sandbox with
//! Jobber's real limits (10,000 points restored at 500/s; 2,500 requests per 300 s window,
//! windows aligned to the epoch as Rack::Attack's are).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::docs;
use crate::env::{Binaries, Bridge, Namespace, Sandbox};

pub const BUCKET: f64 = 10_000.0;
pub const RESTORE_PER_S: f64 = 500.0;
pub const WINDOW_REQUESTS: u64 = 2_500;
pub const WINDOW_S: u64 = 300;

#[derive(Serialize, Clone, Default)]
pub struct Budget {
    pub documents: usize,
    pub customers: usize,
    pub workers: usize,
    /// Whether the run started at the beginning of a request window (the full run does).
    pub window_aligned: bool,
    pub requests: u64,
    pub requests_per_doc: f64,
    pub requests_per_s: f64,
    pub points_actual: u64,
    pub points_per_s: f64,
    /// Mean requested / actual cost of a request.
    pub mean_requested_cost: f64,
    pub mean_actual_cost: f64,
    pub throttled: u64,
    pub too_many: u64,
    pub token_refreshes: u64,
    /// Documents turned back to the retry tiers because the shared request count was spent for
    /// the window ("longer than a request may wait").
    pub budget_bounces: usize,
    pub wall_s: f64,
    /// The least wall time the limits allow at one request per document (see [`minimum_wall`]).
    pub minimum_s: f64,
    /// wall / minimum − 1.
    pub over_minimum: f64,
}

/// The least time `n` requests can take under both limits, starting at `start_ms` (epoch ms)
/// with a full bucket: each request is admitted when the bucket holds its requested cost and
/// its window has room, costs its actual cost, and takes no time itself.
pub fn minimum_wall(n: u64, start_ms: f64, requested: f64, actual: f64) -> f64 {
    let window_ms = (WINDOW_S * 1000) as f64;
    let (mut t, mut available) = (start_ms, BUCKET);
    let mut window = (t / window_ms).floor();
    let mut count = 0;
    for _ in 0..n {
        if count >= WINDOW_REQUESTS {
            let next = (window + 1.0) * window_ms;
            available = (available + (next - t) / 1000.0 * RESTORE_PER_S).min(BUCKET);
            t = next;
        }
        if available < requested {
            t += (requested - available) / RESTORE_PER_S * 1000.0;
            available = requested;
        }
        let w = (t / window_ms).floor();
        if w != window {
            window = w;
            count = 0;
        }
        available -= actual;
        count += 1;
    }
    (t - start_ms) / 1000.0
}

pub async fn run(bin: &Binaries, n: usize, align_to_window: bool) -> anyhow::Result<Budget> {
    let ns = Namespace::new("budget");
    let scratch = tempfile::tempdir()?;
    let sandbox = Sandbox::start(&bin.sandbox, true, &scratch.path().join("sandbox.log")).await?;
    let mut bridge = Bridge::new(ns, &sandbox)?;
    let result = measure(bin, &sandbox, &mut bridge, n, align_to_window).await;
    bridge.stop().await;
    sandbox.stop().await;
    result
}

fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0
}

async fn measure(
    bin: &Binaries,
    sandbox: &Sandbox,
    bridge: &mut Bridge,
    n: usize,
    align: bool,
) -> anyhow::Result<Budget> {
    let customers = 50;
    let known = docs::create_customers(sandbox, customers).await?;
    docs::write_mapping(&bridge.mapping_csv(), &known)?;
    bridge.ns.trust_redis().await?;
    docs::write_backlog(&bridge.incoming(), "b", n, customers)?;
    // The backlog: every document published before a worker runs.
    let out = bridge.command(&bin.poller).arg("--once").output().await?;
    anyhow::ensure!(out.status.success(), "sj-poller --once: {}", String::from_utf8_lossy(&out.stderr));
    let setup_window = (epoch_ms(SystemTime::now()) / 1000.0 / WINDOW_S as f64).floor();
    if align {
        // The set-up's requests (clients, tokens) stay in the window before: the run starts with
        // a whole window, so the minimum is the "2,500 at once, the rest after 300 s".
        let start = (setup_window + 1.0) * WINDOW_S as f64 * 1000.0 + 200.0;
        let wait = (start - epoch_ms(SystemTime::now())).max(0.0);
        eprintln!("sj-bench: budget: waiting {:.0} s for the next request window", wait / 1000.0);
        tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
    }
    let before = sandbox.counters().await?;
    let started = SystemTime::now();
    bridge.start_workers(&bin.worker, 3).await?;
    let limit = Duration::from_secs(if n > WINDOW_REQUESTS as usize { 1500 } else { 600 });
    bridge.wait_created(n, limit).await?;
    let last = bridge.created().map(|c| c.at).max().unwrap_or_else(SystemTime::now);
    let spent = sandbox.counters().await? - before;
    let wall_s = last.duration_since(started).unwrap_or_default().as_secs_f64();
    let requests = spent.graphql;
    let ran = requests.saturating_sub(spent.throttled + spent.too_many).max(1) as f64;
    let (mean_requested, mean_actual) =
        (spent.points_requested as f64 / ran, spent.points_actual as f64 / ran);
    let minimum_s = minimum_wall(n as u64, epoch_ms(started), mean_requested, mean_actual);
    Ok(Budget {
        documents: n,
        customers,
        workers: 3,
        window_aligned: align,
        requests,
        requests_per_doc: requests as f64 / n as f64,
        requests_per_s: requests as f64 / wall_s,
        points_actual: spent.points_actual,
        points_per_s: spent.points_actual as f64 / wall_s,
        mean_requested_cost: mean_requested,
        mean_actual_cost: mean_actual,
        throttled: spent.throttled,
        too_many: spent.too_many,
        token_refreshes: spent.token,
        budget_bounces: bridge.count_in_logs("longer than a request may wait"),
        wall_s,
        minimum_s,
        over_minimum: wall_s / minimum_s - 1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: f64 = 300_000.0;

    #[test]
    fn free_requests_are_bound_by_the_window_alone() {
        // From a window's start: 2,500 at once, the 2,501st when the next window opens.
        assert_eq!(minimum_wall(3000, 10.0 * W, 0.0, 0.0), 300.0);
        assert_eq!(minimum_wall(2500, 10.0 * W, 0.0, 0.0), 0.0);
        // 100 s into a window, the next one opens 200 s later.
        assert_eq!(minimum_wall(3000, 10.0 * W + 100_000.0, 0.0, 0.0), 200.0);
    }

    #[test]
    fn costly_requests_are_bound_by_the_bucket() {
        // 100 points each: 100 from the full bucket, then one per 0.2 s.
        let t = minimum_wall(200, 10.0 * W, 100.0, 100.0);
        assert!((t - 20.0).abs() < 1e-6, "{t}");
        // Requested 200, actual 100: 99 at once (the 99th leaves 100), then 0.2 s per request.
        let t = minimum_wall(99, 10.0 * W, 200.0, 100.0);
        assert_eq!(t, 0.0);
        let t = minimum_wall(101, 10.0 * W, 200.0, 100.0);
        assert!((t - 0.4).abs() < 1e-6, "{t}");
    }
}
