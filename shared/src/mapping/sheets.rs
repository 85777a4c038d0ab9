//! The Google Sheets store: the Sheets v4 values API (`GET …/values/{tab}`, `POST
//! …/values/{tab}!A:H:append`), authenticated as a service account: an RS256-signed JWT
//! assertion from the account's JSON key is exchanged at its `token_uri` for an access token,
//! kept until shortly before it expires, and fetched again once when Sheets answers 401.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header as JwtHeader};
use serde::Deserialize;
use serde_json::{json, Value};

use super::csv::Lines;
use super::table::{header_of, Header, Table, COLUMNS};
use super::{MappingError, MappingRow};
use crate::config::{Secret, SheetsStoreSettings};

/// The scope the bridge asks for: read and write the sheets the account is shared on.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// A token this close to its expiry is not used any more.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The parts of Google's JSON key file the bridge needs.
#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: Secret,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

struct ServiceAccount {
    client_email: String,
    token_uri: String,
    private_key_id: Option<String>,
    key: EncodingKey,
}

struct CachedToken {
    value: String,
    expires: Instant,
    /// The scopes Google says it granted, when it says.
    scope: Option<String>,
}

pub(crate) struct SheetsStore {
    http: reqwest::Client,
    api: reqwest::Url,
    spreadsheet_id: String,
    tab: String,
    timeout: Duration,
    account: ServiceAccount,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

const KEY_FIX: &str = "download a JSON key of the service account (Google Cloud console → IAM & Admin → \
                       Service accounts → Keys → Add key → JSON) and point mapping.sheets.service_account_file at it";

fn load_account(path: &Path) -> Result<ServiceAccount, MappingError> {
    let place = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        MappingError::Unusable(format!("cannot read the service account key {place}: {e}: {KEY_FIX}"))
    })?;
    let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
        MappingError::Unusable(format!("{place} is not a service account's JSON key ({e}): {KEY_FIX}"))
    })?;
    let key = EncodingKey::from_rsa_pem(file.private_key.expose().as_bytes()).map_err(|e| {
        MappingError::Unusable(format!("{place}: private_key is not a PEM RSA private key ({e}): {KEY_FIX}"))
    })?;
    Ok(ServiceAccount {
        client_email: file.client_email,
        token_uri: file
            .token_uri
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
        private_key_id: file.private_key_id.filter(|k| !k.is_empty()),
        key,
    })
}

/// `'Sheet 1'` (quoted always, so a tab named like a cell, `AB1`, is still a tab).
fn quoted_tab(tab: &str) -> String {
    format!("'{}'", tab.replace('\'', "''"))
}

/// `A` … `Z`, `AA` …
fn column_letters(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII")
}

fn cell_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Google's error message in `{"error":{"message"}}` (or `error_description`), else the body.
fn google_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["error_description"].as_str())
            .or_else(|| v["error"].as_str())
            .map(str::to_owned)
    });
    let text = message.unwrap_or_else(|| body.trim().to_owned());
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 300 {
        text.chars().take(300).collect::<String>() + "…"
    } else {
        text
    }
}

