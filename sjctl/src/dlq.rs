//! `sjctl dlq`: the parked dead letters (`sj.quotes.dead`): list, show, replay, purge.
//!
//! The rules (read without consuming, replay with its replay counter, purge forgetting the
//! content hash) are [`sj_shared::dead_letters`]'s, which the console's Parked page uses too.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use sj_shared::amqp::{self, Publisher};
use sj_shared::config::Settings;
use sj_shared::dead_letters::{self, fetch_all, give_back, select, Forget, Parked};
use sj_shared::store::{History, ParkedDocuments, PublishedDocuments};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List the parked documents: id, age, source, customer, error kind, attempts, reason.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one parked document whole: its headers (the reason and the broker's x-death) and body.
    Show {
        /// The id `list` shows (or a unique prefix of it).
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Send parked documents back to the workers (after fixing the cause).
    Replay {
        /// Ids (or unique prefixes) to replay.
        #[arg(long = "id", value_name = "ID", required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Every parked document (of `--kind`, when given).
        #[arg(long)]
        all: bool,
        /// Only documents whose error kind starts with this (`mapping`, `jobber.user-error`…).
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Say what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete parked documents for good.
    Purge {
        #[arg(long = "id", value_name = "ID", required = true)]
        ids: Vec<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

pub fn run(settings: &Settings, command: Command) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(execute(settings, command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sjctl dlq: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn execute(settings: &Settings, command: Command) -> anyhow::Result<ExitCode> {
    let topology = settings.amqp.topology(&settings.namespace);
    let connection = amqp::connect(&settings.amqp).await?;
    let channel = connection.create_channel().await?;
    let parked = fetch_all(&channel, &topology).await?;
    let code = match command {
        Command::List { json } => {
            list(&parked, json)?;
            ExitCode::SUCCESS
        }
        Command::Show { id, json } => match select(&parked, &[id]) {
            Ok(found) => {
                show(found[0], json)?;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sjctl dlq show: {e}");
                ExitCode::from(2)
            }
        },
        Command::Replay { ids, all, kind, dry_run } => {
            let chosen: Vec<&Parked> = if all {
                parked
                    .iter()
                    .filter(|p| kind.as_deref().is_none_or(|k| p.kind.name().starts_with(k)))
                    .collect()
            } else {
                match select(&parked, &ids) {
                    Ok(found) => found,
                    Err(e) => {
                        eprintln!("sjctl dlq replay: {e}");
                        give_back(&parked).await;
                        return Ok(ExitCode::from(2));
                    }
                }
            };
            replay(settings, &connection, &topology, &chosen, dry_run).await?
        }
        Command::Purge { ids, yes } => match select(&parked, &ids) {
            Ok(found) => purge(settings, &found, yes).await?,
            Err(e) => {
                eprintln!("sjctl dlq purge: {e}");
                ExitCode::from(2)
            }
        },
    };
    // Whatever was not replayed or purged goes back to the parked queue.
    give_back(&parked).await;
    let _ = connection.close(200, "sjctl done".into()).await;
    Ok(code)
}

fn list(parked: &[Parked], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(parked)?)?;
        return Ok(());
    }
    if parked.is_empty() {
        writeln!(out, "no parked documents")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<12}  {:>6}  {:<32}  {:<24}  {:<26}  {:>3}  REASON",
        "ID", "AGE", "SOURCE", "CUSTOMER", "KIND", "TRY"
    )?;
    for p in parked {
        writeln!(
            out,
            "{:<12}  {:>6}  {:<32}  {:<24}  {:<26}  {:>3}  {}",
            p.id,
            p.age_seconds.map(age).unwrap_or_else(|| "?".to_owned()),
            cut(&p.source, 32),
            cut(p.customer.as_deref().unwrap_or("-"), 24),
            cut(p.kind.name(), 26),
            p.attempts,
            cut(&p.reason, 100)
        )?;
    }
    writeln!(
        out,
        "{} parked; `sjctl dlq show ID` for one, `sjctl dlq replay --id ID` once the cause is fixed",
        parked.len()
    )?;
    Ok(())
}

fn show(p: &Parked, json: bool) -> anyhow::Result<()> {
    let props = &p.message.delivery.properties;
    let headers = p.headers_json();
    let body = p.body_json();
    let whole = serde_json::json!({
        "id": p.id, "what": p.what, "source": p.source, "customer": p.customer, "kind": p.kind,
        "reason": p.reason, "hint": p.kind.hint(), "attempts": p.attempts, "replays": p.replays, "first_failure": p.first_failure,
        "message_id": props.message_id().as_ref().map(|m| m.as_str()),
        "type": props.kind().as_ref().map(|m| m.as_str()),
        "headers": headers, "body": body,
    });
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&whole)?)?;
    } else {
        writeln!(out, "{} ({}) from {}", p.id, p.what, p.source)?;
        writeln!(out, "  customer:      {}", p.customer.as_deref().unwrap_or("-"))?;
        writeln!(out, "  error:         {}: {}", p.kind, p.reason)?;
        writeln!(out, "  what to do:    {}", p.kind.hint())?;
        writeln!(out, "  attempts:      {} (replayed {} times)", p.attempts, p.replays)?;
        writeln!(out, "  first failure: {}", p.first_failure.as_deref().unwrap_or("?"))?;
        writeln!(
            out,
            "  headers:       {}",
            serde_json::to_string_pretty(&whole["headers"])?.replace('\n', "\n  ")
        )?;
        writeln!(
            out,
            "  body:          {}",
            serde_json::to_string_pretty(&whole["body"])?.replace('\n', "\n  ")
        )?;
    }
    Ok(())
}

