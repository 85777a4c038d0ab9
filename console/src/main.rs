//! `sj-console`: the dealer's web console (docs/console.md). `sj-console` (or `sj-console
//! serve`) serves it; `user add|list|remove` manages its accounts; `backup FILE` copies its
//! database while it runs.
//!
//! Exit codes: 0 success; 1 usage or configuration error; 2 the command ran but failed.

mod crypto;
mod db;
mod review;
mod users;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sj_shared::config::Settings;
use sj_shared::runtime::{self, Shutdown};

#[derive(Parser)]
#[command(
    name = "sj-console",
    version,
    about = "The dealer's web console of the Saberis–Jobber bridge.",
    long_about = "The dealer's web console of the Saberis–Jobber bridge: the history of documents, \
        users and roles, Jobber's webhooks.\n\n\
        Settings come from the TOML file given by --config (or $SJ_CONFIG), then from SJ_* \
        environment variables ([console] section: SJ_CONSOLE__LISTEN, SJ_CONSOLE__DATABASE…); \
        see docs/console.md."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the console (the default).
    Serve {
        /// Load and validate the configuration, print it (secrets hidden) and exit.
        #[arg(long)]
        check_config: bool,
    },
    /// The console's users: add, list, remove.
    #[command(subcommand)]
    User(users::Command),
    /// Copy the console's database to a new file with SQLite's online backup (safe while the
    /// console runs).
    Backup {
        /// The copy to write (must not exist yet).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.config, false),
        Some(Command::Serve { check_config }) => serve(cli.config, check_config),
        Some(Command::User(command)) => {
            let Some(settings) = settings(cli.config) else { return ExitCode::from(1) };
            let db = match db::Db::open(&settings.console.database) {
                Ok(db) => db,
                Err(e) => return fail(&format!("cannot open {}: {e}", settings.console.database.display())),
            };
            match users::run(&db, &command) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Some(Command::Backup { file }) => {
            let Some(settings) = settings(cli.config) else { return ExitCode::from(1) };
            match db::backup(&settings.console.database, &file) {
                Ok(users) => {
                    println!(
                        "backed up {} to {} ({users} users)",
                        settings.console.database.display(),
                        file.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn settings(config: Option<PathBuf>) -> Option<Settings> {
    Settings::load(config.as_deref()).map_err(|e| eprintln!("sj-console: {e}")).ok()
}

fn fail(message: &str) -> ExitCode {
    eprintln!("sj-console: {message}");
    ExitCode::from(2)
}

fn serve(config: Option<PathBuf>, check_config: bool) -> ExitCode {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let _in_runtime = tokio.enter();
    let settings = match runtime::start("sj-console", config.as_deref(), check_config, |_| Ok(())) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let outcome = tokio.block_on(async {
        let db = db::Db::open(&settings.console.database).map_err(|e| {
            anyhow::anyhow!("cannot open {} (console.database): {e}", settings.console.database.display())
        })?;
        let shutdown = Shutdown::listen();
        // The review queue and the outbox of approvals, on a connection of their own to the file.
        let review_db = db::Db::open(&settings.console.database).map_err(|e| {
            anyhow::anyhow!("cannot open {} (console.database): {e}", settings.console.database.display())
        })?;
        let review = tokio::spawn(review::run(review_db, settings.clone(), shutdown.clone()));
        let app = web::App::new(db, settings)?;
        let served = web::serve(app, shutdown).await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), review).await;
        served
    });
    runtime::exit_code("sj-console", outcome.map(|()| ExitCode::SUCCESS))
}
