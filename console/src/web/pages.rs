//! The pages: the landing summary, the history, the users (admin), and the error pages.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sj_shared::jobber::TokenState;
use sj_shared::store::{HistoryEntry, Totals};

use super::auth::{Admin, Current, Signed, Viewer};
use super::webhook::{self, Disconnection};
use super::{format_time, format_time_ms, internal, Shared};

/// How long a page waits for Redis before saying it cannot read it.
const REDIS_WAIT: Duration = Duration::from_secs(3);
/// The most history rows one page shows.
const MAX_ROWS: usize = 500;

/// What every page shows around its content: who is signed in, the sign-out form, the banner.
pub struct Chrome {
    pub signed_in: bool,
    pub user_name: String,
    pub role: String,
    pub admin: bool,
    pub csrf: String,
    /// Shown on every page while set: Jobber disconnected the bridge.
    pub banner: String,
}

impl Chrome {
    pub async fn of(app: &Shared, current: &Current) -> Chrome {
        Chrome {
            signed_in: true,
            user_name: current.user.name.clone(),
            role: current.user.role.as_str().to_owned(),
            admin: current.user.role == crate::db::Role::Admin,
            csrf: current.csrf_token.clone(),
            banner: banner(app).await,
        }
    }

    /// The sign-in page's: nobody yet, the sign-in form's own CSRF token.
    pub fn signed_out(_app: &Shared, csrf: &str) -> Chrome {
        Chrome {
            signed_in: false,
            user_name: String::new(),
            role: String::new(),
            admin: false,
            csrf: csrf.to_owned(),
            banner: String::new(),
        }
    }
}

/// The banner's text while Jobber has disconnected the bridge (empty otherwise).
async fn banner(app: &Shared) -> String {
    match webhook::disconnection(app).await {
        Some(Disconnection { occurred_at, .. }) => format!(
            "Jobber disconnected the bridge ({occurred_at}): its Jobber tokens were dropped and no quote is written \
             until an admin connects it to Jobber again."
        ),
        None => String::new(),
    }
}

pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => internal(&e),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    title: String,
    message: String,
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let chrome = Chrome {
        signed_in: false,
        user_name: String::new(),
        role: String::new(),
        admin: false,
        csrf: String::new(),
        banner: String::new(),
    };
    let page = MessagePage { chrome, title: title.to_owned(), message: text.to_owned() };
    (status, render(&page)).into_response()
}

pub fn forbidden(text: &str) -> Response {
    message(StatusCode::FORBIDDEN, "Not allowed", text)
}

pub async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not found", "There is no such page. Start again from the summary.")
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    history_error: String,
    totals: Totals,
    jobber: String,
    events: Vec<EventRow>,
    event_count: i64,
}

struct EventRow {
    received: String,
    occurred: String,
    topic: String,
    item_id: String,
}

pub async fn home(State(app): State<Shared>, Signed(current): Viewer) -> Response {
    let (totals, history_error) = match read_history(&app, Duration::from_secs(24 * 60 * 60)).await {
        Ok(entries) => (Totals::of(&entries), String::new()),
        Err(e) => (Totals::default(), e),
    };
    let jobber = match tokio::time::timeout(REDIS_WAIT, app.tokens.state()).await {
        Ok(Ok(TokenState::Connected(tokens))) => {
            format!("connected (access token valid until {})", format_time(tokens.expires_at as i64))
        }
        Ok(Ok(TokenState::Disconnected { at })) => format!("disconnected since {}", format_time(at as i64)),
        Ok(Ok(TokenState::NotStored)) => "not connected yet".to_owned(),
        Ok(Err(e)) => format!("unknown: {e}"),
        Err(_) => "unknown: Redis did not answer".to_owned(),
    };
    let events = match app.db.recent_webhook_events(5) {
        Ok(events) => events
            .into_iter()
            .map(|e| EventRow {
                received: format_time(e.received_at),
                occurred: e.occurred_at,
                topic: e.topic,
                item_id: e.item_id,
            })
            .collect(),
        Err(e) => return internal(&e),
    };
    let event_count = match app.db.webhook_event_count() {
        Ok(count) => count,
        Err(e) => return internal(&e),
    };
    let page = HomePage {
        chrome: Chrome::of(&app, &current).await,
        history_error,
        totals,
        jobber,
        events,
        event_count,
    };
    render(&page)
}

