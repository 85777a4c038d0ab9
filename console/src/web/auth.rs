//! Signing in and out, the session cookie, and the one guard of roles: [`Signed`].

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::pages::{self, render, Chrome};
use super::{internal, Shared};
use crate::crypto;
use crate::db::{now, Role, User};

/// The session cookie: a random 256-bit token; the database keeps only its hash.
pub const SESSION_COOKIE: &str = "sj_session";
/// The sign-in form's own CSRF token (there is no session yet to hold one).
pub const SIGN_IN_COOKIE: &str = "sj_sign_in";
/// The window of the sign-in limit.
const ATTEMPT_WINDOW: i64 = 60;

/// The signed-in user of a request, found by the guard.
#[derive(Debug, Clone)]
pub struct Current {
    pub user: User,
    pub csrf_token: String,
    token_hash: String,
}

/// The value of one cookie of a request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The live session named by the request's cookie, if any.
pub fn current(app: &Shared, headers: &HeaderMap) -> Result<Option<Current>, rusqlite::Error> {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else { return Ok(None) };
    let token_hash = crypto::token_hash(&token);
    Ok(app.db.session(&token_hash)?.map(|s| Current { user: s.user, csrf_token: s.csrf_token, token_hash }))
}

/// `Set-Cookie` for a cookie of the console: HttpOnly, SameSite=Lax, Secure over HTTPS.
fn set_cookie(app: &Shared, name: &str, value: &str, path: &str, max_age: u64) -> HeaderValue {
    let secure = if app.settings.console.secure_cookies() { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&text).expect("tokens are URL-safe base64")
}

/// Where a sign-in may send the browser back to: a path of this console only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// 303 to the sign-in page, remembering where the user was going.
pub fn to_sign_in(next: Option<&str>) -> Response {
    match next.filter(|n| *n != "/") {
        Some(next) => {
            let encoded = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
            Redirect::to(&format!("/sign-in?next={encoded}")).into_response()
        }
        None => Redirect::to("/sign-in").into_response(),
    }
}

/// A signed-in user whose role is at least `MIN` (0 viewer, 1 reviewer, 2 admin): no session →
/// 303 to the sign-in page; a lesser role → 403. Every page but the sign-in, the health check and
/// the webhook takes one.
pub struct Signed<const MIN: u8>(pub Current);

/// Anyone signed in: reads.
pub type Viewer = Signed<0>;
/// Reviewers and admins: approve, reject, replay (later slices).
#[allow(dead_code)]
pub type Reviewer = Signed<1>;
/// Admins only: users, purges, the Jobber connection.
pub type Admin = Signed<2>;

impl<const MIN: u8> Signed<MIN> {
    fn needed() -> Role {
        match MIN {
            0 => Role::Viewer,
            1 => Role::Reviewer,
            _ => Role::Admin,
        }
    }
}

impl<const MIN: u8> FromRequestParts<Shared> for Signed<MIN> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _app: &Shared) -> Result<Self, Response> {
        let Some(current) = parts.extensions.get::<Current>().cloned() else {
            let next = parts.uri.path_and_query().map(|p| p.as_str().to_owned());
            return Err(to_sign_in(next.as_deref()));
        };
        if current.user.role < Self::needed() {
            tracing::warn!(user = %current.user.name, role = current.user.role.as_str(), path = %parts.uri.path(), "refused: role");
            return Err(pages::forbidden(&format!(
                "This needs the {} role; you are signed in as {} ({}).",
                Self::needed().as_str(),
                current.user.name,
                current.user.role.as_str()
            )));
        }
        Ok(Signed(current))
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    next: String,
    name: String,
    error: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn sign_in_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    let token =
        cookie(&headers, SIGN_IN_COOKIE).filter(|t| t.len() == 43).unwrap_or_else(crypto::random_token);
    let chrome = Chrome::signed_out(&app, &token);
    let page = SignInPage {
        chrome,
        next: safe_next(query.next.as_deref()),
        name: String::new(),
        error: String::new(),
    };
    let mut response = render(&page);
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&app, SIGN_IN_COOKIE, &token, "/sign-in", 3600));
    response
}