impl SheetsStore {
    pub fn new(settings: &SheetsStoreSettings) -> Result<SheetsStore, MappingError> {
        let file: &Path = settings.service_account_file.as_deref().ok_or_else(|| {
            MappingError::Unusable(format!("mapping.sheets.service_account_file is not set: {KEY_FIX}"))
        })?;
        let account = load_account(file)?;
        let mut api = reqwest::Url::parse(settings.api_url.trim()).map_err(|e| {
            MappingError::Unusable(format!(
                "mapping.sheets.api_url {:?} is not a URL ({e})",
                settings.api_url
            ))
        })?;
        if api.cannot_be_a_base() {
            return Err(MappingError::Unusable(format!(
                "mapping.sheets.api_url {:?} is not an http(s) URL",
                settings.api_url
            )));
        }
        if let Ok(mut segments) = api.path_segments_mut() {
            segments.pop_if_empty();
        }
        let timeout = settings.request_timeout.0;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| MappingError::Unusable(format!("cannot build an HTTP client: {e}")))?;
        Ok(SheetsStore {
            http,
            api,
            spreadsheet_id: settings.spreadsheet_id.trim().to_owned(),
            tab: settings.tab.clone(),
            timeout,
            account,
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn describe(&self) -> String {
        format!("Google Sheet {} tab {}", self.spreadsheet_id, self.tab)
    }

    fn values_url(&self, range: &str) -> reqwest::Url {
        let mut url = self.api.clone();
        url.path_segments_mut().expect("checked in new").extend([
            "v4",
            "spreadsheets",
            &self.spreadsheet_id,
            "values",
            range,
        ]);
        url
    }

    fn transport(&self, what: &str, e: reqwest::Error) -> MappingError {
        if e.is_timeout() {
            MappingError::Unavailable(format!(
                "{what}: no answer within {}",
                humantime::format_duration(self.timeout)
            ))
        } else {
            MappingError::Unavailable(format!("{what}: {}", e.without_url()))
        }
    }

    /// The signed assertion for the token endpoint.
    fn assertion(&self) -> Result<String, MappingError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let claims = json!({
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let mut header = JwtHeader::new(Algorithm::RS256);
        header.kid = self.account.private_key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.account.key).map_err(|e| {
            MappingError::Unusable(format!("cannot sign the token request with the service account key: {e}"))
        })
    }

    async fn fetch_token(&self) -> Result<CachedToken, MappingError> {
        let what = format!("Google token endpoint {}", self.account.token_uri);
        let form = [("grant_type", JWT_BEARER.to_owned()), ("assertion", self.assertion()?)];
        let response = self
            .http
            .post(&self.account.token_uri)
            .form(&form)
            .send()
            .await
            .map_err(|e| self.transport(&what, e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.transport(&what, e))?;
        if status.is_success() {
            #[derive(Deserialize)]
            struct Answer {
                access_token: String,
                #[serde(default)]
                expires_in: Option<u64>,
                #[serde(default)]
                scope: Option<String>,
            }
            let answer: Answer = serde_json::from_str(&body)
                .map_err(|e| MappingError::Unavailable(format!("{what}: unexpected answer ({e})")))?;
            let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
            return Ok(CachedToken {
                value: answer.access_token,
                expires: Instant::now() + lifetime,
                scope: answer.scope,
            });
        }
        let message = google_message(&body);
        let code = status.as_u16();
        if code == 408 || code == 429 || status.is_server_error() {
            return Err(MappingError::Unavailable(format!("{what} answered HTTP {code}: {message}")));
        }
        let email = &self.account.client_email;
        let fix = if message.contains("scope") {
            "the key may belong to another kind of account: use a service account's key".to_owned()
        } else if message.contains("iat") || message.contains("timeframe") {
            "check this machine's clock (the request is signed with the time)".to_owned()
        } else {
            format!("check that the service account {email} still exists and that this key was not deleted; {KEY_FIX}")
        };
        Err(MappingError::Unusable(format!(
            "Google refused the service account {email} (HTTP {code}: {message}): {fix}"
        )))
    }

    /// A valid access token (the cached one unless `fresh` or about to expire).
    async fn access_token(&self, fresh: bool) -> Result<String, MappingError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if !fresh && token.expires > Instant::now() + EXPIRY_MARGIN {
                return Ok(token.value.clone());
            }
        }
        let token = self.fetch_token().await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Sends a request with the access token; on 401 fetches a new token and tries once more.
    async fn call(
        &self,
        what: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Value, MappingError> {
        let mut fresh = false;
        loop {
            let token = self.access_token(fresh).await?;
            let response = build(&token).send().await.map_err(|e| self.transport(what, e))?;
            let status = response.status();
            let body = response.text().await.map_err(|e| self.transport(what, e))?;
            if status.as_u16() == 401 && !fresh {
                tracing::debug!("Google Sheets refused the access token; taking a new one");
                fresh = true;
                continue;
            }
            if status.is_success() {
                return serde_json::from_str(&body)
                    .map_err(|e| MappingError::Unavailable(format!("{what}: unexpected answer ({e})")));
            }
            return Err(self.refusal(what, status.as_u16(), &google_message(&body)));
        }
    }

    /// An error answer as a [`MappingError`] that says what to fix.
    fn refusal(&self, what: &str, code: u16, message: &str) -> MappingError {
        let (id, email) = (&self.spreadsheet_id, &self.account.client_email);
        match code {
            408 | 429 | 500..=599 => {
                MappingError::Unavailable(format!("{what}: Google Sheets answered HTTP {code}: {message}"))
            }
            401 => MappingError::Unusable(format!(
                "{what}: Google Sheets refused a new access token too (HTTP 401: {message}): check that the \
                 service account {email} is enabled"
            )),
            403 if message.contains("has not been used") || message.contains("disabled") => {
                MappingError::Unusable(format!(
                    "{what}: HTTP 403: {message}: enable the Google Sheets API in the service account's Google Cloud project"
                ))
            }
            403 => MappingError::Unusable(format!(
                "{what}: permission denied (HTTP 403: {message}): share the sheet with {email} as editor"
            )),
            404 => MappingError::Unusable(format!(
                "{what}: spreadsheet {id} not found (HTTP 404: {message}): check mapping.sheets.spreadsheet_id (the \
                 id in the sheet's address, /spreadsheets/d/<id>/edit) and share the sheet with {email}"
            )),
            400 if message.contains("Unable to parse range") => MappingError::Unusable(format!(
                "{what}: spreadsheet {id} has no tab {:?} ({message}): set mapping.sheets.tab to the tab's name as \
                 shown at the bottom of the sheet",
                self.tab
            )),
            _ => MappingError::Unusable(format!("{what}: Google Sheets answered HTTP {code}: {message}")),
        }
    }

    async fn get_values(&self, range: &str) -> Result<Vec<(usize, Vec<String>)>, MappingError> {
        let what = format!("reading {}", self.describe());
        let url = self.values_url(range);
        let answer = self.call(&what, |token| self.http.get(url.clone()).bearer_auth(token)).await?;
        let rows = answer["values"].as_array().cloned().unwrap_or_default();
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let cells =
                    row.as_array().map(|cells| cells.iter().map(cell_text).collect()).unwrap_or_default();
                (i + 1, cells)
            })
            .collect())
    }

