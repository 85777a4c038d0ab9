//! `sj-alerter`: emails operators a digest of the dead letters (docs/operations.md, "Alerts
//! (sj-alerter)"). Wiring only: the alerter is the `sj_alerter` library ([`sj_alerter::startup`]).

use std::path::PathBuf;
use std::process::ExitCode;

use sj_alerter::startup;
use sj_shared::runtime::{self, Shutdown};

#[derive(clap::Parser)]
#[command(
    name = "sj-alerter",
    version,
    about = "Email operators a digest of the documents that need attention.",
    long_about = "Email operators a digest of the documents that need attention.\n\n\
        Consumes the sj.alerts queue (a copy of every dead letter) and sends one email per window \
        of failures (alerts.window, at most alerts.max_per_mail documents each), acking the \
        messages only once the SMTP server accepted it. Stops cleanly on SIGTERM/SIGINT. \
        Settings: --config FILE or $SJ_CONFIG, then SJ_* variables (docs/configuration.md)."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    let settings = match runtime::start("sj-alerter", cli.config.as_deref(), cli.check_config, startup::check)
    {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let outcome = startup::run(&settings, Shutdown::listen()).await;
    runtime::exit_code("sj-alerter", outcome.map(|()| ExitCode::SUCCESS))
}
