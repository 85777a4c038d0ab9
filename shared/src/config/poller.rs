//! `[poller]`: where Saberis documents come from: the watched folder (`[poller.folder]`) and the
//! SaberisConnect API (`[poller.saberis_connect]`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{secs, HumanDuration, Secret};

/// `[poller]`: where Saberis documents come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollerSettings {
    /// The watched folder.
    pub folder: FolderSettings,
    /// The SaberisConnect API.
    pub saberis_connect: SaberisConnectSettings,
    /// Recognise a document whose content was already published (a re-export of the same
    /// design) and archive it without publishing it again.
    pub skip_published: bool,
    /// Messages awaiting the broker's confirmation at once.
    pub max_in_flight: usize,
}

impl Default for PollerSettings {
    fn default() -> Self {
        Self {
            folder: FolderSettings::default(),
            saberis_connect: SaberisConnectSettings::default(),
            skip_published: true,
            max_in_flight: 256,
        }
    }
}

/// `[poller.saberis_connect]`: the SaberisConnect REST API, polled for new exports
/// (docs/architecture.md, "SaberisConnect source").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaberisConnectSettings {
    /// Poll the API (besides the folder, or alone with `poller.folder.enabled = false`).
    pub enabled: bool,
    /// The API's base; `/api/v1/…` is appended (`https://connect.saberis.com:9000` for the real
    /// service; the sandbox serves it under `/saberis`).
    pub base_url: String,
    /// The long-lived token from Saberis' settings page: `SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN`,
    /// or a file named by `poller.saberis_connect.auth_token_file`. Required when `enabled`.
    #[serde(skip_serializing)]
    pub auth_token: Option<Secret>,
    /// A file holding `poller.saberis_connect.auth_token` (trailing line breaks are dropped).
    pub auth_token_file: Option<PathBuf>,
    /// How often the export list is fetched (the first time at start).
    pub poll_interval: HumanDuration,
    /// Timeout of one HTTP request, body included.
    pub request_timeout: HumanDuration,
}

impl Default for SaberisConnectSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            base_url: "http://127.0.0.1:8787/saberis".to_owned(),
            auth_token: None,
            auth_token_file: None,
            poll_interval: secs(30),
            request_timeout: secs(20),
        }
    }
}

/// `[poller.folder]`: the watched folder (the default source).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FolderSettings {
    /// Watch the folder.
    pub enabled: bool,
    /// Where Saberis exports arrive (`*.xml`, `*.json`).
    pub incoming: PathBuf,
    /// Published documents move to `archive/YYYY-MM-DD/`.
    pub archive: PathBuf,
    /// Refused documents move here, each with `NAME.error.txt` beside it.
    pub rejected: PathBuf,
    /// A file is taken once its size and modification time have not changed for this long
    /// (a file renamed into the folder is complete at once and waits no longer than this).
    pub settle: HumanDuration,
    /// Full rescans of the folder, a safety net behind the file-system events.
    pub rescan_interval: HumanDuration,
}

impl Default for FolderSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            incoming: PathBuf::from("exports/incoming"),
            archive: PathBuf::from("exports/archive"),
            rejected: PathBuf::from("exports/rejected"),
            settle: HumanDuration(Duration::from_millis(500)),
            rescan_interval: secs(30),
        }
    }
}

impl PollerSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        self.saberis_connect.validate(problems);
        if self.max_in_flight == 0 {
            problems.push("poller.max_in_flight: must be at least 1".to_owned());
        }
    }
}

impl SaberisConnectSettings {
    fn validate(&self, problems: &mut Vec<String>) {
        if self.enabled && self.auth_token.is_none() {
            problems.push(
                "poller.saberis_connect.auth_token: required when the SaberisConnect source is enabled \
                 (SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN or poller.saberis_connect.auth_token_file)"
                    .to_owned(),
            );
        }
        if !self.base_url.starts_with("http://") && !self.base_url.starts_with("https://") {
            problems.push("poller.saberis_connect.base_url: must be an http:// or https:// URL".to_owned());
        }
    }
}
