//! The Google Sheets v4 stand-in (values only) and its service-account token endpoint.
//!
//! - `POST /sheets/token` (form: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
//!   `assertion=<JWT>`): the assertion must be RS256-signed by the configured service-account key,
//!   request the configured scope, be addressed to an accepted audience and be unexpired (at most
//!   one hour long, as Google requires). Returns `{"access_token","expires_in","token_type"}`.
//! - `GET|PUT /sheets/v4/spreadsheets/{id}/values/{range}` and
//!   `POST /sheets/v4/spreadsheets/{id}/values/{range}:append`, bearer-authenticated, with A1
//!   ranges (`Sheet1!A1:C10`, `A:C`, `'My Sheet'!A2:B`, `Sheet1`). Cells are kept as strings.
//!   A range reads or writes one tab of the spreadsheet (the first when it names none); a tab
//!   that does not exist is refused (400 `Unable to parse range`), for a read or an append
//!   alike, as Google does: tabs are added by people (`PUT /_admin/sheets/{id}/{tab}`).
//!
//! Errors use Google's shape `{"error":{"code","message","status"}}`.

// Handlers return ready responses as errors; their size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::context::Shared;
use crate::state::fresh_token;
use crate::state::{Spreadsheet, Store};

/// Google's own token URI, accepted as audience by default next to the sandbox's.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Shared>: FromRef<S>,
{
    Router::new()
        .route("/sheets/token", post(token))
        .route("/sheets/v4/spreadsheets/{id}/values/{range}", get(read).put(write).post(append))
}

fn google_error(status: StatusCode, message: &str) -> Response {
    let name = match status {
        StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::FORBIDDEN => "PERMISSION_DENIED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        _ => "INTERNAL",
    };
    (status, Json(json!({"error": {"code": status.as_u16(), "message": message, "status": name}})))
        .into_response()
}

fn token_error(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error, "error_description": description}))).into_response()
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    scope: String,
    aud: String,
    exp: i64,
    iat: i64,
}

async fn token(State(shared): State<Arc<Shared>>, Form(form): Form<HashMap<String, String>>) -> Response {
    if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER_GRANT) {
        return token_error("unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(assertion) = form.get("assertion") else {
        return token_error("invalid_request", "Missing required parameter: assertion");
    };
    let config = &shared.config.sheets;
    let Ok(key) = DecodingKey::from_rsa_pem(config.service_account_public_key_pem.as_bytes()) else {
        return google_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sj-sandbox: sheets.service_account_public_key_pem is not a PEM RSA public key",
        );
    };
    let mut validation = Validation::new(Algorithm::RS256);
    // Time and audience are checked below against the sandbox clock and configuration.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
            return token_error("invalid_grant", "Invalid JWT Signature.")
        }
        Err(_) => {
            return token_error(
                "invalid_grant",
                "Invalid JWT: could not be parsed or lacks iss, scope, aud, iat or exp.",
            )
        }
    };
    let now = shared.clock.now_secs();
    let own = format!("{}/sheets/token", shared.base_url());
    let audience_ok = if config.accepted_audiences.is_empty() {
        claims.aud == GOOGLE_TOKEN_URI || claims.aud == own
    } else {
        config.accepted_audiences.contains(&claims.aud)
    };
    if !audience_ok {
        return token_error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    if claims.iss.is_empty() || claims.exp <= now || claims.exp - claims.iat > 3600 || claims.iat > now + 300
    {
        return token_error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    if !claims.scope.split_whitespace().any(|s| s == config.required_scope) {
        return token_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }
    let lifetime = config.access_token_lifetime_secs as i64;
    let expires = shared.clock.now_ms() + lifetime * 1000;
    let token = shared.write(|store| {
        let token = format!("ya29.sandbox-{}", fresh_token(store, "sheets"));
        store.sheets.tokens.insert(token.clone(), expires);
        token
    });
    Json(json!({"access_token": token, "expires_in": lifetime - 1, "token_type": "Bearer"})).into_response()
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let now = shared.clock.now_ms();
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| shared.read(|store| store.sheets.tokens.get(t.trim()).is_some_and(|exp| *exp > now)))
}

