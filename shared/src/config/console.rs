//! `[console]`: `sj-console`, the dealer's web console (docs/console.md).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{secs, HumanDuration};

/// `[console]`: the dealer's web console (`sj-console`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSettings {
    /// `IP:port` the console listens on (`SJ_CONSOLE__LISTEN`); put a TLS proxy in front of it
    /// when staff reach it from elsewhere.
    pub listen: SocketAddr,
    /// The address staff and Jobber reach the console at, as they type it (`https://bridge.example.com`).
    /// An `https://` address makes the session cookie `Secure`; the Jobber webhook URL to register
    /// is this address followed by `/webhooks/jobber`.
    pub public_url: String,
    /// The console's SQLite file (users, sessions, sign-in attempts, audit, Jobber webhook
    /// events); WAL mode, so `-wal` and `-shm` files sit beside it. Back it up with
    /// `sj-console backup FILE`.
    pub database: PathBuf,
    /// How long a sign-in lasts; signing in again starts a new session.
    pub session_lifetime: HumanDuration,
    /// Failed sign-ins allowed per minute for one user name, and separately for one network
    /// address; beyond it the console answers 429 until the minute has passed.
    pub sign_in_attempts: u32,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8790)),
            public_url: "http://127.0.0.1:8790".to_owned(),
            database: PathBuf::from("console.sqlite3"),
            session_lifetime: secs(12 * 60 * 60),
            sign_in_attempts: 5,
        }
    }
}

impl ConsoleSettings {
    /// Whether the session cookie must be `Secure` (the console is reached over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        let url = self.public_url.as_str();
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
            _ => problems.push(format!(
                "console.public_url: {url:?} must be an http:// or https:// address such as https://console.example.com"
            )),
        }
        if self.database.as_os_str().is_empty() || self.database.file_name().is_none() {
            problems.push(format!("console.database: {:?} must name a file", self.database.display()));
        }
        if self.session_lifetime.0.as_secs() < 60 {
            problems.push("console.session_lifetime: must be at least 1 minute".to_owned());
        }
        if self.sign_in_attempts == 0 {
            problems.push("console.sign_in_attempts: must be at least 1".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_plain_http_is_not_secure() {
        let settings = ConsoleSettings::default();
        let mut problems = Vec::new();
        settings.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!settings.secure_cookies());
        let https = ConsoleSettings { public_url: "https://console.example.com".to_owned(), ..settings };
        assert!(https.secure_cookies());
    }

    #[test]
    fn problems_name_their_keys() {
        let settings = ConsoleSettings {
            public_url: "console.example.com".to_owned(),
            database: PathBuf::new(),
            session_lifetime: secs(5),
            sign_in_attempts: 0,
            ..ConsoleSettings::default()
        };
        let mut problems = Vec::new();
        settings.validate(&mut problems);
        let keys = [
            "console.public_url:",
            "console.database:",
            "console.session_lifetime:",
            "console.sign_in_attempts:",
        ];
        for key in keys {
            assert!(problems.iter().any(|p| p.starts_with(key)), "{key}: {problems:?}");
        }
    }
}
