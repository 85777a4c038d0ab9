//! Telemetry, set up in one place for every binary: `tracing` to stderr, human-readable on a
//! terminal and JSON lines otherwise (containers, CI, log shippers). Stdout stays free for what
//! a command prints as its result (`sjctl parse` writes messages there).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `log.level`. Safe to call
/// twice (the second call does nothing), so tests may call it freely.
pub fn init(settings: &LogSettings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info")));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