#[derive(Deserialize)]
pub struct SignInForm {
    name: String,
    password: String,
    next: Option<String>,
    csrf: String,
}

pub async fn sign_in(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<SignInForm>,
) -> Response {
    let address = peer.ip().to_string();
    let name = form.name.trim().to_owned();
    let refused = |status: StatusCode, error: String| {
        let page = SignInPage {
            chrome: Chrome::signed_out(&app, &form.csrf),
            next: safe_next(form.next.as_deref()),
            name: name.clone(),
            error,
        };
        (status, render(&page)).into_response()
    };

    let limit = app.settings.console.sign_in_attempts;
    let since = now() - ATTEMPT_WINDOW + 1;
    let counts = match app.db.failed_attempts(&name, &address, since) {
        Ok(counts) => counts,
        Err(e) => return internal(&e),
    };
    if let Some(oldest) = counts.iter().filter(|(n, _)| *n >= limit).filter_map(|(_, oldest)| *oldest).min() {
        let retry_after = (oldest + ATTEMPT_WINDOW - now()).clamp(1, ATTEMPT_WINDOW);
        tracing::warn!(user = %name, %address, "sign-in refused: too many failed attempts");
        let mut response = refused(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins. Wait {retry_after} seconds and try again."),
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return response;
    }

    let found = match app.db.user_with_hash(&name) {
        Ok(found) => found,
        Err(e) => return internal(&e),
    };
    let password = form.password.clone();
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, crypto::decoy_hash().to_owned()),
    };
    // argon2id is deliberately slow: off the async threads.
    let matches =
        tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash)).await.unwrap_or(false);
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => {
            if let Err(e) = app.db.record_attempt(&name, &address, false) {
                return internal(&e);
            }
            tracing::info!(user = %name, %address, "sign-in refused: wrong name or password");
            return refused(StatusCode::UNAUTHORIZED, "Wrong name or password.".to_owned());
        }
    };

    let token = crypto::random_token();
    let lifetime = app.settings.console.session_lifetime.0;
    let created = app
        .db
        .record_attempt(&name, &address, true)
        .and_then(|()| {
            app.db.create_session(&crypto::token_hash(&token), user.id, &crypto::random_token(), lifetime)
        })
        .and_then(|()| app.db.audit(&user.name, "sign-in", &format!("from {address}")));
    if let Err(e) = created {
        return internal(&e);
    }
    tracing::info!(user = %user.name, %address, "signed in");
    let mut response = Redirect::to(&safe_next(form.next.as_deref())).into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, &token, "/", lifetime.as_secs()));
    headers.append(header::SET_COOKIE, set_cookie(&app, SIGN_IN_COOKIE, "", "/sign-in", 0));
    response
}

pub async fn sign_out(State(app): State<Shared>, Signed(current): Viewer) -> Response {
    if let Err(e) = app
        .db
        .end_session(&current.token_hash)
        .and_then(|()| app.db.audit(&current.user.name, "sign-out", ""))
    {
        return internal(&e);
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", "/", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; sj_session=tok; b=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("sj_sign_in=x"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, SIGN_IN_COOKIE).as_deref(), Some("x"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn next_stays_on_the_console() {
        assert_eq!(safe_next(Some("/history?q=a")), "/history?q=a");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn the_sign_in_redirect_keeps_the_page_asked_for() {
        let response = to_sign_in(Some("/history?q=a b"));
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/sign-in?next=%2Fhistory%3Fq%3Da%20b");
        assert_eq!(to_sign_in(Some("/")).headers()[header::LOCATION], "/sign-in");
    }

    #[test]
    fn roles_are_ordered() {
        assert_eq!(Viewer::needed(), Role::Viewer);
        assert_eq!(Reviewer::needed(), Role::Reviewer);
        assert_eq!(Admin::needed(), Role::Admin);
        assert!(Role::Viewer < Role::Reviewer && Role::Reviewer < Role::Admin);
    }
}
