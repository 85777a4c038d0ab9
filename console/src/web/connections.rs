//! The Connections page (admins): the Jobber account the bridge is connected to and its token's
//! expiry, connecting Jobber from the browser (OAuth's authorization code, the redirect coming
//! back to the console's own `console.public_url` + `/connections/jobber/callback`), disconnecting
//! it (after a confirmation), and SaberisConnect's state when that source is enabled.
//!
//! The flow is `sjctl jobber connect`'s, with the console in place of the 127.0.0.1 listener: a
//! random `state` kept in the console's database (single use, 10 minutes) ties the callback to
//! the admin who began it; the code is exchanged with the app's client secret and the tokens are
//! stored in Redis as a new connection ([`TokenStore::store_initial`]), then proven by an
//! `account` query. Storing them clears the banner of a disconnect by Jobber.

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use redis::AsyncCommands as _;
use serde::Deserialize;
use sj_shared::jobber::{JobberClient, JobberErrorKind, TokenState};
use sj_shared::store::Keys;

use super::auth::{Admin, Current, Signed};
use super::pages::{render, Chrome};
use super::{format_time, internal, Shared};
use crate::db::FLAG_JOBBER_DISCONNECTED;

/// How long a page waits for Redis or Jobber.
const WAIT: Duration = Duration::from_secs(15);
/// How long an authorization begun here may take (the `state` is refused after).
const STATE_LIFETIME: i64 = 10 * 60;
/// Where Jobber sends the browser back.
pub const CALLBACK_PATH: &str = "/connections/jobber/callback";

/// What SaberisConnect's first poll recorded (the poller's `saberis-connect:first-poll`) and the
/// exports it held back as made before the bridge (`saberis-taken:<guid>` = `before the bridge…`).
const FIRST_POLL: (&str, &str) = ("saberis-connect", "first-poll");
const TAKEN: &str = "saberis-taken";
const BEFORE_BRIDGE: &str = "before the bridge";

fn redirect_uri(app: &Shared) -> String {
    format!("{}{CALLBACK_PATH}", app.settings.console.public_url.trim_end_matches('/'))
}

fn jobber(app: &Shared) -> Result<JobberClient, String> {
    JobberClient::from_settings(&app.settings, app.pool.clone()).map_err(|e| format!("HTTP client: {e}"))
}

#[derive(Template)]
#[template(path = "connections.html")]
struct Page {
    chrome: Chrome,
    notice: String,
    jobber_state: String,
    account: String,
    expiry: String,
    connected: bool,
    can_connect: bool,
    redirect_uri: String,
    saberis_enabled: bool,
    saberis_first_poll: String,
    saberis_before_bridge: String,
    saberis_url: String,
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    connected: Option<String>,
}

pub async fn page(
    State(app): State<Shared>,
    Signed(current): Admin,
    Query(query): Query<PageQuery>,
) -> Response {
    let (mut account, mut expiry, mut connected) = (String::new(), String::new(), false);
    let jobber_state = match tokio::time::timeout(WAIT, app.tokens.state()).await {
        Ok(Ok(TokenState::Connected(tokens))) => {
            connected = true;
            expiry = format_time(tokens.expires_at as i64);
            let mut state = "connected".to_owned();
            account = match jobber(&app) {
                Ok(client) => match tokio::time::timeout(WAIT, client.account()).await {
                    Ok(Ok((id, name))) => format!("{name} ({id})"),
                    Ok(Err(e)) if e.kind == JobberErrorKind::Unauthorized => {
                        state = "connected, but Jobber refuses the tokens: connect it again".to_owned();
                        String::new()
                    }
                    Ok(Err(e)) => format!("(Jobber could not be asked: {e})"),
                    Err(_) => "(Jobber did not answer in time)".to_owned(),
                },
                Err(e) => format!("({e})"),
            };
            state
        }
        Ok(Ok(TokenState::Disconnected { at })) => format!("disconnected since {}", format_time(at as i64)),
        Ok(Ok(TokenState::NotStored)) if app.settings.jobber.refresh_token.is_some() => {
            "not connected from here yet (a refresh token is configured: the workers start from it)"
                .to_owned()
        }
        Ok(Ok(TokenState::NotStored)) => "not connected".to_owned(),
        Ok(Err(e)) => format!("unknown: {e}"),
        Err(_) => "unknown: Redis did not answer".to_owned(),
    };
    let saberis = &app.settings.poller.saberis_connect;
    let (saberis_first_poll, saberis_before_bridge) = if saberis.enabled {
        match tokio::time::timeout(WAIT, saberis_state(&app)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => (format!("unknown: {e}"), String::new()),
            Err(_) => ("unknown: Redis did not answer".to_owned(), String::new()),
        }
    } else {
        (String::new(), String::new())
    };
    let notice = if query.connected.is_some() && connected {
        format!("Connected to Jobber account {account}. The workers use it from their next request.")
    } else {
        String::new()
    };
    let page = Page {
        chrome: Chrome::of(&app, &current).await,
        notice,
        jobber_state,
        account,
        expiry,
        connected,
        can_connect: app.settings.jobber.client_secret.is_some(),
        redirect_uri: redirect_uri(&app),
        saberis_enabled: saberis.enabled,
        saberis_first_poll,
        saberis_before_bridge,
        saberis_url: saberis.base_url.clone(),
    };
    render(&page)
}

