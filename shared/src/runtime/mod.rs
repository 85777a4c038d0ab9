//! What every long-running binary of the bridge (`sj-poller`, `sj-worker`, `sj-alerter`) does the
//! same way, so each binary's `main` is wiring only:
//! - [`start`]: load and check its settings (exit 1 with every problem named), `--check-config`,
//!   set up telemetry;
//! - [`Shutdown`]: SIGTERM and SIGINT, seen by every task of the process;
//! - [`Reconnect`]: the one reconnect policy (backoff, logging, cut short by shutdown) of the
//!   loops that hold a broker connection;
//! - [`exit_code`]: the outcome as an exit code (2 when it stopped on an error), after the spans
//!   not exported yet were flushed.

mod reconnect;
mod shutdown;

pub use reconnect::Reconnect;
pub use shutdown::{Shutdown, ShutdownTrigger};

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;

use crate::config::Settings;

/// The settings, or the exit code to leave with: 1 after printing why they cannot be used
/// (including what `check` finds: a program's own checks of its settings), 0 after printing them
/// for `--check-config` (secrets hidden). Telemetry is set up on the way.
pub fn start(
    program: &str,
    config: Option<&Path>,
    check_config: bool,
    check: impl FnOnce(&Settings) -> Result<(), String>,
) -> Result<Settings, ExitCode> {
    let settings = Settings::load(config).map_err(|e| {
        eprintln!("{program}: {e}");
        ExitCode::from(1)
    })?;
    if let Err(problem) = check(&settings) {
        eprintln!("{program}: invalid configuration:\n  {problem}");
        return Err(ExitCode::from(1));
    }
    if check_config {
        println!("{settings:#?}");
        return Err(ExitCode::SUCCESS);
    }
    crate::telemetry::init_traced(program, &settings.log, Some(&settings.telemetry));
    Ok(settings)
}

/// The exit code of a run: its own when it ended, 2 (logged and printed, with the error's
/// causes) when it stopped on an error. The spans not exported yet are sent first.
pub fn exit_code<E: Display>(program: &str, outcome: Result<ExitCode, E>) -> ExitCode {
    let code = match outcome {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "{program} stopped");
            eprintln!("{program}: {e:#}");
            ExitCode::from(2)
        }
    };
    crate::telemetry::shutdown();
    code
}