fn unauthenticated() -> Response {
    google_error(
        StatusCode::UNAUTHORIZED,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    )
}

// ---------------------------------------------------------------------------------------------
// A1 ranges

/// A parsed A1 range: 0-based, inclusive; `None` ends are open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A1Range {
    pub sheet: Option<String>,
    pub first_col: usize,
    pub first_row: usize,
    pub last_col: Option<usize>,
    pub last_row: Option<usize>,
}

/// `A` → 0, `Z` → 25, `AA` → 26.
fn column_index(letters: &str) -> Option<usize> {
    if letters.is_empty() {
        return None;
    }
    letters
        .bytes()
        .try_fold(0usize, |acc, b| {
            b.is_ascii_alphabetic().then(|| acc * 26 + (b.to_ascii_uppercase() - b'A') as usize + 1)
        })
        .map(|n| n - 1)
}

pub fn column_letters(mut index: usize) -> String {
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

/// One cell reference: letters and/or digits (`B3`, `B`, `3`).
fn cell(reference: &str) -> Option<(Option<usize>, Option<usize>)> {
    let split = reference.find(|c: char| c.is_ascii_digit()).unwrap_or(reference.len());
    let (letters, digits) = reference.split_at(split);
    // Columns end at XFD; a longer word is a sheet name ("Sheet1", "Mapping").
    if letters.len() > 3 {
        return None;
    }
    let col = if letters.is_empty() { None } else { Some(column_index(letters)?) };
    let row = if digits.is_empty() {
        None
    } else {
        let n: usize = digits.parse().ok()?;
        Some(n.checked_sub(1)?)
    };
    (col.is_some() || row.is_some()).then_some((col, row))
}

/// Parses an A1 range, e.g. `'My Sheet'!A2:C`, `Sheet1!A1:B10`, `A:C`, `Sheet1`.
pub fn parse_a1(range: &str) -> Option<A1Range> {
    let range = range.trim();
    let (sheet, cells) = if let Some(rest) = range.strip_prefix('\'') {
        // Quoted sheet name; '' is an escaped quote.
        let mut name = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|(_, c)| *c) == Some('\'') {
                    name.push('\'');
                    chars.next();
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                name.push(c);
            }
        }
        let rest = &rest[end?..];
        (Some(name), rest.strip_prefix('!').unwrap_or(rest))
    } else {
        match range.split_once('!') {
            Some((sheet, cells)) => (Some(sheet.to_string()), cells),
            None if cell(range.split(':').next().unwrap_or("")).is_some() => (None, range),
            None => (Some(range.to_string()), ""),
        }
    };
    if cells.is_empty() {
        return Some(A1Range { sheet, first_col: 0, first_row: 0, last_col: None, last_row: None });
    }
    let (start, end) = match cells.split_once(':') {
        Some((a, b)) => (cell(a)?, Some(cell(b)?)),
        None => (cell(cells)?, None),
    };
    let (last_col, last_row) = match end {
        Some((c, r)) => (c, r),
        // A single cell is a 1×1 range.
        None => (start.0, start.1),
    };
    Some(A1Range {
        sheet,
        first_col: start.0.unwrap_or(0),
        first_row: start.1.unwrap_or(0),
        last_col,
        last_row,
    })
}

