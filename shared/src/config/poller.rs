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
    /// What the first poll of an installation takes of the exports SaberisConnect already lists:
    /// `""` (the default) none of them, they were made before the bridge and are held back (take
    /// some later with `sj-poller --once --since DATE`); a date `"2025-07-01"`: those dated on or
    /// after it (the document's own date); `"everything"`: all of them.
    pub start_from: String,
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
            start_from: String::new(),
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
    /// What the folder source's first start (its archive and rejected folders still empty) takes
    /// of the files already in `incoming/`: `""` (the default) none of them, they move to
    /// `poller.folder.before_bridge` (take some later with `sj-poller --once --since DATE`); a date
    /// `"2025-07-01"`: those dated on or after it (the document's own date, else the file's
    /// modification day); `"everything"`: all of them.
    pub start_from: String,
    /// Where the files found in `incoming/` at the first start, and not taken, are moved; empty
    /// (the default): `before-the-bridge/` beside `incoming/`.
    pub before_bridge: Option<PathBuf>,
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
            start_from: String::new(),
            before_bridge: None,
        }
    }
}

impl PollerSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        self.saberis_connect.validate(problems);
        if let Err(e) = StartFrom::parse(&self.folder.start_from) {
            problems.push(format!("poller.folder.start_from: {e}"));
        }
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
        if let Err(e) = StartFrom::parse(&self.start_from) {
            problems.push(format!("poller.saberis_connect.start_from: {e}"));
        }
    }

    /// `poller.saberis_connect.start_from`, read (validated at start: a bad value is new-only).
    pub fn start_from(&self) -> StartFrom {
        StartFrom::parse(&self.start_from).unwrap_or(StartFrom::NewOnly)
    }
}

impl FolderSettings {
    /// `poller.folder.start_from`, read (validated at start: a bad value is new-only).
    pub fn start_from(&self) -> StartFrom {
        StartFrom::parse(&self.start_from).unwrap_or(StartFrom::NewOnly)
    }

    /// `poller.folder.before_bridge`, or `before-the-bridge/` beside `incoming/`.
    pub fn before_bridge_dir(&self) -> PathBuf {
        match &self.before_bridge {
            Some(dir) if !dir.as_os_str().is_empty() => dir.clone(),
            _ => {
                let parent = self.incoming.parent().unwrap_or(std::path::Path::new(""));
                parent.join("before-the-bridge")
            }
        }
    }
}

/// What the first poll (SaberisConnect) or first start (folder) of an installation takes of the
/// documents already waiting: `start_from` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// None: they were made before the bridge (the default, `""`).
    NewOnly,
    /// Those dated on or after this day (ISO `YYYY-MM-DD`).
    Since(String),
    /// All of them (`"everything"`).
    Everything,
}

impl StartFrom {
    pub fn parse(text: &str) -> Result<StartFrom, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(StartFrom::NewOnly);
        }
        if text.eq_ignore_ascii_case("everything") {
            return Ok(StartFrom::Everything);
        }
        parse_day(text).map(StartFrom::Since).map_err(|e| {
            format!("{e}; write a date as \"2025-07-01\", \"everything\", or nothing for new exports only")
        })
    }

    /// Whether a document dated `day` (ISO, `None`: unknown) is taken.
    pub fn takes(&self, day: Option<&str>) -> bool {
        match self {
            StartFrom::NewOnly => false,
            StartFrom::Everything => true,
            StartFrom::Since(since) => day.is_some_and(|day| day >= since.as_str()),
        }
    }
}

/// A day written `YYYY-MM-DD` (a real date), returned as written.
pub fn parse_day(text: &str) -> Result<String, String> {
    let invalid = || format!("{text:?} is not a date written YYYY-MM-DD");
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(invalid());
    }
    let number = |range: std::ops::Range<usize>| {
        let part = &text[range];
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse::<u32>().ok()).flatten()
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return Err(invalid());
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(invalid()),
    };
    if day == 0 || day > days {
        return Err(invalid());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_from_is_new_only_a_date_or_everything() {
        assert_eq!(StartFrom::parse(""), Ok(StartFrom::NewOnly));
        assert_eq!(StartFrom::parse("  "), Ok(StartFrom::NewOnly));
        assert_eq!(StartFrom::parse("Everything"), Ok(StartFrom::Everything));
        assert_eq!(StartFrom::parse("2024-02-29"), Ok(StartFrom::Since("2024-02-29".into())));
        for bad in ["2023-02-29", "2025-13-01", "2025-7-1", "2025.07.01", "yesterday", "2025-07-01x"] {
            assert!(StartFrom::parse(bad).is_err(), "{bad}");
        }
        let since = StartFrom::Since("2025-07-01".into());
        assert!(since.takes(Some("2025-07-01")) && since.takes(Some("2026-01-01")));
        assert!(!since.takes(Some("2025-06-30")) && !since.takes(None));
        assert!(!StartFrom::NewOnly.takes(Some("2999-01-01")) && StartFrom::Everything.takes(None));
    }

    #[test]
    fn a_bad_start_from_names_its_key() {
        let mut settings = PollerSettings::default();
        settings.saberis_connect.start_from = "2025-02-30".into();
        settings.folder.start_from = "soon".into();
        let mut problems = Vec::new();
        settings.validate(&mut problems);
        assert!(
            problems.iter().any(|p| p.starts_with("poller.saberis_connect.start_from: \"2025-02-30\"")),
            "{problems:?}"
        );
        assert!(problems.iter().any(|p| p.starts_with("poller.folder.start_from: \"soon\"")), "{problems:?}");
    }

    #[test]
    fn before_the_bridge_is_beside_incoming_by_default() {
        let folder = FolderSettings::default();
        assert_eq!(folder.before_bridge_dir(), PathBuf::from("exports/before-the-bridge"));
    }
}
