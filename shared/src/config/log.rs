//! `[log]`: what the processes log, and how.

use serde::{Deserialize, Serialize};

/// `[log]`: logs go to stderr.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `auto` (human on a terminal, JSON lines otherwise), `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter: `info`, `debug`, `sj_shared=debug,info`...; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Auto, level: "info".to_owned() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

impl LogSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.level) {
            problems.push(format!("log.level: {:?} is not a valid filter: {e}", self.level));
        }
    }
}
