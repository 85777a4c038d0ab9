//! `sjctl undo`: take back what the bridge wrote for one document, within what Jobber's public API
//! allows.
//!
//! - Lines the bridge added to an existing quote (PO routing) are removed
//!   (`quoteDeleteLineItems`) after showing them and asking; lines it added to a job (PO routing
//!   to a job) likewise (`jobDeleteLineItems`).
//! - A quote the bridge created cannot be deleted through the API (Jobber has no `quoteDelete`):
//!   undo shows it with its link in Jobber and asks the operator to delete it there, then run the
//!   command again; once `quote(id)` says Jobber no longer has it, the document is forgotten.
//!
//! The document is named by its content hash or by its source (file name or GUID); the crosswalk
//! in Redis says what was written. Once nothing of it is left in Jobber, the crosswalk and the
//! poller's record of the document are forgotten and the history records `undone`: the same file
//! put back into `incoming/` (or a replayed message) is written again as new.
//!
//! Exit codes: 0 undone (nothing of it left in Jobber, the document forgotten); 1 usage, or the
//! question answered no; 2 nothing known of the document, or Jobber or Redis failing; 3 the quote
//! is still in Jobber: delete it there, then run the command again.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use sj_shared::config::Settings;
use sj_shared::ids::{ContentHash, LineItemId};
use sj_shared::jobber::jobs::JobView;
use sj_shared::jobber::ops::{LineItemEdit, QuoteView};
use sj_shared::jobber::JobberClient;
use sj_shared::store::{
    self, Crosswalk, FilledLine, History, Keys, Outcome, PublishedDocuments, QuoteRecord,
};

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

/// Exit code 3: the quote the bridge created is still in Jobber.
const STILL_IN_JOBBER: u8 = 3;

pub fn run(settings: &Settings, args: &Args) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(undo(settings, args)) {
        Ok(Undone::Forgotten) => ExitCode::SUCCESS,
        Ok(Undone::StillInJobber) => ExitCode::from(STILL_IN_JOBBER),
        Err(e) => exit_code("undo", Err(e)),
    }
}

enum Undone {
    /// Nothing of the document is left in Jobber; the bridge forgot it.
    Forgotten,
    /// The quote is still in Jobber, for the operator to delete there.
    StillInJobber,
}

async fn undo(settings: &Settings, args: &Args) -> Result<Undone, Failure> {
    let pool = store::pool(&settings.redis).map_err(|e| Failure::Usage(format!("redis.url: {e}")))?;
    let keys = Keys::new(&settings.namespace);
    let crosswalk = Crosswalk::new(pool.clone(), keys.clone());
    let redis = |e: store::StoreError| Failure::Failed(format!("Redis: {e}"));
    let hash = match (&args.hash, &args.file) {
        (Some(hash), _) => {
            let hex = hash.trim().strip_prefix("sha256:").unwrap_or(hash.trim());
            ContentHash::new(format!("sha256:{hex}"))
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
            hash.hex().chars().take(12).collect::<String>()
        ))
    })?;
    let (_, jobber) = jobber_client(settings)?;
    let plan = Plan::of(&jobber, &record).await?;
    println!("{}", plan.describe(&record));
    if plan.nothing_left(&record) {
        println!("Nothing of it is left in Jobber.");
    } else if let Some(job) = &record.job {
        if !args.yes && !confirm("Remove these lines from the job in Jobber?")? {
            return Err(Failure::Usage("nothing removed".to_owned()));
        }
        jobber.delete_job_line_items(&job.id, &plan.present_lines).await?;
        println!("Removed.");
    } else if record.added_to_existing {
        if !args.yes && !confirm("Remove these lines from the quote in Jobber?")? {
            return Err(Failure::Usage("nothing removed".to_owned()));
        }
        if !plan.present_lines.is_empty() {
            jobber.delete_line_items(&record.quote_id, &plan.present_lines).await?;
        }
        if !plan.filled.is_empty() {
            // The template's lines the bridge filled in get their earlier values back.
            let f =
                |v: rust_decimal::Decimal| rust_decimal::prelude::ToPrimitive::to_f64(&v).unwrap_or_default();
            let edits: Vec<LineItemEdit> = plan
                .filled
                .iter()
                .map(|line| LineItemEdit {
                    line_item_id: line.id.clone(),
                    description: line.description.clone(),
                    quantity: f(line.quantity),
                    unit_price: f(line.unit_price),
                    unit_cost: line.unit_cost.map(f),
                })
                .collect();
            jobber.edit_line_items(&record.quote_id, &edits).await?;
        }
        println!("Removed.");
    } else {
        let quote = plan.quote.as_ref().expect("not nothing_left");
        println!(
            "Jobber's API cannot delete a quote. Delete quote #{} in Jobber ({}), then run this command \
             again: the bridge forgets the document once Jobber no longer has the quote.",
            quote.quote_number, quote.jobber_web_uri
        );
        return Ok(Undone::StillInJobber);
    }
    crosswalk.forget(&hash, &record.source).await.map_err(redis)?;
    PublishedDocuments::new(pool.clone(), keys.clone()).forget(&hash).await.map_err(redis)?;
    History::new(pool, &keys).record(Outcome::Undone, &record.source, Some(&record), None).await;
    println!(
        "The bridge forgot {hash}: put {} back into the incoming folder (the poller archived it under \
         archive/), or replay its message, to write it again.",
        if record.source.is_empty() { "the document" } else { &record.source }
    );
    Ok(Undone::Forgotten)
}

