//! `sj-poller`: fetches Saberis exports and publishes quote messages (README, "Architecture"). The pipeline is issue #4: until it
//! lands, this binary only validates its configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sj_shared::config::Settings;

#[derive(Parser)]
#[command(name = "sj-poller", version, about = ABOUT)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,
}

const ABOUT: &str = env!("CARGO_PKG_DESCRIPTION");

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("sj-poller: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.check_config {
        println!("{settings:#?}");
        return ExitCode::SUCCESS;
    }
    eprintln!("sj-poller: not built yet: the pipeline is issue #4 (only --check-config works)");
    ExitCode::from(2)
}
