//! `sjctl mapping`: the mapping table (Saberis customer key → Jobber client): list the rows in
//! use, add a person's row, import a CSV file of rows, refresh the workers' index now.
//!
//! Rows are only ever appended: a person's row wins over the bridge's (`made_by = auto`) for the
//! same key, and a later row over an earlier one of the same kind, so `set` corrects a mapping
//! without touching what is there.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use sj_shared::config::Settings;
use sj_shared::ids::{ClientId, PropertyId};
use sj_shared::mapping::{CustomerKey, InUse, Mapping, MappingRow, Table, AUTO};
use sj_shared::store::{self, Keys};

#[derive(clap::Subcommand)]
pub enum Command {
    /// The rows in use (what the workers read, refreshed from the store when stale) and the
    /// rows the table skipped, with their row numbers.
    List {
        /// Print JSON ({store, loaded_at, rows, problems}) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a person's row: customer KEY → Jobber CLIENT_ID (it wins over the bridge's rows).
    Set {
        /// `number:…`, `name:…` or `address:street|city|postal code` (normalized as the bridge
        /// does).
        key: String,
        /// The Jobber client's id (as in Jobber's API, e.g. `Z2lkOi8vSm9iYmVyL0NsaWVudC8xMjM=`).
        client_id: String,
        /// The Jobber property (site) to quote for.
        #[arg(long, value_name = "ID")]
        property: Option<String>,
        /// The customer's name in Saberis (for people reading the table).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// `street | city | postal code`, for the look-up by address.
        #[arg(long, value_name = "ADDRESS")]
        address: Option<String>,
        /// A note for the people reading the table.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Who is adding it (default: $USER, else `sjctl`); `auto` is the bridge's own name.
        #[arg(long, value_name = "PERSON")]
        by: Option<String>,
        /// Add the row without asking Jobber whether the client (and property) exist.
        #[arg(long)]
        no_check: bool,
    },
    /// Append every valid row of a CSV file with the table's header, as a person's rows; rows
    /// that cannot be used are listed and skipped.
    Import {
        file: PathBuf,
        /// Show what would be appended; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Whose rows they are when the file's `made_by` is empty or `auto` (default: $USER).
        #[arg(long, value_name = "PERSON")]
        by: Option<String>,
    },
    /// Read the table again now and replace the workers' index; prints the rows and problems.
    Refresh {
        #[arg(long)]
        json: bool,
    },
}

/// Gives up on Redis or a store that never answers.
const TIME_LIMIT: Duration = Duration::from_secs(120);

pub fn run(settings: &Settings, command: Command) -> ExitCode {
    run_with("mapping", open(settings), Mapping::describe, async |mapping| {
        execute(settings, mapping, command).await
    })
}

/// Runs a command on a table of the store (`sjctl mapping …`, `sjctl catalogs …`): exits 1 when
/// the table cannot be opened, 2 when `execute` fails or Redis or the store does not answer
/// within [`TIME_LIMIT`]; each message starts with `sjctl <what>:`.
pub(crate) fn run_with<T>(
    what: &str,
    opened: Result<T, String>,
    describe: impl Fn(&T) -> String,
    execute: impl AsyncFnOnce(&T) -> anyhow::Result<ExitCode>,
) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let table = match opened {
        Ok(table) => table,
        Err(e) => {
            eprintln!("sjctl {what}: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(async { tokio::time::timeout(TIME_LIMIT, execute(&table)).await }) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("sjctl {what}: {e:#}");
            ExitCode::from(2)
        }
        Err(_) => {
            eprintln!(
                "sjctl {what}: no answer within {} (Redis or {})",
                humantime::format_duration(TIME_LIMIT),
                describe(&table)
            );
            ExitCode::from(2)
        }
    }
}

pub(crate) fn open(settings: &Settings) -> Result<Mapping, String> {
    let pool = store::pool(&settings.redis).map_err(|e| e.to_string())?;
    Mapping::new(&settings.mapping, pool, Keys::new(&settings.namespace)).map_err(|e| e.to_string())
}

async fn execute(settings: &Settings, mapping: &Mapping, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List { json } => {
            print_in_use(&mapping.in_use().await?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Refresh { json } => {
            mapping.refresh().await?;
            print_in_use(&mapping.in_use().await?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Set { key, client_id, property, name, address, note, by, no_check } => {
            let key = match CustomerKey::parse(&key) {
                Ok(key) => key,
                Err(e) => {
                    eprintln!("sjctl mapping set: {e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let client_id = client_id.trim().to_owned();
            if client_id.is_empty() {
                eprintln!("sjctl mapping set: CLIENT_ID is empty");
                return Ok(ExitCode::from(1));
            }
            let made_by = match person(by) {
                Ok(person) => person,
                Err(e) => {
                    eprintln!("sjctl mapping set: {e}");
                    return Ok(ExitCode::from(1));
                }
            };
            if !no_check {
                match check_in_jobber(settings, &client_id, property.as_deref()).await {
                    Ok(client_name) => println!("Jobber client {client_id}: {client_name}"),
                    Err(reason) => {
                        eprintln!("sjctl mapping set: {reason}");
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            let row = MappingRow {
                key,
                client_id: ClientId::new(client_id),
                property_id: property.map(|p| PropertyId::from(p.trim())).filter(|p| !p.is_empty()),
                saberis_name: name.unwrap_or_default(),
                saberis_address: address.unwrap_or_default(),
                made_by,
                made_at: now(),
                note: note.unwrap_or_default(),
            };
            mapping.append(&row).await?;
            println!(
                "{} → {}{} (by {}), appended to {}",
                row.key,
                row.client_id,
                row.property_id.as_ref().map(|p| format!(" property {p}")).unwrap_or_default(),
                row.made_by,
                mapping.describe()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { file, dry_run, by } => import(mapping, &file, dry_run, by).await,
    }
}

/// The client's name, when Jobber has the client (and the property is one of its); a row naming
/// a client Jobber lacks would park every document of that customer.
async fn check_in_jobber(
    settings: &Settings,
    client_id: &str,
    property: Option<&str>,
) -> Result<String, String> {
    let unreachable =
        |e: String| format!("could not ask Jobber about the client ({e}); --no-check adds the row anyway");
    let (_, jobber) = crate::jobber::jobber_client(settings).map_err(|f| unreachable(f.to_string()))?;
    let client = jobber
        .client_by_id(&ClientId::from(client_id))
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .ok_or_else(|| {
            format!(
            "Jobber has no client {client_id}: copy the id from the client (Jobber's API id, not the number \
             in its page address), or --no-check to add the row anyway"
        )
        })?;
    if let Some(property) = property {
        if !client.properties.iter().any(|p| p.id == property) {
            return Err(format!(
                "{} ({client_id}) has no property {property}; its properties: {}",
                client.name,
                client.properties.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(client.name)
}

/// Who a person's row is from: `--by`, else $USER, else `sjctl`; never `auto`.
pub(crate) fn person(by: Option<String>) -> Result<String, String> {
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "sjctl".to_owned());
    if by.eq_ignore_ascii_case(AUTO) {
        return Err(format!("--by {AUTO:?} is the bridge's own name: give a person's"));
    }
    Ok(by)
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

async fn import(
    mapping: &Mapping,
    file: &std::path::Path,
    dry_run: bool,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let place = file.display();
    let text = match std::fs::read(file).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            eprintln!("sjctl mapping import: {place} is not UTF-8 text: save it as \"CSV UTF-8\"");
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("sjctl mapping import: cannot read {place}: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let table = match Table::from_csv(&text) {
        Ok(table) => table,
        Err(e) => {
            eprintln!("sjctl mapping import: {place}: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let importer = match person(by) {
        Ok(person) => person,
        Err(e) => {
            eprintln!("sjctl mapping import: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let at = now();
    let rows: Vec<MappingRow> = table
        .rows
        .iter()
        .map(|numbered| {
            let mut row = numbered.row.clone();
            if row.made_by.trim().is_empty() || row.is_auto() {
                row.made_by = importer.clone();
            }
            if row.made_at.trim().is_empty() {
                row.made_at = at.clone();
            }
            row
        })
        .collect();
    for problem in &table.problems {
        eprintln!("sjctl mapping import: {place}: skipped {problem}");
    }
    let mut out = std::io::stdout().lock();
    if dry_run {
        for row in &rows {
            writeln!(out, "would append {} → {} (by {})", row.key, row.client_id, row.made_by)?;
        }
        writeln!(
            out,
            "{} rows would be appended to {}, {} skipped (dry run: nothing written)",
            rows.len(),
            mapping.describe(),
            table.problems.len()
        )?;
    } else {
        mapping.append_all(&rows).await?;
        writeln!(
            out,
            "{} rows appended to {}, {} skipped",
            rows.len(),
            mapping.describe(),
            table.problems.len()
        )?;
    }
    Ok(if table.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

fn print_in_use(in_use: &InUse, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(in_use)?)?;
        return Ok(());
    }
    if in_use.rows.is_empty() {
        writeln!(out, "no rows in use")?;
    } else {
        writeln!(out, "{:<40}  {:<36}  {:<36}  {:<12}  NAME", "KEY", "CLIENT", "PROPERTY", "BY")?;
        for row in &in_use.rows {
            writeln!(
                out,
                "{:<40}  {:<36}  {:<36}  {:<12}  {}",
                row.key.as_str(),
                row.client_id,
                row.property_id.as_ref().map_or("-", |p| p.as_str()),
                if row.made_by.is_empty() { "-" } else { row.made_by.as_str() },
                row.saberis_name
            )?;
        }
    }
    writeln!(
        out,
        "{} rows in use from {} (read {}); {} rows skipped",
        in_use.rows.len(),
        in_use.store,
        in_use.loaded_at.as_deref().unwrap_or("?"),
        in_use.problems.len()
    )?;
    for problem in &in_use.problems {
        writeln!(out, "  {problem}")?;
    }
    Ok(())
}
