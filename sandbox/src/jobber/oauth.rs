//! Jobber's OAuth 2.0 (authorization code grant, refresh-token rotation) and access-token checks.
//!
//! Access tokens are HS256 JWTs signed with `oauth.jwt_signing_key`, with `exp` as their expiry;
//! they stay valid only while their grant lives (not revoked, same generation). Each grant has
//! exactly one live refresh token; a refresh replaces it under the store lock, so of two
//! concurrent refreshes with the same token exactly one wins and the other gets
//! "The provided refresh token is not valid." (as Jobber does for apps created after 2024-01-02).

// Handlers return ready responses as errors; their size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::jobber_expires_at;
use crate::context::Shared;
use crate::state::fresh_token;
use crate::state::{AuthorizationCode, GrantRecord, Store, DEFAULT_ACCOUNT_ID};

/// The documented refresh-rotation error.
pub const INVALID_REFRESH_TOKEN: &str = "The provided refresh token is not valid.";

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user who authorized the app (the sandbox has one per account).
    pub sub: String,
    pub account_id: u64,
    pub app_id: String,
    pub grant_id: String,
    /// The grant's generation when issued (see `GrantRecord::generation`).
    pub generation: u64,
    pub iat: i64,
    pub exp: i64,
}

/// A token response, as `/api/oauth/token` returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires_at: Option<String>,
}

/// Why a bearer token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer` header at all.
    Missing,
    /// Malformed, badly signed, expired, revoked or superseded.
    Invalid,
}

fn access_token(shared: &Shared, grant: &GrantRecord) -> (String, i64) {
    let now = shared.clock.now_secs();
    let exp = now + shared.config.oauth.access_token_lifetime_secs as i64;
    let claims = Claims {
        sub: format!("{}", grant.account_id),
        account_id: grant.account_id,
        app_id: shared.config.oauth.client_id.clone(),
        grant_id: grant.id.clone(),
        generation: grant.generation,
        iat: now,
        exp,
    };
    let key = EncodingKey::from_secret(shared.config.oauth.jwt_signing_key.as_bytes());
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .expect("HS256 signing cannot fail");
    (token, exp)
}

fn response(shared: &Shared, grant: &GrantRecord, refresh_token: String) -> TokenResponse {
    let (access_token, exp) = access_token(shared, grant);
    let expires_at = shared.config.oauth.include_expires_at.then(|| jobber_expires_at(exp));
    TokenResponse { access_token, refresh_token, expires_at }
}

/// Creates a grant on `account_id` (as a completed authorization would) and its first tokens.
pub fn issue_grant(shared: &Shared, account_id: u64) -> TokenResponse {
    let (grant, refresh) = shared.write(|store| {
        store.add_account(account_id, &shared.config);
        let grant =
            GrantRecord { id: fresh_token(store, "grant"), account_id, revoked: false, generation: 0 };
        let refresh = fresh_token(store, "refresh");
        store.oauth.grants.insert(grant.id.clone(), grant.clone());
        store.oauth.refresh_tokens.insert(refresh.clone(), grant.id.clone());
        (grant, refresh)
    });
    response(shared, &grant, refresh)
}

/// Rotates a refresh token: the old one dies in the same critical section that creates the new.
pub fn refresh(shared: &Shared, token: &str) -> Option<TokenResponse> {
    let (grant, refresh) = shared.write(|store| {
        let grant_id = store.oauth.refresh_tokens.remove(token)?;
        let grant = store.oauth.grants.get(&grant_id).filter(|g| !g.revoked)?.clone();
        let refresh = fresh_token(store, "refresh");
        store.oauth.refresh_tokens.insert(refresh.clone(), grant_id);
        Some((grant, refresh))
    })?;
    Some(response(shared, &grant, refresh))
}

/// Revokes one grant, or every grant when `grant_id` is `None` (an app disconnect): its refresh
/// token and access tokens die at once. Returns how many grants were revoked.
pub fn revoke(store: &mut Store, grant_id: Option<&str>) -> usize {
    let mut revoked = 0;
    for grant in store.oauth.grants.values_mut() {
        if !grant.revoked && grant_id.is_none_or(|id| id == grant.id) {
            grant.revoked = true;
            revoked += 1;
        }
    }
    let live: Vec<String> =
        store.oauth.grants.values().filter(|g| !g.revoked).map(|g| g.id.clone()).collect();
    store.oauth.refresh_tokens.retain(|_, grant| live.contains(grant));
    revoked
}

/// Revokes every grant on one account (`appDisconnect`: the app loses that account, and only
/// that one). Returns how many grants were revoked.
pub fn revoke_account(store: &mut Store, account_id: u64) -> usize {
    let ids: Vec<String> = store
        .oauth
        .grants
        .values()
        .filter(|g| !g.revoked && g.account_id == account_id)
        .map(|g| g.id.clone())
        .collect();
    ids.iter().map(|id| revoke(store, Some(id))).sum()
}

/// Makes every outstanding access token invalid (as if expired); refresh tokens stay valid.
pub fn expire_access_tokens(store: &mut Store) {
    for grant in store.oauth.grants.values_mut() {
        grant.generation += 1;
    }
}

