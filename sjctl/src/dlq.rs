//! `sjctl dlq`: the parked dead letters (`sj.quotes.dead`): list, show, replay, purge.
//!
//! The parked queue is read without consuming: every message is fetched unacknowledged (so the
//! broker does not hand the same one twice), looked at, and given back (`nack` with requeue) unless
//! the command replays or purges it. A replayed message is published back to `sj.quotes` with its
//! replay counter incremented, and the parked copy is removed only once the broker confirmed it.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use serde::Serialize;
use sj_shared::amqp::{self, header, headers, Publisher, Topology, QUOTE_ROUTING_KEY};
use sj_shared::config::Settings;
use sj_shared::failure::KindName;
use sj_shared::ids::ContentHash;
use sj_shared::message::{DeadLetter, QuoteRequest};
use sj_shared::store::{History, Outcome, PublishedDocuments};

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

/// One parked dead letter, as an operator sees it.
#[derive(Debug, Serialize)]
struct Parked {
    id: String,
    /// `quote-request` (a worker gave up: replayable) or `rejected-document` (the poller refused
    /// the file: fix the file instead).
    what: &'static str,
    source: String,
    customer: Option<String>,
    kind: KindName,
    reason: String,
    attempts: i64,
    replays: i64,
    first_failure: Option<String>,
    age_seconds: Option<u64>,
    #[serde(skip)]
    message: BasicGetMessage,
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

/// Every message of the parked queue, held unacknowledged.
async fn fetch_all(channel: &lapin::Channel, topology: &Topology) -> anyhow::Result<Vec<Parked>> {
    let queue = topology.parked_queue();
    let mut parked = Vec::new();
    loop {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("reading {queue} (is the topology declared? run a worker once)"))?;
        let Some(message) = got else { break };
        parked.push(describe(message));
    }
    Ok(parked)
}

fn describe(message: BasicGetMessage) -> Parked {
    let props = &message.delivery.properties;
    let h = props.headers();
    let kind = props.kind().as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default();
    let id = amqp::parked_id(props, &message.delivery.data);
    let (what, customer) = if kind == DeadLetter::SCHEMA {
        ("rejected-document", None)
    } else {
        let request = QuoteRequest::from_json(&message.delivery.data).ok();
        let customer = request.as_ref().and_then(|r| {
            r.customer.name.clone().or_else(|| r.shipping.street1.clone().map(|s| format!("(no name) {s}")))
        });
        ("quote-request", customer)
    };
    let first_failure = headers::text(h, header::FIRST_FAILURE);
    let age_seconds = first_failure
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs());
    Parked {
        id,
        what,
        source: headers::text(h, header::SOURCE).unwrap_or_default(),
        customer,
        kind: KindName::parse(
            &headers::text(h, header::ERROR_KIND)
                .or_else(|| amqp::broker_death(h).map(|(reason, _)| format!("broker.{reason}")))
                .unwrap_or_else(|| "(unknown)".to_owned()),
        ),
        reason: headers::text(h, header::ERROR).unwrap_or_default(),
        attempts: headers::integer(h, header::ATTEMPTS).unwrap_or(0),
        replays: headers::integer(h, header::REPLAY_COUNT).unwrap_or(0),
        first_failure,
        age_seconds,
        message,
    }
}

/// The parked documents the ids name; each id must match exactly one (prefixes allowed).
fn select<'a>(parked: &'a [Parked], ids: &[String]) -> Result<Vec<&'a Parked>, String> {
    let mut found = Vec::new();
    for id in ids {
        let matches: Vec<&Parked> = parked.iter().filter(|p| p.id.starts_with(id.as_str())).collect();
        match matches.as_slice() {
            [one] => found.push(*one),
            [] => return Err(format!("no parked document with id {id} (see sjctl dlq list)")),
            _ => return Err(format!("id {id} matches {} parked documents: give more of it", matches.len())),
        }
    }
    Ok(found)
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
    let headers: serde_json::Map<String, serde_json::Value> = props
        .headers()
        .as_ref()
        .map(|t| t.inner().iter().map(|(k, v)| (k.to_string(), amqp_json(v))).collect())
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&p.message.delivery.data).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&p.message.delivery.data).into_owned())
    });
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
    topology: &Topology,
    chosen: &[&Parked],
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let publisher = Publisher::open(connection, topology.clone()).await?;
    let history = sj_shared::store::pool(&settings.redis)
        .ok()
        .map(|pool| History::new(pool, &sj_shared::store::Keys::new(&settings.namespace)));
    let mut code = ExitCode::SUCCESS;
    for p in chosen {
        if p.what == "rejected-document" {
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
        let props = &p.message.delivery.properties;
        let replays = headers::integer(props.headers(), header::REPLAY_COUNT).unwrap_or(0) + 1;
        let added = [
            (header::REPLAY_COUNT, AMQPValue::LongLongInt(replays)),
            // A fresh start through the retry tiers.
            (header::ATTEMPTS, AMQPValue::LongLongInt(0)),
        ];
        publisher
            .republish(
                &topology.quotes_exchange(),
                QUOTE_ROUTING_KEY,
                &p.message.delivery.data,
                props,
                &added,
            )
            .await?
            .confirmed()
            .await
            .with_context(|| format!("the broker did not confirm the replay of {}", p.id))?;
        // Only now: the parked copy goes.
        p.message.delivery.acker.ack(BasicAckOptions::default()).await?;
        if let Some(history) = &history {
            history.record(Outcome::Replayed, &p.source, None, None).await;
        }
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
    let stores = sj_shared::store::pool(&settings.redis).ok().map(|pool| {
        (
            PublishedDocuments::new(pool.clone(), keys.clone()),
            sj_shared::store::ParkedDocuments::new(pool, keys),
        )
    });
    for p in chosen {
        p.message.delivery.acker.ack(BasicAckOptions::default()).await?;
        // The poller would otherwise take a later export of the same order for one it already
        // sent, and archive it without a message.
        let hash =
            p.message.delivery.properties.message_id().as_ref().map(|id| ContentHash::new(id.as_str()));
        // Nor may the workers take it for a copy of this parked one (and ack it unparked).
        if let (Some((published, parked)), Some(hash), "quote-request") = (&stores, hash, p.what) {
            let forgotten = match published.forget(&hash).await {
                Ok(()) => parked.forget(hash.as_str()).await,
                Err(e) => Err(e),
            };
            if let Err(e) = forgotten {
                eprintln!(
                    "purged {}, but Redis did not forget its content ({e}): a re-export would be skipped",
                    p.id
                );
            }
        }
        println!("purged {} ({})", p.id, p.source);
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns every message still held to the parked queue (an ack or nack twice is a no-op).
async fn give_back(parked: &[Parked]) {
    for p in parked {
        let _ = p
            .message
            .delivery
            .acker
            .nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() })
            .await;
    }
}

fn amqp_json(value: &AMQPValue) -> serde_json::Value {
    match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned().into(),
        AMQPValue::ShortString(s) => s.as_str().into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::Boolean(b) => (*b).into(),
        AMQPValue::Timestamp(t) => (*t).into(),
        AMQPValue::FieldTable(t) => {
            serde_json::Value::Object(t.inner().iter().map(|(k, v)| (k.to_string(), amqp_json(v))).collect())
        }
        AMQPValue::FieldArray(a) => serde_json::Value::Array(a.as_slice().iter().map(amqp_json).collect()),
        other => format!("{other:?}").into(),
    }
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
