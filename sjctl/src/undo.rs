//! `sjctl undo`: remove from Jobber what the bridge wrote for one document — the quote it created,
//! or the lines it added to an existing quote (PO routing) — after showing what will go and asking.
//!
//! The document is named by its content hash or by its source (file name or GUID); the crosswalk
//! in Redis says what was written. After the removal the crosswalk and the poller's record of the
//! document are forgotten and the history records `undone`: the same file put back into
//! `incoming/` (or a replayed message) is written again as new.
//!
//! Exit codes: 0 removed; 1 usage, or the question answered no; 2 nothing known of the document,
//! or Jobber or Redis failing.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use serde_json::{json, Value};
use sj_shared::config::Settings;
use sj_shared::jobber::JobberClient;
use sj_shared::store::{self, Crosswalk, History, Keys, Outcome, PublishedDocuments, QuoteRecord};

use crate::jobber::{exit_code, jobber_client, Failure};

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("document").required(true))]
pub struct Args {
    /// The document's content hash (`sha256:…`, as in logs and `sjctl parse`; the prefix may
    /// be left out).
    #[arg(long, group = "document", value_name = "HASH")]
    hash: Option<String>,
    /// The document's source: the file name (`kitchen.xml`) or the SaberisConnect GUID.
    #[arg(long, group = "document", value_name = "NAME")]
    file: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub fn run(settings: &Settings, args: &Args) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    exit_code("undo", runtime.block_on(undo(settings, args)))
}

async fn undo(settings: &Settings, args: &Args) -> Result<(), Failure> {
    let pool = store::pool(&settings.redis).map_err(|e| Failure::Usage(format!("redis.url: {e}")))?;
    let keys = Keys::new(&settings.namespace);
    let crosswalk = Crosswalk::new(pool.clone(), keys.clone());
    let redis = |e: store::StoreError| Failure::Failed(format!("Redis: {e}"));
    let hash = match (&args.hash, &args.file) {
        (Some(hash), _) => {
            let hex = hash.trim().strip_prefix("sha256:").unwrap_or(hash.trim());
            format!("sha256:{hex}")
        }
        (None, Some(file)) => crosswalk.hash_of_source(file).await.map_err(redis)?.ok_or_else(|| {
            Failure::Failed(format!(
                "the bridge has no record of writing a document from {file:?} (never written, undone \
                 already, or Redis lost its records: then find the quote by its SJ- marker in Jobber)"
            ))
        })?,
        (None, None) => unreachable!("clap requires one"),
    };
    let record = crosswalk.get(&hash).await.map_err(redis)?.ok_or_else(|| {
        Failure::Failed(format!(
            "the bridge has no record of writing {hash} (never written, undone already, or Redis lost its \
             records: then find the quote by its marker SJ-{} in Jobber)",
            &hash["sha256:".len()..].chars().take(12).collect::<String>()
        ))
    })?;
    let (_, jobber) = jobber_client(settings)?;
    let plan = Plan::of(&jobber, &record).await?;
    println!("{}", plan.describe(&record));
    if plan.nothing_left(&record) {
        println!("Nothing of it is left in Jobber.");
    } else {
        if !args.yes && !confirm("Remove it from Jobber?")? {
            return Err(Failure::Usage("nothing removed".to_owned()));
        }
        if record.added_to_existing {
            jobber.delete_line_items(&record.quote_id, &plan.present_lines).await?;
        } else {
            jobber.delete_quote(&record.quote_id).await?;
        }
        println!("Removed.");
    }
    crosswalk.forget(&hash, &record.source).await.map_err(redis)?;
    PublishedDocuments::new(pool.clone(), keys.clone()).forget(&hash).await.map_err(redis)?;
    History::new(pool, &keys).record(Outcome::Undone, &record.source, Some(&record.quote_number), None).await;
    println!(
        "The bridge forgot {hash}: put {} back into the incoming folder (the poller archived it under \
         archive/), or replay its message, to write it again.",
        if record.source.is_empty() { "the document" } else { &record.source }
    );
    Ok(())
}

/// What is still in Jobber of what the bridge wrote.
struct Plan {
    quote: Option<Value>,
    /// Lines the bridge added (PO routing) that the quote still has.
    present_lines: Vec<String>,
    line_names: Vec<String>,
}

impl Plan {
    async fn of(jobber: &JobberClient, record: &QuoteRecord) -> Result<Plan, Failure> {
        let query =
            "query SjctlUndoQuote($id: EncodedId!) { quote(id: $id) { id quoteNumber title quoteStatus \
                     amounts { total } client { name } } }";
        let data = jobber.execute(query, json!({"id": record.quote_id})).await?;
        let quote = data.get("quote").filter(|q| !q.is_null()).cloned();
        let (mut present_lines, mut line_names) = (Vec::new(), Vec::new());
        if record.added_to_existing && quote.is_some() {
            for item in jobber.quote_line_items(&record.quote_id).await? {
                if record.line_item_ids.contains(&item.id) {
                    line_names.push(item.name);
                    present_lines.push(item.id);
                }
            }
        }
        Ok(Plan { quote, present_lines, line_names })
    }

    fn nothing_left(&self, record: &QuoteRecord) -> bool {
        self.quote.is_none() || (record.added_to_existing && self.present_lines.is_empty())
    }

    fn describe(&self, record: &QuoteRecord) -> String {
        let Some(quote) = &self.quote else {
            return format!("Quote #{} is no longer in Jobber (deleted there).", record.quote_number);
        };
        let text = |pointer: &str| quote.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
        let total = quote.pointer("/amounts/total").and_then(Value::as_f64).unwrap_or_default();
        let status = text("/quoteStatus");
        let warning = match status.as_str() {
            "draft" | "" => String::new(),
            other => format!("\n  Note: the quote's status is {other}: the client may have seen it."),
        };
        if record.added_to_existing {
            format!(
                "{} line(s) the bridge added to quote #{} {:?} (client {}, total now {total:.2}) for {}: {}{warning}",
                self.present_lines.len(),
                record.quote_number,
                text("/title"),
                text("/client/name"),
                source_name(record),
                self.line_names.join(", ")
            )
        } else {
            format!(
                "Quote #{} {:?} (client {}, total {total:.2}) created by the bridge for {}{warning}",
                record.quote_number,
                text("/title"),
                text("/client/name"),
                source_name(record)
            )
        }
    }
}

fn source_name(record: &QuoteRecord) -> &str {
    if record.source.is_empty() {
        "the document"
    } else {
        &record.source
    }
}

fn confirm(question: &str) -> Result<bool, Failure> {
    print!("{question} [y/N] ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Failure::Failed(format!("stdin: {e}")))?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}