fn quote_sheet(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

/// `Sheet1!A1:C3` for a written or read block.
fn a1_text(sheet: &str, first_col: usize, first_row: usize, last_col: usize, last_row: usize) -> String {
    format!(
        "{}!{}{}:{}{}",
        quote_sheet(sheet),
        column_letters(first_col),
        first_row + 1,
        column_letters(last_col),
        last_row + 1
    )
}

fn cell_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => {
            if *b {
                "TRUE".into()
            } else {
                "FALSE".into()
            }
        }
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct ValueRange {
    #[serde(default)]
    values: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct WriteParams {
    #[serde(rename = "valueInputOption")]
    value_input_option: Option<String>,
}

/// Picks the tab a range addresses (the first tab when the range names none).
fn tab_name(spreadsheet: &Spreadsheet, range: &A1Range) -> Option<String> {
    match &range.sheet {
        Some(name) => spreadsheet.sheets.contains_key(name).then(|| name.clone()),
        None => spreadsheet.first_tab().cloned(),
    }
}

/// Common prologue: auth, spreadsheet, range, tab.
fn prepare(
    shared: &Shared,
    headers: &HeaderMap,
    id: &str,
    range: &str,
) -> Result<(A1Range, String), Response> {
    if !authorized(shared, headers) {
        return Err(unauthenticated());
    }
    let parsed = parse_a1(range)
        .ok_or_else(|| google_error(StatusCode::BAD_REQUEST, &format!("Unable to parse range: {range}")))?;
    let tab = shared.read(|store| store.sheets.spreadsheets.get(id).map(|s| tab_name(s, &parsed)));
    match tab {
        None => Err(google_error(StatusCode::NOT_FOUND, "Requested entity was not found.")),
        Some(None) => Err(google_error(StatusCode::BAD_REQUEST, &format!("Unable to parse range: {range}"))),
        Some(Some(tab)) => Ok((parsed, tab)),
    }
}

async fn read(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, range)): Path<(String, String)>,
) -> Response {
    let (parsed, tab) = match prepare(&shared, &headers, &id, &range) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let rows = shared.read(|store| store.sheets.spreadsheets[&id].sheets[&tab].clone());
    let last_row = parsed.last_row.unwrap_or(usize::MAX);
    let last_col = parsed.last_col.unwrap_or(usize::MAX);
    let mut values: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= parsed.first_row && *i <= last_row)
        .map(|(_, row)| {
            let mut cells: Vec<String> = row
                .iter()
                .enumerate()
                .filter(|(j, _)| *j >= parsed.first_col && *j <= last_col)
                .map(|(_, c)| c.clone())
                .collect();
            // Sheets omits trailing empty cells and rows.
            while cells.last().is_some_and(String::is_empty) {
                cells.pop();
            }
            cells
        })
        .collect();
    while values.last().is_some_and(Vec::is_empty) {
        values.pop();
    }
    let shown_last_row = parsed
        .last_row
        .unwrap_or(rows.len().max(parsed.first_row + 1).saturating_sub(1).max(parsed.first_row));
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let shown_last_col = parsed.last_col.unwrap_or(widest - 1).max(parsed.first_col);
    let mut body = json!({
        "range": a1_text(&tab, parsed.first_col, parsed.first_row, shown_last_col, shown_last_row),
        "majorDimension": "ROWS",
    });
    if !values.is_empty() {
        body["values"] = json!(values);
    }
    Json(body).into_response()
}

/// Writes a block at (row, col) and returns the Google "updates" object.
fn write_block(shared: &Shared, id: &str, tab: &str, row: usize, col: usize, values: &[Vec<Value>]) -> Value {
    shared.write(|store| write_cells(store, id, tab, row, col, values));
    updates(id, tab, row, col, values)
}

/// Writes `values` into the tab from (`row`, `col`), growing it as needed.
fn write_cells(store: &mut Store, id: &str, tab: &str, row: usize, col: usize, values: &[Vec<Value>]) {
    let rows = store.sheets.spreadsheets.get_mut(id).and_then(|s| s.sheets.get_mut(tab)).expect("located");
    for (i, new_row) in values.iter().enumerate() {
        let r = row + i;
        if rows.len() <= r {
            rows.resize(r + 1, Vec::new());
        }
        for (j, value) in new_row.iter().enumerate() {
            let c = col + j;
            if rows[r].len() <= c {
                rows[r].resize(c + 1, String::new());
            }
            rows[r][c] = cell_text(value);
        }
    }
}