/// The account a request's bearer token grants access to.
pub fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<u64, AuthError> {
    let header = headers.get(axum::http::header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .ok_or(AuthError::Invalid)?
        .trim();
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked against the sandbox clock below, not the machine's.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(shared.config.oauth.jwt_signing_key.as_bytes());
    let claims =
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|_| AuthError::Invalid)?.claims;
    if claims.exp <= shared.clock.now_secs() {
        return Err(AuthError::Invalid);
    }
    shared.read(|store| match store.oauth.grants.get(&claims.grant_id) {
        Some(g) if !g.revoked && g.generation == claims.generation => Ok(g.account_id),
        _ => Err(AuthError::Invalid),
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP

#[derive(Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    /// The approve page's button: `allow` (or absent) or `deny`.
    decision: Option<String>,
}

/// Doorkeeper's text for a denied authorization.
pub const ACCESS_DENIED: &str = "The resource owner or authorization server denied the request.";

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

/// `GET /api/oauth/authorize`: auto-approves (redirect with `code` and `state`) or shows a
/// one-button approve page that posts back here.
pub async fn authorize(State(shared): State<Arc<Shared>>, Query(params): Query<AuthorizeParams>) -> Response {
    if let Err(e) = check_authorize(&shared, &params) {
        return e;
    }
    if shared.config.oauth.auto_approve {
        return approve(&shared, &params);
    }
    let hidden = |name: &str, value: &Option<String>| {
        let value =
            value.as_deref().unwrap_or("").replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
        format!(r#"<input type="hidden" name="{name}" value="{value}">"#)
    };
    Html(format!(
        "<!doctype html><title>Authorize app</title><h1>sj-sandbox: allow this app to access {}?</h1>\
         <form method=\"post\" action=\"/api/oauth/authorize\">{}{}{}{}\
         <button name=\"decision\" value=\"allow\">Allow access</button> \
         <button name=\"decision\" value=\"deny\">Deny</button></form>",
        shared.config.account.name,
        hidden("response_type", &params.response_type),
        hidden("client_id", &params.client_id),
        hidden("redirect_uri", &params.redirect_uri),
        hidden("state", &params.state),
    ))
    .into_response()
}

/// `POST /api/oauth/authorize`: the approve page's buttons. Deny redirects with
/// `error=access_denied` (and the `state`), as Doorkeeper does.
pub async fn authorize_approved(
    State(shared): State<Arc<Shared>>,
    Form(params): Form<AuthorizeParams>,
) -> Response {
    if let Err(e) = check_authorize(&shared, &params) {
        return e;
    }
    if params.decision.as_deref() == Some("deny") {
        let mut url = reqwest::Url::parse(params.redirect_uri.as_deref().unwrap_or_default())
            .expect("checked in check_authorize");
        url.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", ACCESS_DENIED);
        if let Some(state) = &params.state {
            url.query_pairs_mut().append_pair("state", state);
        }
        return (StatusCode::FOUND, [(axum::http::header::LOCATION, url.to_string())]).into_response();
    }
    approve(&shared, &params)
}

fn check_authorize(shared: &Shared, params: &AuthorizeParams) -> Result<(), Response> {
    if params.client_id.as_deref() != Some(shared.config.oauth.client_id.as_str()) {
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Unknown client_id."));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code.",
        ));
    }
    match params.redirect_uri.as_deref().map(reqwest::Url::parse) {
        Some(Ok(_)) => Ok(()),
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is missing or invalid.",
        )),
    }
}

fn approve(shared: &Shared, params: &AuthorizeParams) -> Response {
    let redirect_uri = params.redirect_uri.clone().unwrap_or_default();
    let expires_at_ms =
        shared.clock.now_ms() + shared.config.oauth.authorization_code_lifetime_secs as i64 * 1000;
    let code = shared.write(|store| {
        let code = fresh_token(store, "code");
        let record = AuthorizationCode {
            account_id: DEFAULT_ACCOUNT_ID,
            client_id: shared.config.oauth.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            expires_at_ms,
        };
        store.oauth.codes.insert(code.clone(), record);
        code
    });
    let mut url = reqwest::Url::parse(&redirect_uri).expect("checked in check_authorize");
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = &params.state {
        url.query_pairs_mut().append_pair("state", state);
    }
    // 302, as Doorkeeper (Jobber's OAuth server) redirects.
    (StatusCode::FOUND, [(axum::http::header::LOCATION, url.to_string())]).into_response()
}

/// `POST /api/oauth/token` (form-encoded).
pub async fn token(State(shared): State<Arc<Shared>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let oauth = &shared.config.oauth;
    if field("client_id") != Some(oauth.client_id.as_str())
        || field("client_secret") != Some(oauth.client_secret.as_str())
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        );
    }
    match field("grant_type") {
        Some("authorization_code") => {
            let now = shared.clock.now_ms();
            let code = field("code").unwrap_or_default().to_string();
            let redirect_uri = field("redirect_uri").unwrap_or_default().to_string();
            // A code is single-use: it is removed whether or not the exchange succeeds.
            let record = shared.write(|store| store.oauth.codes.remove(&code));
            match record {
                Some(c) if c.expires_at_ms > now && c.redirect_uri == redirect_uri && c.client_id == oauth.client_id => {
                    Json(issue_grant(&shared, c.account_id)).into_response()
                }
                _ => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
                ),
            }
        }
        Some("refresh_token") => match refresh(&shared, field("refresh_token").unwrap_or_default()) {
            Some(tokens) => Json(tokens).into_response(),
            None => {
                let status = StatusCode::from_u16(oauth.invalid_refresh_token_status)
                    .unwrap_or(StatusCode::UNAUTHORIZED);
                oauth_error(status, "invalid_grant", INVALID_REFRESH_TOKEN)
            }
        },
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        ),
    }
}
