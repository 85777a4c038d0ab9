//! `sjctl history`: what became of recent documents, from the history stream every process
//! appends to (quotes created, lines added, already there, retried, parked, refused, replayed,
//! undone), with totals.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use sj_shared::config::Settings;
use sj_shared::store::{self, History, HistoryEntry, Keys, Totals};

#[derive(clap::Args)]
pub struct Args {
    /// How far back: `1h`, `24h`, `7d`…
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    since: Duration,
    /// Print JSON (`{entries, totals}`) instead of lines.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: &Args) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(read(settings, args.since)) {
        Ok(entries) => {
            print(&entries, args).expect("stdout");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sjctl history: cannot read the history from Redis: {e}");
            ExitCode::from(2)
        }
    }
}

/// The history of the last `since`.
pub async fn read(settings: &Settings, since: Duration) -> Result<Vec<HistoryEntry>, String> {
    let pool = store::pool(&settings.redis).map_err(|e| e.to_string())?;
    let history = History::new(pool, &Keys::new(&settings.namespace));
    tokio::time::timeout(Duration::from_secs(10), history.since(since))
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())
}

fn print(entries: &[HistoryEntry], args: &Args) -> std::io::Result<()> {
    let totals = Totals::of(entries);
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({"entries": entries, "totals": totals});
        return writeln!(out, "{}", serde_json::to_string_pretty(&json).expect("serializes"));
    }
    for e in entries {
        let at = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(e.at_ms));
        let detail = match (e.target(), &e.kind, &e.reason) {
            (Some(target), _, _) => target,
            (None, Some(kind), Some(reason)) => format!("{kind}: {reason}"),
            _ => String::new(),
        };
        writeln!(out, "{at}  {:<9}  {:<36}  {detail}", e.outcome.as_str(), e.source)?;
    }
    writeln!(out, "{}", summary(&totals, args.since))
}

/// `created 3, updated 0, unchanged 1, parked 2, errors 4 (replayed 1, undone 0) in the last 24h`
pub fn summary(t: &Totals, since: Duration) -> String {
    format!(
        "created {}, updated {}, unchanged {}, parked {}, errors {} (replayed {}, undone {}) in the last {}",
        t.created,
        t.updated,
        t.unchanged,
        t.parked,
        t.errors,
        t.replayed,
        t.undone,
        humantime::format_duration(since)
    )
}