/// Google's `UpdateValuesResponse` for a block written at (`row`, `col`).
fn updates(id: &str, tab: &str, row: usize, col: usize, values: &[Vec<Value>]) -> Value {
    let width = values.iter().map(Vec::len).max().unwrap_or(0);
    let cells: usize = values.iter().map(Vec::len).sum();
    json!({
        "spreadsheetId": id,
        "updatedRange": a1_text(tab, col, row, col + width.max(1) - 1, row + values.len().max(1) - 1),
        "updatedRows": values.len(),
        "updatedColumns": width,
        "updatedCells": cells,
    })
}

fn input_option_ok(params: &WriteParams) -> Result<(), Response> {
    match params.value_input_option.as_deref() {
        Some("RAW") | Some("USER_ENTERED") => Ok(()),
        Some(other) => Err(google_error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid value at 'value_input_option' ({other})"),
        )),
        None => {
            Err(google_error(StatusCode::BAD_REQUEST, "'valueInputOption' is required but not specified"))
        }
    }
}

async fn write(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, range)): Path<(String, String)>,
    Query(params): Query<WriteParams>,
    Json(body): Json<ValueRange>,
) -> Response {
    let (parsed, tab) = match prepare(&shared, &headers, &id, &range) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = input_option_ok(&params) {
        return response;
    }
    Json(write_block(&shared, &id, &tab, parsed.first_row, parsed.first_col, &body.values)).into_response()
}

async fn append(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, range)): Path<(String, String)>,
    Query(params): Query<WriteParams>,
    Json(body): Json<ValueRange>,
) -> Response {
    let Some(range) = range.strip_suffix(":append") else {
        return google_error(StatusCode::NOT_FOUND, "Requested entity was not found.");
    };
    let (parsed, tab) = match prepare(&shared, &headers, &id, range) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = input_option_ok(&params) {
        return response;
    }
    // The table is the block of rows from the range's start; new rows go after its last
    // non-empty row (Google's table detection, simplified to "last row with any value"). Found
    // and written under one lock: concurrent appends never land on the same row, as with Google.
    let (start, table_range) = shared.write(|store| {
        let rows = &store.sheets.spreadsheets[&id].sheets[&tab];
        let last_filled = rows.iter().rposition(|r| r.iter().any(|c| !c.is_empty()));
        let start = match last_filled {
            Some(last) if last >= parsed.first_row => last + 1,
            _ => parsed.first_row,
        };
        let width = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let table_range = last_filled
            .filter(|last| *last >= parsed.first_row)
            .map(|last| a1_text(&tab, parsed.first_col, parsed.first_row, width - 1, last));
        write_cells(store, &id, &tab, start, parsed.first_col, &body.values);
        (start, table_range)
    });
    let updates = updates(&id, &tab, start, parsed.first_col, &body.values);
    let mut response = json!({"spreadsheetId": id, "updates": updates});
    if let Some(table_range) = table_range {
        response["tableRange"] = json!(table_range);
    }
    Json(response).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(sheet: Option<&str>, fc: usize, fr: usize, lc: Option<usize>, lr: Option<usize>) -> A1Range {
        A1Range { sheet: sheet.map(String::from), first_col: fc, first_row: fr, last_col: lc, last_row: lr }
    }

    #[test]
    fn parses_a1_ranges() {
        assert_eq!(parse_a1("Sheet1!A1:C10"), Some(r(Some("Sheet1"), 0, 0, Some(2), Some(9))));
        assert_eq!(parse_a1("A:C"), Some(r(None, 0, 0, Some(2), None)));
        assert_eq!(parse_a1("'My ''Sheet'''!B2:D"), Some(r(Some("My 'Sheet'"), 1, 1, Some(3), None)));
        assert_eq!(parse_a1("Mapping"), Some(r(Some("Mapping"), 0, 0, None, None)));
        assert_eq!(parse_a1("Sheet1!AA3"), Some(r(Some("Sheet1"), 26, 2, Some(26), Some(2))));
        assert_eq!(parse_a1("Sheet1!A0"), None);
    }

    #[test]
    fn column_letters_round_trip() {
        for (i, letters) in
            [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ"), (702, "AAA")]
        {
            assert_eq!(column_letters(i), letters);
            assert_eq!(column_index(letters), Some(i));
        }
    }
}
