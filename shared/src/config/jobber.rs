//! `[jobber]`: the Jobber account the workers write to.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{secs, HumanDuration, Secret};

/// `[jobber]`: the Jobber account the workers write to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobberSettings {
    /// Base URL of Jobber's API (the sandbox's by default).
    pub api_url: String,
    /// The `X-JOBBER-GRAPHQL-VERSION` sent with every request: the Jobber API version every
    /// request is written for (docs/operations.md, "Jobber API version").
    pub graphql_version: String,
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret: `SJ_JOBBER__CLIENT_SECRET`, or a file named by
    /// `jobber.client_secret_file`. Required by `sj-worker` (every token refresh sends it) and
    /// `sjctl jobber connect`.
    #[serde(skip_serializing)]
    pub client_secret: Option<Secret>,
    /// A file holding `jobber.client_secret` (trailing line breaks are dropped).
    pub client_secret_file: Option<PathBuf>,
    /// A refresh token to start from when Redis holds none yet (first start, or Redis lost its
    /// data): `SJ_JOBBER__REFRESH_TOKEN` or `jobber.refresh_token_file`. Once used, the rotated
    /// tokens live in Redis; `sjctl jobber connect` makes it unnecessary, and it is ignored after
    /// `sjctl jobber disconnect`.
    #[serde(skip_serializing)]
    pub refresh_token: Option<Secret>,
    /// A file holding `jobber.refresh_token` (trailing line breaks are dropped).
    pub refresh_token_file: Option<PathBuf>,
    /// The custom field (text, on quotes) that carries the bridge's marker; when the account has
    /// none, the marker goes at the end of the quote title.
    pub marker_field: String,
    /// Timeout of one request to Jobber.
    pub request_timeout: HumanDuration,
}

impl Default for JobberSettings {
    fn default() -> Self {
        Self {
            api_url: "http://127.0.0.1:8787".to_owned(),
            graphql_version: "2025-04-16".to_owned(),
            client_id: "sandbox-client-id".to_owned(),
            client_secret: None,
            client_secret_file: None,
            refresh_token: None,
            refresh_token_file: None,
            marker_field: "Saberis reference".to_owned(),
            request_timeout: secs(30),
        }
    }
}

impl JobberSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if !self.api_url.starts_with("http://") && !self.api_url.starts_with("https://") {
            problems.push(format!("jobber.api_url: {:?} must be an http:// or https:// URL", self.api_url));
        }
        let version = self.graphql_version.as_bytes();
        let is_date = version.len() == 10
            && version
                .iter()
                .enumerate()
                .all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
        if !is_date {
            problems.push(format!(
                "jobber.graphql_version: {:?} must be a date such as 2025-04-16",
                self.graphql_version
            ));
        }
    }
}