async fn read_history(app: &Shared, since: Duration) -> Result<Vec<HistoryEntry>, String> {
    match tokio::time::timeout(REDIS_WAIT, app.history.since(since)).await {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(e)) => Err(format!("The history cannot be read from Redis: {e}")),
        Err(_) => Err("The history cannot be read: Redis did not answer.".to_owned()),
    }
}

#[derive(Deserialize, Default)]
pub struct HistoryQuery {
    /// Text in the document's name, the customer or the reason.
    #[serde(default)]
    q: String,
    /// `YYYY-MM-DD`: from this day (UTC).
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`: up to and including this day (UTC).
    #[serde(default)]
    to: String,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    chrome: Chrome,
    q: String,
    from: String,
    to: String,
    error: String,
    rows: Vec<HistoryRow>,
    shown: usize,
    matched: usize,
}

struct HistoryRow {
    at: String,
    outcome: &'static str,
    source: String,
    detail: String,
}

/// The start of a day (`YYYY-MM-DD`, UTC) in milliseconds since the epoch.
fn day_start_ms(day: &str) -> Option<u64> {
    let valid = day.len() == 10 && day.as_bytes()[4] == b'-' && day.as_bytes()[7] == b'-';
    let at = humantime::parse_rfc3339(&format!("{day}T00:00:00Z")).ok().filter(|_| valid)?;
    Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}

/// The entries matching a search, newest first.
pub fn search(
    entries: Vec<HistoryEntry>,
    q: &str,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
) -> Vec<HistoryEntry> {
    let needle = q.trim().to_lowercase();
    let mut found: Vec<HistoryEntry> = entries
        .into_iter()
        .filter(|e| from_ms.is_none_or(|from| e.at_ms >= from) && to_ms.is_none_or(|to| e.at_ms < to))
        .filter(|e| {
            needle.is_empty()
                || [Some(&e.source), e.kind.as_ref(), e.reason.as_ref(), e.quote.as_ref(), e.job.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|text| text.to_lowercase().contains(&needle))
        })
        .collect();
    // The stream is oldest first, and entries of one millisecond keep their order: reversed,
    // then a stable sort (for any other source).
    found.reverse();
    found.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
    found
}

pub async fn history(
    State(app): State<Shared>,
    Signed(current): Viewer,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let mut error = String::new();
    let mut day = |text: &str, label: &str| -> Option<u64> {
        if text.is_empty() {
            return None;
        }
        let parsed = day_start_ms(text);
        if parsed.is_none() {
            error = format!("{label} {text:?} is not a date such as 2026-05-01: ignored.");
        }
        parsed
    };
    let from_ms = day(&query.from, "From");
    let to_ms = day(&query.to, "To").map(|start| start + 24 * 60 * 60 * 1000);
    let now_ms = crate::db::now() as u64 * 1000;
    // Read back to the first day asked for, else a week.
    let since = from_ms.map_or(Duration::from_secs(7 * 24 * 60 * 60), |from| {
        Duration::from_millis(now_ms.saturating_sub(from) + 1000)
    });
    let entries = match read_history(&app, since).await {
        Ok(entries) => entries,
        Err(e) => {
            error = e;
            Vec::new()
        }
    };
    let found = search(entries, &query.q, from_ms, to_ms);
    let matched = found.len();
    let rows: Vec<HistoryRow> = found
        .into_iter()
        .take(MAX_ROWS)
        .map(|e| {
            let detail = match (e.target(), &e.kind, &e.reason) {
                (Some(target), _, _) => target,
                (None, Some(kind), Some(reason)) => format!("{kind}: {reason}"),
                (None, Some(kind), None) => kind.clone(),
                _ => String::new(),
            };
            HistoryRow { at: format_time_ms(e.at_ms), outcome: e.outcome.as_str(), source: e.source, detail }
        })
        .collect();
    let page = HistoryPage {
        chrome: Chrome::of(&app, &current).await,
        q: query.q,
        from: query.from,
        to: query.to,
        error,
        shown: rows.len(),
        rows,
        matched,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    audit: Vec<AuditRow>,
}

struct UserRow {
    name: String,
    role: &'static str,
    added: String,
    is_me: bool,
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    detail: String,
}

pub async fn users(State(app): State<Shared>, Signed(current): Admin) -> Response {
    let (users, audit) = match (app.db.users(), app.db.recent_audit(20)) {
        (Ok(users), Ok(audit)) => (users, audit),
        (Err(e), _) | (_, Err(e)) => return internal(&e),
    };
    let users = users
        .into_iter()
        .map(|u| UserRow {
            is_me: u.id == current.user.id,
            added: format_time(u.created_at),
            role: u.role.as_str(),
            name: u.name,
        })
        .collect();
    let audit = audit
        .into_iter()
        .map(|(at, actor, action, detail)| AuditRow { at: format_time(at), actor, action, detail })
        .collect();
    render(&UsersPage { chrome: Chrome::of(&app, &current).await, users, audit })
}

/// Admin only: removes a user (never oneself); their sessions end at once.
pub async fn remove_user(
    State(app): State<Shared>,
    Signed(current): Admin,
    Path(name): Path<String>,
) -> Response {
    if name == current.user.name {
        return message(
            StatusCode::CONFLICT,
            "Not removed",
            "You cannot remove yourself; ask another admin.",
        );
    }
    match app.db.remove_user(&name) {
        Ok(true) => {
            if let Err(e) = app.db.audit(&current.user.name, "user.remove", &name) {
                return internal(&e);
            }
            tracing::info!(by = %current.user.name, user = %name, "user removed");
            Redirect::to("/users").into_response()
        }
        Ok(false) => message(StatusCode::NOT_FOUND, "Not found", "There is no such user."),
        Err(e) => internal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sj_shared::store::Outcome;

    fn entry(at_ms: u64, source: &str, reason: Option<&str>) -> HistoryEntry {
        HistoryEntry {
            at_ms,
            outcome: Outcome::Parked,
            source: source.to_owned(),
            quote: None,
            job: None,
            kind: reason.map(|_| "mapping.no-customer-name".to_owned()),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn search_matches_text_and_days_newest_first() {
        let day = day_start_ms("2026-05-01").unwrap();
        let entries = vec![
            entry(day - 1, "old.xml", None),
            entry(day + 10, "kitchen.xml", Some("no mapping row for Côté Rénovations")),
            entry(day + 20, "bath.json", None),
            entry(day + 24 * 3600 * 1000, "next-day.xml", None),
        ];
        let sources = |found: Vec<HistoryEntry>| found.into_iter().map(|e| e.source).collect::<Vec<_>>();
        assert_eq!(
            sources(search(entries.clone(), "", Some(day), Some(day + 86_400_000))),
            ["bath.json", "kitchen.xml"]
        );
        assert_eq!(sources(search(entries.clone(), "côté", None, None)), ["kitchen.xml"]);
        assert_eq!(sources(search(entries.clone(), "KITCHEN", None, None)), ["kitchen.xml"]);
        assert_eq!(
            sources(search(entries, "", None, None)).first().map(String::as_str),
            Some("next-day.xml")
        );
    }

    #[test]
    fn days_are_plain_dates() {
        assert_eq!(day_start_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(day_start_ms("2026-13-01"), None);
        assert_eq!(day_start_ms("yesterday"), None);
    }
}
