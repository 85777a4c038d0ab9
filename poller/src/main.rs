//! `sj-poller`: takes Saberis exports from the watched folder and/or the SaberisConnect API and
//! publishes one quote message per document to RabbitMQ. Wiring only: the poller is the
//! `sj_poller` library ([`sj_poller::startup`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sj_poller::startup::{self, Options};
use sj_shared::runtime::{self, Shutdown};

#[derive(Parser)]
#[command(
    name = "sj-poller",
    version,
    about = "Publish Saberis exports as quote messages.",
    long_about = "Publish Saberis exports as quote messages.\n\n\
        Watches poller.folder.incoming (default exports/incoming) for *.xml and *.json Saberis \
        documents. Each complete document is parsed, checked against the sanity rules and published \
        to RabbitMQ; once the broker confirmed it, the file moves to archive/YYYY-MM-DD/. A document \
        that cannot become a quote moves to rejected/ with NAME.error.txt beside it, and a dead letter \
        tells the operators.\n\n\
        With poller.saberis_connect.enabled, also polls the SaberisConnect API every poll_interval: \
        each new GUID is fetched and published the same way, and recorded in Redis as taken once \
        the broker confirmed it (refused ones are kept as rejected/GUID.json).\n\n\
        Settings: --config FILE or $SJ_CONFIG, then SJ_* variables (docs/configuration.md)."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Process what is in the folder now, wait for files still being written, poll SaberisConnect
    /// once (when enabled), then exit (for cron-style use and tests). Exit code 0; 2 when the
    /// broker could not be used; 3 when SaberisConnect or Redis failed before the poll was done.
    #[arg(long)]
    once: bool,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match runtime::start("sj-poller", cli.config.as_deref(), cli.check_config, |_| Ok(())) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let options = Options { once: cli.once };
    runtime::exit_code("sj-poller", startup::run(&settings, options, Shutdown::listen()).await)
}