/// What is still in Jobber of what the bridge wrote.
struct Plan {
    quote: Option<QuoteView>,
    /// The job the lines went to (PO routing to a job), while Jobber has it.
    job: Option<JobView>,
    /// Lines the bridge added (PO routing) that the quote still has.
    present_lines: Vec<LineItemId>,
    line_names: Vec<String>,
    /// Template lines the bridge filled in that the quote still has (put back on undo).
    filled: Vec<FilledLine>,
}

impl Plan {
    async fn of(jobber: &JobberClient, record: &QuoteRecord) -> Result<Plan, Failure> {
        if let Some(job) = &record.job {
            let view = jobber.job_view(&job.id).await?;
            let (mut present_lines, mut line_names) = (Vec::new(), Vec::new());
            if view.is_some() {
                for item in jobber.job_line_items(&job.id).await? {
                    if record.line_item_ids.contains(&item.id) {
                        line_names.push(item.name);
                        present_lines.push(item.id);
                    }
                }
            }
            return Ok(Plan { quote: None, job: view, present_lines, line_names, filled: Vec::new() });
        }
        let quote = jobber.quote_view(&record.quote_id).await?;
        let (mut present_lines, mut line_names, mut filled) = (Vec::new(), Vec::new(), Vec::new());
        if record.added_to_existing && quote.is_some() {
            for item in jobber.quote_line_items(&record.quote_id).await? {
                if record.line_item_ids.contains(&item.id) {
                    line_names.push(item.name);
                    present_lines.push(item.id);
                } else if let Some(line) = record.filled_lines.iter().find(|l| l.id == item.id) {
                    line_names.push(format!("{} (filled in: put back)", item.name));
                    filled.push(line.clone());
                }
            }
        }
        Ok(Plan { quote, job: None, present_lines, line_names, filled })
    }

    fn nothing_left(&self, record: &QuoteRecord) -> bool {
        if record.job.is_some() {
            return self.job.is_none() || self.present_lines.is_empty();
        }
        self.quote.is_none()
            || (record.added_to_existing && self.present_lines.is_empty() && self.filled.is_empty())
    }

    fn describe(&self, record: &QuoteRecord) -> String {
        if let Some(recorded) = &record.job {
            let Some(job) = &self.job else {
                return format!("Job #{} is no longer in Jobber (deleted there).", recorded.job_number);
            };
            return format!(
                "{} line(s) the bridge added to job #{} {:?} (client {}, status {}, total now {:.2}) for {}: {}\n  {}",
                self.present_lines.len(),
                job.job_number,
                job.title.as_deref().unwrap_or_default(),
                job.client_name,
                job.job_status,
                job.total,
                source_name(record),
                self.line_names.join(", "),
                job.jobber_web_uri,
            );
        }
        let Some(quote) = &self.quote else {
            return format!("Quote #{} is no longer in Jobber (deleted there).", record.quote_number);
        };
        let warning = match quote.quote_status.as_str() {
            "draft" | "" => String::new(),
            other => format!("\n  Note: the quote's status is {other}: the client may have seen it."),
        };
        if record.added_to_existing {
            format!(
                "{} line(s) the bridge added to quote #{} {:?} (client {}, total now {:.2}) for {}: {}\n  {}{warning}",
                self.present_lines.len(),
                quote.quote_number,
                quote.title,
                quote.client_name,
                quote.total,
                source_name(record),
                self.line_names.join(", "),
                quote.jobber_web_uri,
            )
        } else {
            format!(
                "Quote #{} {:?} (client {}, total {:.2}) created by the bridge for {}\n  {}{warning}",
                quote.quote_number,
                quote.title,
                quote.client_name,
                quote.total,
                source_name(record),
                quote.jobber_web_uri,
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
