//! The run's figures: a table on stdout, `latest.md` (checked in) and `latest.json`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::broker::Ceiling;
use crate::budget::Budget;
use crate::latency::Latency;
use crate::parser::Parser;
use crate::pipeline::{Cost, Pipeline};
use crate::recovery::Recovery;

#[derive(Serialize)]
pub struct Report {
    pub quick: bool,
    pub started: String,
    pub finished: String,
    pub commit: String,
    pub cores: usize,
    /// /proc/loadavg (1, 5, 15 minutes) at the start and the end: other work on the machine.
    pub load_at_start: String,
    pub load_at_end: String,
    pub ceiling: Option<Ceiling>,
    pub pipeline: Option<Pipeline>,
    pub latency: Option<Latency>,
    pub budget: Option<Budget>,
    pub parser: Option<Parser>,
    pub recovery: Option<Recovery>,
    /// Benchmarks that failed, with the reason (the others still report).
    pub failed: Vec<String>,
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn yes(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Report {
    pub fn new(quick: bool) -> Self {
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(crate::env::root())
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Self {
            quick,
            started: now(),
            finished: String::new(),
            commit,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            load_at_start: crate::env::load_average(),
            load_at_end: String::new(),
            ceiling: None,
            pipeline: None,
            latency: None,
            budget: None,
            parser: None,
            recovery: None,
            failed: Vec::new(),
        }
    }

    /// A benchmark's outcome: its figures, or its failure noted.
    pub fn record<T>(&mut self, name: &str, result: anyhow::Result<T>) -> Option<T> {
        match result {
            Ok(figures) => Some(figures),
            Err(e) => {
                eprintln!("sj-bench: {name} failed: {e:#}");
                self.failed.push(format!("{name}: {e:#}"));
                None
            }
        }
    }

    pub fn finish(&mut self) {
        self.finished = now();
        self.load_at_end = crate::env::load_average();
    }

    pub fn markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# sj-bench results{}\n", if self.quick { " (--quick)" } else { "" });
        let _ = writeln!(
            m,
            "Run {} → {} on commit `{}`, {} cores; load average (1/5/15 min) {} at the start, {} at the end. \
             Other work shares these cores: absolute rates move with the load, the ratios (pipeline / broker, \
             parser / bare tokenizer, wall time / the limits' minimum) much less. How to run and what each \
             figure means: CONTRIBUTING.md, \"Benchmarks\".\n",
            self.started, self.finished, self.commit, self.cores, self.load_at_start, self.load_at_end
        );
        for failure in &self.failed {
            let _ = writeln!(m, "**Failed**: {failure}\n");
        }
        let _ = writeln!(m, "## Summary\n");
        let _ = writeln!(m, "| figure | measured | target | met |");
        let _ = writeln!(m, "| --- | --- | --- | --- |");
        if let (Some(c), Some(p)) = (&self.ceiling, &self.pipeline) {
            let _ = writeln!(
                m,
                "| broker ceiling (publish + confirm, consume + ack) | {:.0} msgs/s | — | |",
                c.msgs_per_s
            );
            let _ = writeln!(
                m,
                "| pipeline, folder → 2 workers → Jobber (limits off) | {:.1} documents/s = {:.1} % of the broker's ceiling | — | |",
                p.docs_per_s,
                100.0 * p.docs_per_s / c.msgs_per_s
            );
        }
        if let Some(l) = &self.latency {
            let _ = writeln!(
                m,
                "| latency at {:.0} documents/s, p50 / p95 / p99 | {:.0} / {:.0} / {:.0} ms | p99 < 1,000 ms | {} |",
                l.rate_per_s,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                yes(l.p99_ms < 1000.0)
            );
        }
        let cost_row = |m: &mut String, what: &str, c: &Cost| {
            let _ = writeln!(
                m,
                "| CPU per 1,000 documents, poller + workers ({what}) | {:.2} s ({:.2} + {:.2}) | ≤ 1.5 s | {} |",
                c.cpu_s_per_1000,
                c.poller_cpu_s_per_1000,
                c.workers_cpu_s_per_1000,
                yes(c.cpu_s_per_1000 <= 1.5)
            );
        };
        if let Some(p) = &self.pipeline {
            cost_row(&mut m, "throughput run", &p.cost);
        }
        if let Some(l) = &self.latency {
            cost_row(&mut m, "steady 20/s", &l.cost);
        }
        let peak = [self.pipeline.as_ref().map(|p| &p.cost), self.latency.as_ref().map(|l| &l.cost)]
            .into_iter()
            .flatten()
            .map(|c| c.worker_rss_peak_kib)
            .max();
        if let Some(peak) = peak {
            let _ = writeln!(
                m,
                "| worker peak RSS | {:.1} MiB | < 40 MiB | {} |",
                mib(peak),
                yes(mib(peak) < 40.0)
            );
        }
        if let Some(b) = &self.budget {
            let _ = writeln!(
                m,
                "| Jobber requests per document ({} documents, 50 known customers) | {:.3} | ≤ 1.3 | {} |",
                b.documents,
                b.requests_per_doc,
                yes(b.requests_per_doc <= 1.3)
            );
            let _ = writeln!(
                m,
                "| THROTTLED / 429 | {} / {} | 0 / 0 | {} |",
                b.throttled,
                b.too_many,
                yes(b.throttled == 0 && b.too_many == 0)
            );
            let meaningful = b.documents > crate::budget::WINDOW_REQUESTS as usize;
            let _ = writeln!(
                m,
                "| budget wall time / the limits' minimum | {:.1} s / {:.1} s (+{:.0} %) | within 15 % | {} |",
                b.wall_s,
                b.minimum_s,
                100.0 * b.over_minimum,
                if meaningful { yes(b.over_minimum <= 0.15) } else { "n/a (--quick: no window)" }
            );
        }
        if let Some(p) = &self.parser {
            let _ = writeln!(
                m,
                "| parser on the samples | {:.1} MB/s, {:.2}× the bare tokenizer's time | — | |",
                p.samples_mb_per_s, p.samples_ratio
            );
            if let Some(big) = p.rows.iter().find(|r| r.input.starts_with("generated") && r.form == "xml") {
                let _ = writeln!(
                    m,
                    "| parser on a 5,000-line order (XML, {:.0} KiB) | {:.1} MB/s, {:.1} ms, {:.2}× | — | |",
                    big.kib,
                    big.mb_per_s,
                    1000.0 / big.docs_per_s,
                    big.ratio
                );
            }
        }
        if let Some(r) = &self.recovery {
            let _ = writeln!(
                m,
                "| steady state of the recovery run (own broker), folder → 2 workers → Jobber | {:.1} documents/s | — | |",
                r.steady.docs_per_s
            );
            for s in &r.scenarios {
                let _ = writeln!(
                    m,
                    "| recovery after {} | {:.1} s = {:.0} documents' worth at steady state; {} documents through the retry tiers | — | |",
                    recovery_what(&s.name),
                    s.recovery_s,
                    s.documents_worth,
                    s.retried_documents
                );
            }
        }

        if let (Some(c), Some(p)) = (&self.ceiling, &self.pipeline) {
            let _ = writeln!(m, "\n## Broker ceiling vs pipeline\n");
            let _ = writeln!(
                m,
                "- Broker: {} persistent messages of {} bytes (the poller's message for one generated document) \
                 on a quorum queue, published with confirms (at most 64 unconfirmed), {} consumers with prefetch \
                 10 acking each: {:.2} s, **{:.0} msgs/s**.",
                c.messages, c.message_bytes, c.consumers, c.seconds, c.msgs_per_s
            );
            let _ = writeln!(
                m,
                "- Pipeline: {} documents of {} known customers in the folder → `sj-poller --once` ({:.2} s) → {} \
                 workers → sandbox (limits off): {:.2} s to the last quote, **{:.1} documents/s**, {:.3} Jobber \
                 requests per document.",
                p.documents, p.customers, p.poller_seconds, p.workers, p.seconds, p.docs_per_s, p.jobber_requests_per_doc
            );
            let _ = writeln!(
                m,
                "- Ratio pipeline / broker: **{:.3}** (the broker is {:.0}× faster than the bridge end to end).",
                p.docs_per_s / c.msgs_per_s,
                c.msgs_per_s / p.docs_per_s
            );
        }
        if let Some(l) = &self.latency {
            let _ = writeln!(m, "\n## Latency\n");
            let _ = writeln!(
                m,
                "{} files renamed into the watched folder at {:.0}/s for {:.0} s; the poller runs with its defaults (a \
                 file is taken once unchanged for {} ms); 2 workers; sandbox limits off. From the file appearing to \
                 the worker's \"quote created\": p50 **{:.0} ms**, p95 **{:.0} ms**, p99 **{:.0} ms**, max {:.0} ms \
                 (the settle time is {} ms of each).",
                l.documents, l.rate_per_s, l.seconds, l.settle_ms, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.settle_ms
            );
        }
        let _ = writeln!(m, "\n## Cost (CPU and memory)\n");
        let _ = writeln!(m, "| run | poller CPU s | workers CPU s | per 1,000 documents | poller RSS idle / peak | worker RSS idle / peak (max of the workers) |");
        let _ = writeln!(m, "| --- | --- | --- | --- | --- | --- |");
        let row = |m: &mut String, what: String, c: &Cost| {
            let _ = writeln!(
                m,
                "| {what} | {:.2} | {:.2} | {:.2} s | {:.1} / {:.1} MiB | {:.1} / {:.1} MiB |",
                c.poller_cpu_s,
                c.workers_cpu_s,
                c.cpu_s_per_1000,
                mib(c.poller_rss_idle_kib),
                mib(c.poller_rss_peak_kib),
                mib(c.worker_rss_idle_kib),
                mib(c.worker_rss_peak_kib)
            );
        };
        if let Some(p) = &self.pipeline {
            row(&mut m, format!("throughput, {} documents", p.documents), &p.cost);
        }
        if let Some(l) = &self.latency {
            row(&mut m, format!("steady {:.0}/s, {} documents", l.rate_per_s, l.documents), &l.cost);
        }
        let _ = writeln!(
            m,
            "\nCPU = utime + stime from /proc (the `--once` poller's from this process's reaped-children times); \
             idle RSS = VmRSS after start-up, before the first document; peak = VmHWM at the end."
        );
        if let Some(b) = &self.budget {
            let _ = writeln!(m, "\n## Jobber budget\n");
            let _ = writeln!(
                m,
                "{} documents of {} known customers (mapping rows, clients in Jobber, Redis trusted), published \
                 before {} workers start{}; sandbox with Jobber's limits (10,000 points at 500/s, 2,500 requests per \
                 300 s).\n",
                b.documents,
                b.customers,
                b.workers,
                if b.window_aligned { " at the start of a request window" } else { "" }
            );
            let _ = writeln!(m, "| figure | value | limit |");
            let _ = writeln!(m, "| --- | --- | --- |");
            let _ = writeln!(
                m,
                "| Jobber requests | {} ({:.3} per document) | |",
                b.requests, b.requests_per_doc
            );
            let _ = writeln!(
                m,
                "| requests/s | {:.2} | 8.33 (2,500 / 300 s) on average; 2,500 in a window |",
                b.requests_per_s
            );
            let _ = writeln!(
                m,
                "| points/s (actual) | {:.1} (mean cost {:.1} requested, {:.1} actual) | 500 restored/s, 10,000 bucket |",
                b.points_per_s, b.mean_requested_cost, b.mean_actual_cost
            );
            let _ = writeln!(m, "| THROTTLED / 429 | {} / {} | 0 / 0 |", b.throttled, b.too_many);
            let _ = writeln!(m, "| token refreshes | {} | |", b.token_refreshes);
            let _ = writeln!(
                m,
                "| documents turned back by the shared budget (window spent) | {} | |",
                b.budget_bounces
            );
            let _ = writeln!(
                m,
                "| wall time | {:.1} s | minimum the limits allow at 1 request/document: {:.1} s (+{:.0} %) |",
                b.wall_s,
                b.minimum_s,
                100.0 * b.over_minimum
            );
        }
        if let Some(r) = &self.recovery {
            recovery_section(&mut m, r);
        }
        if let Some(p) = &self.parser {
            let _ = writeln!(m, "\n## Parser\n");
            let _ = writeln!(
                m,
                "Parse + normalize + hash in-process (as `cargo bench -p sj-shared --bench parse`), against the same \
                 run's bare tokenizing of the same bytes (quick-xml events; serde_json `Value`).\n"
            );
            let _ = writeln!(m, "| input | form | KiB | documents/s | MB/s | baseline MB/s | ratio |");
            let _ = writeln!(m, "| --- | --- | --- | --- | --- | --- | --- |");
            for r in &p.rows {
                let _ = writeln!(
                    m,
                    "| {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2}× |",
                    r.input, r.form, r.kib, r.docs_per_s, r.mb_per_s, r.baseline_mb_per_s, r.ratio
                );
            }
        }
        m
    }
}

/// "a worker SIGKILLed" for the summary's "recovery after …".
fn recovery_what(name: &str) -> String {
    match name {
        "Jobber outage" => "a Jobber outage".to_owned(),
        other => format!("{}{other}", if other.starts_with("worker") { "a " } else { "" }),
    }
}

fn recovery_section(m: &mut String, r: &Recovery) {
    let _ = writeln!(m, "\n## Recovery\n");
    let _ = writeln!(
        m,
        "On a RabbitMQ node of the benchmark's own (restarted; the machine's is never touched), the machine's \
         Redis and a sandbox with its limits off, 2 workers with their defaults (30 s intent lease, circuit \
         breaker probe every 5 s, reconnection backoff capped at 5 s). Steady state first: {} documents of {} \
         known customers in the folder → `sj-poller --once` → 2 workers: {:.2} s to the last quote, **{:.1} \
         documents/s**. Then a flow of {:.0} documents/s into the watched folder (a long-running poller) \
         throughout three scenarios, {} documents in all; its latency before any fault, file appearing → quote \
         created, p50 {:.0} ms, p99 {:.0} ms (the poller's 500 ms settle included): the floor of a recovery \
         time.\n",
        r.steady.documents,
        r.steady.customers,
        r.steady.seconds,
        r.steady.docs_per_s,
        r.flow_per_s,
        r.flow_documents,
        r.flow_p50_ms,
        r.flow_p99_ms
    );
    let _ = writeln!(
        m,
        "Recovery = from the fault's end (the new worker consuming; the broker answering an AMQP client; the \
         faults cleared) to the moment every document dropped into the folder before it is written (its \
         worker's \"quote created\", or \"already in Jobber\" for a copy of one written before), by the log's \
         timestamps; \"at steady state\" = recovery × the steady-state throughput. Retry tiers: documents a \
         worker sent to a retry tier between the scenario's start and its recovery (distinct, and sends in \
         all).\n"
    );
    let _ = writeln!(
        m,
        "| scenario | fault | lasted | documents dropped | recovery | at steady state | retry tiers: documents (sends) | brought back from the tiers | waited for a lease | found already written | held back by the shared budget |"
    );
    let _ = writeln!(m, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for s in &r.scenarios {
        let _ = writeln!(
            m,
            "| {} | {}{} | {:.1} s | {} | **{:.1} s** | {:.0} documents' worth | {} ({}) | {} | {} | {} | {} |",
            s.name,
            s.fault,
            if s.note.is_empty() { String::new() } else { format!(" ({})", s.note) },
            s.fault_s,
            s.documents,
            s.recovery_s,
            s.documents_worth,
            s.retried_documents,
            s.retry_sends,
            s.brought_back,
            s.lease_waits,
            s.already_written,
            s.budget_deferrals
        );
    }
    let opened: Vec<&str> =
        r.scenarios.iter().filter(|s| s.breaker_opened).map(|s| s.name.as_str()).collect();
    let _ = writeln!(
        m,
        "\nThe circuit breaker opened in: {}. Quotes in Jobber at the end: {} for {} documents ({} written \
         twice{}).{}",
        if opened.is_empty() { "none".to_owned() } else { opened.join(", ") },
        r.quotes_in_jobber,
        r.documents,
        r.written_twice.len(),
        if r.written_twice.is_empty() { String::new() } else { format!(": {}", r.written_twice.join("; ")) },
        if r.restarted_unasked.is_empty() {
            String::new()
        } else {
            format!(" Ended unasked and started again: {}.", r.restarted_unasked.join(", "))
        }
    );
}
