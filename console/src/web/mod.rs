//! The console's web side: the router, the guard every request passes (session, CSRF, headers),
//! and the pages. Server-rendered HTML (askama templates, escaped), one stylesheet served by the
//! binary itself.

mod auth;
mod connections;
mod pages;
mod parked;
mod review;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sj_shared::config::Settings;
use sj_shared::jobber::TokenStore;
use sj_shared::runtime::Shutdown;
use sj_shared::store::{self, History, Keys};

use crate::db::Db;

/// What every handler shares.
pub struct App {
    pub db: Db,
    pub settings: Settings,
    pub history: History,
    pub tokens: TokenStore,
    /// Redis, for what a page opens itself (the Parked page's stores, the Jobber client).
    pub pool: deadpool_redis::Pool,
}

pub type Shared = Arc<App>;

impl App {
    pub fn new(db: Db, settings: Settings) -> anyhow::Result<Shared> {
        let pool = store::pool(&settings.redis)?;
        let history = History::new(pool.clone(), &Keys::new(&settings.namespace));
        let tokens = TokenStore::from_settings(&settings, pool.clone(), reqwest::Client::new());
        Ok(Arc::new(App { db, settings, history, tokens, pool }))
    }
}

/// The largest form body read (a sign-in, a button): anything larger is refused.
const MAX_FORM: usize = 64 * 1024;
/// The largest webhook body read (Jobber's are a few hundred bytes).
pub const MAX_WEBHOOK: usize = 64 * 1024;
/// The one path that takes POSTs without a session or a CSRF token: Jobber signs its own.
const WEBHOOK_PATH: &str = "/webhooks/jobber";

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/static/console.css", get(stylesheet))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/", get(pages::home))
        .route("/history", get(pages::history))
        .route("/users", get(pages::users))
        .route("/users/{name}/remove", post(pages::remove_user))
        .route("/review", get(review::list))
        .route("/review/{id}", get(review::show))
        .route("/review/{id}/approve", post(review::approve))
        .route("/review/{id}/reject", post(review::reject))
        .route("/parked", get(parked::list))
        .route("/parked/{id}", get(parked::one))
        .route("/parked/{id}/replay", post(parked::replay))
        .route("/parked/{id}/purge", post(parked::purge))
        .route("/parked/{id}/map-and-replay", post(parked::map_and_replay))
        .route("/connections", get(connections::page))
        .route("/connections/jobber/connect", post(connections::connect))
        .route(connections::CALLBACK_PATH, get(connections::callback))
        .route("/connections/jobber/disconnect", post(connections::disconnect))
        .route(WEBHOOK_PATH, post(webhook::receive))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// Serves until shutdown is requested, printing `listening on IP:PORT` once it accepts
/// connections (a port of 0 takes a free one).
pub async fn serve(app: Shared, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(app.settings.console.listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {} (console.listen): {e}", app.settings.console.listen)
    })?;
    let address = listener.local_addr()?;
    tracing::info!(%address, public_url = %app.settings.console.public_url, "sj-console listening");
    println!("listening on {address}");
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(async move { shutdown.wait().await }).await?;
    Ok(())
}

async fn healthz(State(app): State<Shared>) -> Response {
    match app.db.schema_version() {
        Ok(_) => "ok\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
        include_str!("../../static/console.css"),
    )
        .into_response()
}

/// Every request: the session (if its cookie names a live one) is looked up once and kept in the
/// request; every POST but Jobber's webhook must carry the form field `csrf` equal to the
/// session's token (the sign-in form: the token of its own cookie), else 403. A POST without a
/// session (other than the sign-in) goes to the sign-in page.
async fn guard(State(app): State<Shared>, mut request: Request, next: Next) -> Response {
    let current = match auth::current(&app, request.headers()) {
        Ok(current) => current,
        Err(e) => return internal(&e),
    };
    if let Some(current) = &current {
        request.extensions_mut().insert(current.clone());
    }
    let path = request.uri().path().to_owned();
    if request.method() == Method::POST && path != WEBHOOK_PATH {
        let expected = if path == "/sign-in" {
            auth::cookie(request.headers(), auth::SIGN_IN_COOKIE)
        } else {
            match &current {
                Some(current) => Some(current.csrf_token.clone()),
                None => return auth::to_sign_in(None),
            }
        };
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
        };
        let sent =
            url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
        let valid =
            matches!((&sent, &expected), (Some(s), Some(e)) if !e.is_empty() && crate::crypto::same(s, e));
        if !valid {
            tracing::warn!(%path, "POST refused: missing or wrong CSRF token");
            return pages::forbidden(
                "This form has expired or did not come from the console. Go back, reload the page and try again.",
            );
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    next.run(request).await
}

/// Headers on every answer: no framing, no sniffing, nothing loaded from elsewhere, no caching
/// of pages that show the dealer's data.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        ("content-security-policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A 500 page for a failure of the console's own database.
pub fn internal(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "console request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>Error</title><p>The console could not complete this request. Try again; if it persists, tell the operator.</p>".to_owned())).into_response()
}

/// `2026-05-01 14:03 UTC`
pub fn format_time(unix_secs: i64) -> String {
    format_time_ms(unix_secs.max(0) as u64 * 1000)
}

/// `2026-05-01 14:03:22 UTC`
pub fn format_time_ms(unix_ms: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(unix_ms);
    humantime::format_rfc3339_seconds(at).to_string().replace('T', " ").replace('Z', " UTC")
}
