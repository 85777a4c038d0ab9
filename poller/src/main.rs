//! `sj-poller`: takes Saberis exports from the watched folder and/or the SaberisConnect API and
//! publishes one quote message per document to RabbitMQ. Wiring only: the poller is the
//! `sj_poller` library ([`sj_poller::startup`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sj_poller::backfill::Window;
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
        The first start of an installation sends nothing made before the bridge: the files already \
        in incoming/ move to before-the-bridge/ beside it, the exports SaberisConnect already lists \
        are recorded as before the bridge (poller.folder.start_from and \
        poller.saberis_connect.start_from take some or all of them instead). --once --since DATE \
        takes them later (docs/operations.md, \"Connecting for the first time\").\n\n\
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

    /// With --once: instead of a pass, publish the documents held back at the first start as
    /// made before the bridge (files in before-the-bridge/, GUIDs SaberisConnect listed at the first
    /// poll) dated on or after DATE (YYYY-MM-DD; the document's own date, else a file's
    /// modification day), each exactly once, the oldest first; then exit (3 when SaberisConnect or
    /// Redis failed before it was done).
    #[arg(long, value_name = "DATE", requires = "once", value_parser = day)]
    since: Option<String>,

    /// With --since: only documents dated on or before DATE (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", requires = "since", value_parser = day)]
    until: Option<String>,

    /// With --since: at most N documents (both sources together), the oldest first.
    #[arg(long, value_name = "N", requires = "since")]
    limit: Option<usize>,

    /// With --since: print what would be published (file or GUID, date, customer, total) and
    /// publish and record nothing.
    #[arg(long, requires = "since")]
    dry_run: bool,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,
}

fn day(text: &str) -> Result<String, String> {
    sj_shared::config::parse_day(text)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match runtime::start("sj-poller", cli.config.as_deref(), cli.check_config, |_| Ok(())) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let backfill =
        cli.since.map(|since| Window { since, until: cli.until, limit: cli.limit, dry_run: cli.dry_run });
    let options = Options { once: cli.once, backfill };
    runtime::exit_code("sj-poller", startup::run(&settings, options, Shutdown::listen()).await)
}