    /// Every row of the tab, numbered as the sheet shows them.
    pub async fn read(&self) -> Result<Vec<(usize, Vec<String>)>, MappingError> {
        self.get_values(&quoted_tab(&self.tab)).await
    }

    /// Appends rows after the table, laid out in the header's column order (with the header
    /// first when the tab is empty). Never writes over existing cells.
    pub async fn append(&self, rows: &[MappingRow]) -> Result<(), MappingError> {
        self.append_lines(|first| {
            let (header, write_header) = match header_of(first)? {
                Some(header) => (header, false),
                None => (Header::standard(), true),
            };
            let missing = header.missing_columns();
            if !missing.is_empty() {
                tracing::warn!(sheet = %self.describe(), ?missing, "the mapping table lacks columns; their values are not written");
            }
            let width = header.width().max(COLUMNS.len());
            Ok((
                Lines { header: write_header.then(|| header.cells().to_vec()), rows: rows.iter().map(|row| header.layout(row)).collect() },
                width,
            ))
        })
        .await
    }

    /// Appends what `lines` lays out from the tab's header row (all rows when row 1 is empty),
    /// `width` columns wide, in one request.
    pub async fn append_lines(
        &self,
        lines: impl FnOnce(&[(usize, Vec<String>)]) -> Result<(Lines, usize), String>,
    ) -> Result<(), MappingError> {
        let mut first = self.get_values(&format!("{}!1:1", quoted_tab(&self.tab))).await?;
        if first.iter().all(|(_, cells)| cells.iter().all(|c| c.trim().is_empty())) {
            // Row 1 is empty: the tab is new, or the header is missing above data.
            first = self.read().await?;
        }
        let (lines, width) =
            lines(&first).map_err(|e| MappingError::Unusable(format!("{}: {e}", self.describe())))?;
        let mut values: Vec<Vec<String>> = lines.header.into_iter().collect();
        values.extend(lines.rows);
        let range = format!("{}!A:{}:append", quoted_tab(&self.tab), column_letters(width.max(1) - 1));
        let url = self.values_url(&range);
        let body = json!({"majorDimension": "ROWS", "values": values});
        let what = format!("appending to {}", self.describe());
        self.call(&what, |token| {
            self.http
                .post(url.clone())
                .query(&[("valueInputOption", "RAW"), ("insertDataOption", "INSERT_ROWS")])
                .bearer_auth(token)
                .json(&body)
        })
        .await?;
        Ok(())
    }

    /// For `sjctl verify`: the table reads, and the access token carries the spreadsheets scope
    /// (no row is written to find out whether the account may write).
    pub async fn check(&self) -> Result<String, MappingError> {
        self.check_with(|rows| {
            let table = Table::from_cells(rows)?;
            Ok(format!("{} rows, {} skipped", table.rows.len(), table.problems.len()))
        })
        .await
    }

    /// [`SheetsStore::check`] with the table's own reading of its rows.
    pub async fn check_with(
        &self,
        count: impl FnOnce(&[(usize, Vec<String>)]) -> Result<String, String>,
    ) -> Result<String, MappingError> {
        let rows = self.read().await?;
        let found = count(&rows).map_err(|e| MappingError::Unusable(format!("{}: {e}", self.describe())))?;
        let scope = self.token.lock().await.as_ref().and_then(|t| t.scope.clone());
        if let Some(scope) = scope.filter(|s| !s.split_whitespace().any(|s| s == SCOPE)) {
            return Err(MappingError::Unusable(format!(
                "the access token of {} does not grant {SCOPE} (it grants {scope}): the bridge could not write",
                self.account.client_email
            )));
        }
        Ok(format!(
            "{}: {found}; token for {} with the spreadsheets scope (writing needs the sheet shared with it as editor)",
            self.describe(),
            self.account.client_email
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_messages() {
        assert_eq!(quoted_tab("Sheet1"), "'Sheet1'");
        assert_eq!(quoted_tab("Dealer's map"), "'Dealer''s map'");
        assert_eq!(column_letters(7), "H");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(
            google_message(r#"{"error":{"code":403,"message":"The caller does not have permission"}}"#),
            "The caller does not have permission"
        );
        assert_eq!(
            google_message(r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#),
            "Invalid JWT Signature."
        );
        assert_eq!(google_message("Forbidden\n"), "Forbidden");
    }
}