/// SaberisConnect's first poll record, and how many exports it held back as before the bridge.
async fn saberis_state(app: &Shared) -> Result<(String, String), String> {
    let keys = Keys::new(&app.settings.namespace);
    let mut conn = app.pool.get().await.map_err(|e| e.to_string())?;
    let first: Option<String> =
        conn.get(keys.key(FIRST_POLL.0, FIRST_POLL.1)).await.map_err(|e| e.to_string())?;
    let first = first.unwrap_or_else(|| "not yet (no first poll recorded)".to_owned());
    let mut found = Vec::new();
    {
        let mut iter: redis::AsyncIter<String> =
            conn.scan_match(keys.key(TAKEN, "*")).await.map_err(|e| e.to_string())?;
        while let Some(key) = iter.next_item().await {
            found.push(key.map_err(|e| e.to_string())?);
        }
    }
    let mut before = 0usize;
    for chunk in found.chunks(500) {
        let values: Vec<Option<String>> = conn.mget(chunk).await.map_err(|e| e.to_string())?;
        before += values.iter().flatten().filter(|v| v.starts_with(BEFORE_BRIDGE)).count();
    }
    Ok((first, before.to_string()))
}

/// 128 random bits, hex.
fn random_state() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn connect(State(app): State<Shared>, Signed(current): Admin) -> Response {
    let jobber = &app.settings.jobber;
    if jobber.client_secret.is_none() {
        return message(
            &app,
            &current,
            StatusCode::CONFLICT,
            "Not connected",
            "jobber.client_secret is not set on the console: the code exchange needs the app's client secret \
             (SJ_JOBBER__CLIENT_SECRET or jobber.client_secret_file).",
        )
        .await;
    }
    let state = random_state();
    if let Err(e) = app.db.put_oauth_state(&state, &current.user.name) {
        return internal(&e);
    }
    let authorize = reqwest::Url::parse_with_params(
        &format!("{}/api/oauth/authorize", jobber.api_url.trim_end_matches('/')),
        [
            ("response_type", "code"),
            ("client_id", jobber.client_id.as_str()),
            ("redirect_uri", redirect_uri(&app).as_str()),
            ("state", state.as_str()),
        ],
    );
    match authorize {
        Ok(url) => {
            let _ =
                app.db.audit(&current.user.name, "jobber.connect-begun", "sent to Jobber's authorize page");
            Redirect::to(url.as_str()).into_response()
        }
        Err(e) => internal(&format!("jobber.api_url: {e}")),
    }
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(app): State<Shared>,
    Signed(current): Admin,
    Query(callback): Query<CallbackQuery>,
) -> Response {
    match finish(&app, &current, &callback).await {
        Ok((id, name)) => {
            // A new connection: a disconnect by Jobber is over.
            let _ = app.db.clear_flag(FLAG_JOBBER_DISCONNECTED);
            if let Err(e) =
                app.db.audit(&current.user.name, "jobber.connect", &format!("account {name} ({id})"))
            {
                return internal(&e);
            }
            tracing::info!(user = %current.user.name, account = %name, "Jobber connected from the console");
            Redirect::to("/connections?connected=1").into_response()
        }
        Err((status, reason)) => {
            let _ = app.db.audit(&current.user.name, "jobber.connect-failed", &reason);
            tracing::warn!(user = %current.user.name, %reason, "connecting Jobber failed");
            message(&app, &current, status, "Not connected", &reason).await
        }
    }
}

