//! `sj-bench`: the bridge's benchmarks, every one against real processes (the release binaries of
//! sj-poller, sj-worker and sj-sandbox, the machine's RabbitMQ and Redis, each run in a namespace
//! of its own). Prints a table of figures and writes `bench/results/latest.md` and `.json`.
//! How to run and what each figure means: CONTRIBUTING.md, "Benchmarks".

mod broker;
mod budget;
mod docs;
mod env;
mod latency;
mod parser;
mod pipeline;
mod rabbit;
mod recovery;
mod report;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser as _;

/// Benchmarks of the bridge against real processes; results in bench/results/latest.{md,json}.
#[derive(clap::Parser)]
#[command(name = "sj-bench", version, about)]
struct Cli {
    /// A short run: fewer documents, a 15 s latency run, 1,000 documents for the Jobber budget
    /// without waiting for a request window.
    #[arg(long)]
    quick: bool,
    /// Only these benchmarks (comma-separated): broker, pipeline, latency, budget, parser,
    /// recovery.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also the recovery benchmark (a worker SIGKILLed, RabbitMQ restarted, a Jobber outage under
    /// a steady flow, next to the steady-state throughput; about 5 minutes, plus a RabbitMQ node
    /// of its own to start). Not in a plain run; `--only recovery` runs it alone.
    #[arg(long)]
    recovery: bool,
    /// Where to write latest.md and latest.json [default: bench/results].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let wanted = |name: &str| {
        let listed = cli.only.iter().any(|o| o == name);
        // Opt-in: long, and it starts a RabbitMQ node of its own.
        if name == "recovery" {
            return listed || cli.recovery;
        }
        cli.only.is_empty() || listed
    };
    let quick = cli.quick;
    let bin = env::build_binaries()?;
    let mut r = report::Report::new(quick);

    if wanted("broker") || wanted("pipeline") {
        let n = if quick { 2_000 } else { 10_000 };
        eprintln!("sj-bench: broker ceiling ({n} messages)");
        r.ceiling = r.record("broker", broker::run(&env::Namespace::new("ceiling").name, n, 2).await);
        let n = if quick { 300 } else { 1_500 };
        eprintln!("sj-bench: pipeline ({n} documents, 2 workers)");
        r.pipeline = r.record("pipeline", pipeline::run(&bin, n).await);
    }
    if wanted("latency") {
        let secs = if quick { 15 } else { 60 };
        eprintln!("sj-bench: latency (20 documents/s for {secs} s)");
        r.latency = r.record("latency", latency::run(&bin, 20.0, Duration::from_secs(secs)).await);
    }
    if wanted("parser") {
        eprintln!("sj-bench: parser");
        r.parser = r.record("parser", parser::run(quick));
    }
    if wanted("budget") {
        let n = if quick { 1_000 } else { 3_000 };
        eprintln!("sj-bench: Jobber budget ({n} documents of 50 customers, 3 workers, Jobber's limits on)");
        r.budget = r.record("budget", budget::run(&bin, n, !quick).await);
    }
    if wanted("recovery") {
        let plan = recovery::Plan::new(quick);
        eprintln!(
            "sj-bench: recovery (steady state, then a worker SIGKILLed, RabbitMQ restarted, a {} s Jobber outage)",
            plan.outage.as_secs()
        );
        r.recovery = r.record("recovery", recovery::run(&bin, plan).await);
    }
    r.finish();

    let markdown = r.markdown();
    println!("{markdown}");
    let out = cli.out.unwrap_or_else(|| env::root().join("bench/results"));
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("latest.md"), &markdown)?;
    std::fs::write(out.join("latest.json"), serde_json::to_string_pretty(&r)? + "\n")?;
    eprintln!("sj-bench: wrote {}/latest.md and latest.json", out.display());
    anyhow::ensure!(r.failed.is_empty(), "{} benchmark(s) failed", r.failed.len());
    Ok(())
}
