//! `sj-worker`: consumes quote messages and writes each one to Jobber exactly once (README, "How
//! it fits together"). Wiring only: the worker is the `sj_worker` library ([`sj_worker::startup`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sj_shared::runtime::{self, Shutdown};
use sj_worker::startup::{self, Options};

#[derive(Parser)]
#[command(
    name = "sj-worker",
    version,
    about = "Write quote messages to Jobber, exactly once.",
    long_about = "Write quote messages to Jobber, exactly once.\n\n\
        Consumes the sj.quotes queue; for each Saberis document finds or creates the Jobber client \
        and property, and creates the quote with its line items. Transient failures (Jobber down, \
        throttled, Redis away) wait in retry queues; what cannot succeed is dead-lettered with its \
        reason. Stops cleanly on SIGTERM/SIGINT. Settings: --config FILE or $SJ_CONFIG, then SJ_* \
        variables (docs/configuration.md)."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,

    /// Do everything up to the Jobber writes, which are logged (the exact GraphQL document and
    /// variables) instead of sent. Messages are not acknowledged: up to `amqp.prefetch` documents
    /// are shown, and they return to the queue when the worker stops.
    #[arg(long)]
    dry_run: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match runtime::start("sj-worker", cli.config.as_deref(), cli.check_config, startup::check)
    {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let options = Options { dry_run: cli.dry_run };
    let outcome = startup::run(&settings, options, Shutdown::listen()).await;
    runtime::exit_code("sj-worker", outcome.map(|()| ExitCode::SUCCESS))
}
