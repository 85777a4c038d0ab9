//! `sjctl`: one command line for the operator of the bridge.
//!
//! Exit codes: 0 success; 1 usage or configuration error, and `verify` or `probe` when a check fails (as
//! monitoring scripts expect of a health check); 2 the command ran but hit a problem (a document
//! that does not parse, a dead letter that cannot be replayed, a broker that cannot be reached).

mod catalogs;
mod dlq;
mod history;
mod jobber;
mod mapping;
mod parse;
mod probe;
mod status;
mod undo;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sj_shared::config::Settings;

#[derive(Parser)]
#[command(
    name = "sjctl",
    version,
    about = "Operate the Saberis–Jobber bridge: parse documents, inspect and replay what failed.",
    long_about = "Operate the Saberis–Jobber bridge.\n\n\
        Settings come from the TOML file given by --config (or $SJ_CONFIG), then from SJ_* \
        environment variables (SJ_PARSER__MAX_DEPTH=40 sets parser.max_depth); see docs/configuration.md."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Parse(parse::Args),
    /// Parked dead letters: list, show, replay, purge.
    #[command(subcommand)]
    Dlq(dlq::Command),
    /// What became of recent documents (created, updated, unchanged, retried, parked, rejected,
    /// replayed, undone), with totals.
    History(history::Args),
    /// Check every dependency of this installation: one line each, ✓ or ✗ with the fix.
    Verify(verify::Args),
    /// Queue depths and consumers, Jobber's cost budget and token expiry.
    Status(status::Args),
    /// Remove from Jobber what the bridge wrote for one document (the quote it created, or the
    /// lines it added to an existing quote), after showing it and asking; the document can then be
    /// sent again.
    Undo(undo::Args),
    /// The mapping table (Saberis customer → Jobber client): list, set, import, refresh.
    #[command(subcommand)]
    Mapping(mapping::Command),
    /// The catalog table (the dealer's price per catalog: multiplier and margin, or markup):
    /// list, set, refresh.
    #[command(subcommand)]
    Catalogs(catalogs::Command),
    /// The Jobber connection: connect (OAuth, first setup), disconnect, status.
    #[command(subcommand)]
    Jobber(jobber::Command),
    /// Ask a process's health endpoint (/readyz by default): exit 0 on 200, else 1 with the
    /// reason on stderr. A container's HEALTHCHECK.
    Probe(probe::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap exits 2 on usage errors; ours is 1 (2 means "a document failed").
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("sjctl: {e}");
            return ExitCode::from(1);
        }
    };
    sj_shared::telemetry::init_traced("sjctl", &settings.log, Some(&settings.telemetry));
    let code = match cli.command {
        Command::Parse(args) => parse::run(&settings, &args),
        Command::Dlq(command) => dlq::run(&settings, command),
        Command::History(args) => history::run(&settings, &args),
        Command::Verify(args) => verify::run(&settings, &args),
        Command::Status(args) => status::run(&settings, &args),
        Command::Undo(args) => undo::run(&settings, &args),
        Command::Mapping(command) => mapping::run(&settings, command),
        Command::Catalogs(command) => catalogs::run(&settings, command),
        Command::Jobber(command) => jobber::run(&settings, command),
        Command::Probe(args) => probe::run(&settings, &args),
    };
    // Spans of the Jobber calls sjctl made (undo, mapping set, jobber connect), when exporting.
    sj_shared::telemetry::shutdown();
    code
}