async fn replay(
    settings: &Settings,
    connection: &lapin::Connection,
    topology: &amqp::Topology,
    chosen: &[&Parked],
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let publisher = Publisher::open(connection, topology.clone()).await?;
    let history = sj_shared::store::pool(&settings.redis)
        .ok()
        .map(|pool| History::new(pool, &sj_shared::store::Keys::new(&settings.namespace)));
    let mut code = ExitCode::SUCCESS;
    for p in chosen {
        if !p.is_replayable() {
            eprintln!(
                "{}: {} was refused by the poller ({}): nothing to replay. {}",
                p.id,
                p.source,
                p.kind,
                p.kind.hint()
            );
            code = ExitCode::from(2);
            continue;
        }
        if dry_run {
            println!("would replay {} ({}, {})", p.id, p.source, p.kind);
            continue;
        }
        dead_letters::replay(&publisher, topology, history.as_ref(), p).await?;
        println!("replayed {} ({}) to {}", p.id, p.source, topology.quotes_queue());
    }
    Ok(code)
}

async fn purge(settings: &Settings, chosen: &[&Parked], yes: bool) -> anyhow::Result<ExitCode> {
    if !yes {
        eprint!(
            "Delete {} parked document(s) for good ({})? [y/N] ",
            chosen.len(),
            chosen.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        );
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing deleted");
            return Ok(ExitCode::from(1));
        }
    }
    let keys = sj_shared::store::Keys::new(&settings.namespace);
    let forget = sj_shared::store::pool(&settings.redis).ok().map(|pool| Forget {
        published: PublishedDocuments::new(pool.clone(), keys.clone()),
        parked: ParkedDocuments::new(pool, keys),
    });
    for p in chosen {
        if let Some(e) = dead_letters::purge(forget.as_ref(), p).await? {
            eprintln!(
                "purged {}, but Redis did not forget its content ({e}): a re-export would be skipped",
                p.id
            );
        }
        println!("purged {} ({})", p.id, p.source);
    }
    Ok(ExitCode::SUCCESS)
}

fn age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(width - 1).collect();
        out.push('…');
        out
    }
}