/// Checks the callback, exchanges the code, stores the tokens and names the account.
async fn finish(
    app: &Shared,
    current: &Current,
    callback: &CallbackQuery,
) -> Result<(String, String), (StatusCode, String)> {
    let bad = |reason: &str| (StatusCode::BAD_REQUEST, format!("{reason}; nothing stored. Connect again."));
    let Some(state) = callback.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(bad("Jobber's answer carries no state"));
    };
    let taken =
        app.db.take_oauth_state(state).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match taken {
        Some((user, at)) if user == current.user.name && crate::db::now() - at <= STATE_LIFETIME => {}
        Some((user, _)) if user != current.user.name => {
            return Err(bad("this authorization was begun by another user"));
        }
        Some(_) => return Err(bad("this authorization took longer than 10 minutes")),
        None => return Err(bad(
            "this answer does not match a connection begun here (an old browser tab, or a request that did \
                 not come from Jobber)",
        )),
    }
    if let Some(error) = &callback.error {
        let description = callback.error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        let what = if error == "access_denied" {
            "Access was denied in Jobber"
        } else {
            "Jobber did not authorize the bridge"
        };
        return Err(bad(&format!("{what} ({error}{description})")));
    }
    let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(bad("Jobber's answer carries neither a code nor an error"));
    };
    let client = jobber(app).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let tokens = client.tokens().clone();
    let fresh = tokio::time::timeout(WAIT, tokens.exchange_code(code, &redirect_uri(app)))
        .await
        .map_err(|_| (StatusCode::BAD_GATEWAY, "Jobber did not answer the code exchange in time".to_owned()))?
        .map_err(|e| (StatusCode::BAD_GATEWAY, format!("{}; nothing stored. Connect again.", e.message)))?;
    tokens
        .store_initial(&fresh)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, format!("storing the tokens in Redis: {e}")))?;
    tokio::time::timeout(WAIT, client.account())
        .await
        .map_err(|_| (StatusCode::BAD_GATEWAY, "the tokens are stored, but Jobber did not answer a first query".to_owned()))?
        .map_err(|e| {
            (
                StatusCode::BAD_GATEWAY,
                format!("The tokens are stored, but a first query with them failed ({e}); check with sjctl verify."),
            )
        })
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "connections_disconnect.html")]
struct ConfirmPage {
    chrome: Chrome,
    who: String,
}

pub async fn disconnect(
    State(app): State<Shared>,
    Signed(current): Admin,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let client = match jobber(&app) {
        Ok(client) => client,
        Err(e) => return internal(&e),
    };
    match tokio::time::timeout(WAIT, app.tokens.state()).await {
        Ok(Ok(TokenState::Connected(_))) => {}
        Ok(Ok(_)) => {
            return message(
                &app,
                &current,
                StatusCode::CONFLICT,
                "Not connected",
                "The bridge holds no Jobber tokens: nothing to disconnect.",
            )
            .await
        }
        Ok(Err(e)) => {
            return message(
                &app,
                &current,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not disconnected",
                &e.to_string(),
            )
            .await
        }
        Err(_) => {
            return message(
                &app,
                &current,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not disconnected",
                "Redis did not answer.",
            )
            .await
        }
    }
    let (who, refused) = match tokio::time::timeout(WAIT, client.account()).await {
        Ok(Ok((id, name))) => (format!("Jobber account {name} ({id})"), false),
        Ok(Err(e)) if e.kind == JobberErrorKind::Unauthorized => {
            ("Jobber (its tokens no longer work)".to_owned(), true)
        }
        Ok(Err(e)) => {
            let reason = format!("Jobber could not be asked ({e}); nothing changed: try again, or `sjctl jobber disconnect --force`.");
            return message(&app, &current, StatusCode::BAD_GATEWAY, "Not disconnected", &reason).await;
        }
        Err(_) => {
            return message(
                &app,
                &current,
                StatusCode::BAD_GATEWAY,
                "Not disconnected",
                "Jobber did not answer; nothing changed.",
            )
            .await
        }
    };
    if form.confirm.as_deref() != Some("yes") {
        return render(&ConfirmPage { chrome: Chrome::of(&app, &current).await, who });
    }
    let told = if refused {
        "Jobber no longer accepted the tokens".to_owned()
    } else {
        match tokio::time::timeout(WAIT, client.disconnect()).await {
            Ok(Ok(())) => "Jobber revoked the bridge's tokens".to_owned(),
            Ok(Err(e)) if e.kind == JobberErrorKind::Unauthorized => {
                "Jobber no longer accepted the tokens".to_owned()
            }
            Ok(Err(e)) => {
                let reason = format!("Jobber's appDisconnect failed ({e}); nothing changed: try again.");
                return message(&app, &current, StatusCode::BAD_GATEWAY, "Not disconnected", &reason).await;
            }
            Err(_) => {
                return message(
                    &app,
                    &current,
                    StatusCode::BAD_GATEWAY,
                    "Not disconnected",
                    "Jobber did not answer; nothing changed.",
                )
                .await
            }
        }
    };
    if let Err(e) = app.tokens.disconnect().await {
        return message(
            &app,
            &current,
            StatusCode::SERVICE_UNAVAILABLE,
            "Not disconnected",
            &format!("Redis: {e}"),
        )
        .await;
    }
    if let Err(e) = app.db.audit(&current.user.name, "jobber.disconnect", &format!("{who}: {told}")) {
        return internal(&e);
    }
    tracing::warn!(user = %current.user.name, %who, "Jobber disconnected from the console");
    Redirect::to("/connections").into_response()
}

#[derive(Template)]
#[template(path = "connections_message.html")]
struct MessagePage {
    chrome: Chrome,
    title: String,
    message: String,
}

async fn message(app: &Shared, current: &Current, status: StatusCode, title: &str, text: &str) -> Response {
    let page = MessagePage {
        chrome: Chrome::of(app, current).await,
        title: title.to_owned(),
        message: text.to_owned(),
    };
    (status, render(&page)).into_response()
}
