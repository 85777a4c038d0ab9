//! A small client for the SaberisConnect REST API (`../shared/reference/saberis.md`):
//! a session token from the long-lived auth token, the export list, one document as JSON.
//!
//! The session token is kept in memory and in Redis ([`SessionCache`]), so `--once` runs from
//! cron reuse it instead of asking for a new one each time; whenever SaberisConnect answers 401
//! the client fetches a new one and retries the request once.

use std::time::Duration;

use anyhow::{bail, Context as _};
use reqwest::StatusCode;
use sj_shared::config::{SaberisConnectSettings, Secret};
use tokio::sync::Mutex;

use super::store::SessionCache;

pub struct Client {
    http: reqwest::Client,
    /// `{base_url}/api/v1`, without a trailing slash.
    api: String,
    auth_token: Secret,
    /// The current session token, if any.
    session: Mutex<Option<String>>,
    cache: Option<SessionCache>,
}

impl Client {
    pub fn new(settings: &SaberisConnectSettings, cache: Option<SessionCache>) -> anyhow::Result<Self> {
        let auth_token =
            settings.auth_token.clone().context("poller.saberis_connect.auth_token is not set")?;
        let timeout = settings.request_timeout.0;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("sj-poller/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the SaberisConnect HTTP client")?;
        let api = format!("{}/api/v1", settings.base_url.trim_end_matches('/'));
        Ok(Self { http, api, auth_token, session: Mutex::new(None), cache })
    }

    /// The GUIDs of the available documents, in the API's order. Entries without a usable GUID
    /// are returned as `Err` with what was there, so the caller can report them.
    pub async fn list(&self) -> anyhow::Result<Vec<Result<String, String>>> {
        let response = self.get("/export").await?;
        let body = response.bytes().await.map_err(|e| scrub(e, "/export"))?;
        let entries: Vec<serde_json::Value> =
            serde_json::from_slice(&body).context("the export list is not a JSON list")?;
        Ok(entries.into_iter().map(guid_of).collect())
    }

    /// One document in its JSON form. At most `max_bytes + 1` bytes are read: a longer document
    /// is cut there, which the parser then refuses as too large (it would refuse it anyway).
    pub async fn document(&self, guid: &str, max_bytes: u64) -> anyhow::Result<Vec<u8>> {
        let path = format!("/export/json/{guid}");
        let mut response = self.get(&path).await?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| scrub(e, &path))? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > max_bytes {
                break;
            }
        }
        Ok(body)
    }

    /// `GET {api}{path}` with the session token; on 401, a new session and one retry.
    async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.api);
        let mut token = self.session().await?;
        let mut renewed = false;
        loop {
            let response =
                self.http.get(&url).bearer_auth(&token).send().await.map_err(|e| scrub(e, path))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !renewed {
                tracing::info!(
                    path,
                    "SaberisConnect refused the session token (expired?): fetching a new one"
                );
                token = self.renew(&token).await?;
                renewed = true;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                bail!("GET {path}: SaberisConnect refused a session token it had just issued (401)");
            }
            if !status.is_success() {
                bail!("GET {path}: HTTP {status}{}", excerpt(response).await);
            }
            return Ok(response);
        }
    }

    /// The session token: the one in memory, else the one cached in Redis, else a new one.
    async fn session(&self) -> anyhow::Result<String> {
        let mut session = self.session.lock().await;
        if let Some(token) = session.as_ref() {
            return Ok(token.clone());
        }
        if let Some(cached) = self.cached().await {
            *session = Some(cached.clone());
            return Ok(cached);
        }
        let token = self.new_session().await?;
        *session = Some(token.clone());
        Ok(token)
    }

    /// Replaces the session token `stale` that SaberisConnect refused (unless it was replaced
    /// meanwhile) and returns the current one.
    async fn renew(&self, stale: &str) -> anyhow::Result<String> {
        let mut session = self.session.lock().await;
        if let Some(current) = session.as_ref().filter(|t| t.as_str() != stale) {
            return Ok(current.clone());
        }
        let token = self.new_session().await?;
        *session = Some(token.clone());
        Ok(token)
    }

    async fn cached(&self) -> Option<String> {
        match self.cache.as_ref()?.get().await {
            Ok(token) => token,
            Err(e) => {
                tracing::debug!(error = %e, "no cached SaberisConnect session (Redis)");
                None
            }
        }
    }

    /// `GET /token?authToken=…`: a bare string, sometimes wrapped in double quotes.
    async fn new_session(&self) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}/token", self.api))
            .query(&[("authToken", self.auth_token.expose())])
            .send()
            .await
            // The URL holds the auth token: never let it into an error message.
            .map_err(|e| scrub(e, "/token"))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            bail!(
                "SaberisConnect refused the auth token (HTTP {status}): check \
                 poller.saberis_connect.auth_token against the Saberis website's settings"
            );
        }
        if !status.is_success() {
            bail!("GET /token: HTTP {status}{}", excerpt(response).await);
        }
        let text = response.text().await.map_err(|e| scrub(e, "/token"))?;
        let token = text.trim().trim_matches('"').to_owned();
        if token.is_empty() || token.contains(char::is_whitespace) {
            bail!("GET /token: the answer is not a session token ({} bytes)", text.len());
        }
        if let Some(cache) = &self.cache {
            if let Err(e) = cache.put(&token).await {
                tracing::debug!(error = %e, "could not cache the SaberisConnect session in Redis");
            }
        }
        tracing::info!("new SaberisConnect session");
        Ok(token)
    }
}

/// A list entry's GUID: `guid` (any case), checked to be safe as a file name, a URL segment and
/// a Redis key (UUIDs are hex digits and dashes; letters, digits, `-` and `_` are allowed).
fn guid_of(entry: serde_json::Value) -> Result<String, String> {
    let guid = entry
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("guid")))
        .and_then(|(_, v)| v.as_str());
    match guid {
        Some(g) if is_safe_guid(g) => Ok(g.to_owned()),
        _ => Err(excerpt_of(&entry.to_string())),
    }
}

pub fn is_safe_guid(guid: &str) -> bool {
    (1..=64).contains(&guid.len())
        && guid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A transport error without its URL (the token request's URL carries the auth token).
fn scrub(error: reqwest::Error, path: &str) -> anyhow::Error {
    let what = if error.is_timeout() { " (timed out)" } else { "" };
    anyhow::Error::new(error.without_url()).context(format!("GET {path}{what}"))
}

/// `: <start of the body>` for error messages, so a 5xx page says what it was.
async fn excerpt(response: reqwest::Response) -> String {
    match response.text().await {
        Ok(text) if !text.trim().is_empty() => format!(": {}", excerpt_of(text.trim())),
        _ => String::new(),
    }
}

fn excerpt_of(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_taken_from_list_entries_and_checked() {
        let entry = |v: &str| serde_json::from_str::<serde_json::Value>(v).unwrap();
        assert_eq!(
            guid_of(entry(r#"{"guid":"52c550d2-a0f3-4bfa-a445-c96589672971","name":"x"}"#)),
            Ok("52c550d2-a0f3-4bfa-a445-c96589672971".to_owned())
        );
        assert_eq!(guid_of(entry(r#"{"Guid":"abc-1"}"#)), Ok("abc-1".to_owned()));
        assert!(guid_of(entry(r#"{"guid":"../../etc/passwd"}"#)).is_err());
        assert!(guid_of(entry(r#"{"guid":""}"#)).is_err());
        assert!(guid_of(entry(r#"{"id":"abc"}"#)).is_err());
        assert!(guid_of(entry(r#""abc""#)).is_err());
    }
}
