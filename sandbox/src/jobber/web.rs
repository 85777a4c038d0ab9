//! What a person does in Jobber Online (the web app) that the public API cannot do: approve,
//! archive or delete a quote. Jobber's public API (version 2025-04-16) has no `quoteApprove`,
//! `quoteArchive` or `quoteDelete`, so the sandbox does not serve them; tests and demos act as the
//! person through the admin API (`/_admin/jobber/quotes/{quote}/approve|archive`,
//! `DELETE /_admin/jobber/quotes/{quote}`), which calls these functions.
//!
//! Also the pages the records' `jobberWebUri` point at (`/web/quotes/{id}`, `/web/clients/{id}`,
//! `/web/properties/{id}`): a few lines of HTML, so that an operator who follows a link in a demo
//! sees the record. Like `/_admin`, they are neither faulted nor counted.

use std::sync::Arc;

use axum::extract::FromRef;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::ids::EncodedId;
use super::schema::types::QuoteAmounts;
use super::webhooks::Topic;
use crate::context::Shared;
use crate::state::{Account, QuoteRecord, QuoteStatus, Store};

/// `jobberWebUri` of a record: `{base}/web/{quotes|clients|properties}/{id}`. The record id (ids
/// are global) rather than the quote number, which is per account and can be edited.
pub fn uri(base: &str, kind: &str, id: u64) -> String {
    format!("{base}/web/{kind}/{id}")
}

/// Why a person's action on a quote did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum WebError {
    /// No such quote in the account.
    NotFound(String),
    /// The quote cannot take the action, or the reference names several quotes.
    Conflict(String),
}

/// Finds a quote of the account by its `EncodedId` or by its quote number (all digits).
pub fn find_quote(account: &Account, reference: &str) -> Result<u64, WebError> {
    let reference = reference.trim();
    if !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_digit()) {
        let numbered: Vec<u64> =
            account.quotes.values().filter(|q| q.quote_number.trim() == reference).map(|q| q.id).collect();
        return match numbered[..] {
            [id] => Ok(id),
            [] => Err(WebError::NotFound(format!("no quote #{reference} in account {}", account.id))),
            _ => Err(WebError::Conflict(format!(
                "{} quotes are numbered {reference} in account {}: name one by its id",
                numbered.len(),
                account.id
            ))),
        };
    }
    EncodedId::decode(reference)
        .and_then(|id| id.number_of("Quote"))
        .filter(|n| account.quotes.contains_key(n))
        .ok_or_else(|| WebError::NotFound(format!("no quote {reference} in account {}", account.id)))
}

/// Runs `change` on one quote of the account (found by [`find_quote`]).
fn with_quote(
    store: &mut Store,
    account_id: u64,
    reference: &str,
    change: impl FnOnce(&mut Account, u64) -> Result<QuoteRecord, WebError>,
) -> Result<QuoteRecord, WebError> {
    let account = store
        .accounts
        .get_mut(&account_id)
        .ok_or_else(|| WebError::NotFound(format!("no account {account_id}")))?;
    let id = find_quote(account, reference)?;
    change(account, id)
}

/// The client approves the quote (in client hub, or the dealer marks it approved): from draft,
/// awaiting response or changes requested. `QUOTE_APPROVED` fires.
pub fn approve(
    shared: &Arc<Shared>,
    jobber: &super::Runtime,
    account_id: u64,
    reference: &str,
) -> Result<QuoteRecord, WebError> {
    let now = shared.clock.now_ms();
    let quote = shared.write(|store| {
        with_quote(store, account_id, reference, |account, id| {
            let quote = account.quotes.get_mut(&id).expect("found above");
            match quote.status {
                QuoteStatus::Draft | QuoteStatus::AwaitingResponse | QuoteStatus::ChangesRequested => {
                    quote.status = QuoteStatus::Approved;
                    quote.approved_at = Some(now);
                    quote.updated_at = now;
                    Ok(quote.clone())
                }
                other => Err(WebError::Conflict(format!(
                    "quote #{} is {}: only a draft, awaiting response or changes requested quote can be approved",
                    quote.quote_number,
                    status_name(other)
                ))),
            }
        })
    })?;
    jobber.webhooks.emit(shared, Topic::QuoteApproved, account_id, "Quote", quote.id);
    Ok(quote)
}

/// The dealer archives the quote (any status; archiving an archived quote changes nothing).
pub fn archive(shared: &Arc<Shared>, account_id: u64, reference: &str) -> Result<QuoteRecord, WebError> {
    let now = shared.clock.now_ms();
    shared.write(|store| {
        with_quote(store, account_id, reference, |account, id| {
            let quote = account.quotes.get_mut(&id).expect("found above");
            if quote.status != QuoteStatus::Archived {
                quote.status = QuoteStatus::Archived;
                quote.archived_at = Some(now);
                quote.updated_at = now;
            }
            Ok(quote.clone())
        })
    })
}

/// The dealer deletes the quote: it is gone (`quote(id:)` is null, `quotes` no longer lists it),
/// its number is not given out again, and `QUOTE_DESTROY` fires.
pub fn delete(
    shared: &Arc<Shared>,
    jobber: &super::Runtime,
    account_id: u64,
    reference: &str,
) -> Result<QuoteRecord, WebError> {
    let quote = shared.write(|store| {
        with_quote(store, account_id, reference, |account, id| Ok(account.quotes.remove(&id).expect("found")))
    })?;
    jobber.webhooks.emit(shared, Topic::QuoteDestroy, account_id, "Quote", quote.id);
    Ok(quote)
}

fn status_name(status: QuoteStatus) -> &'static str {
    match status {
        QuoteStatus::Draft => "draft",
        QuoteStatus::AwaitingResponse => "awaiting_response",
        QuoteStatus::Archived => "archived",
        QuoteStatus::Approved => "approved",
        QuoteStatus::Converted => "converted",
        QuoteStatus::ChangesRequested => "changes_requested",
    }
}

// ---------------------------------------------------------------------------------------------
// The jobberWebUri pages

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Shared>: FromRef<S>,
{
    Router::new()
        .route("/web/quotes/{id}", get(quote_page))
        .route("/web/clients/{id}", get(client_page))
        .route("/web/properties/{id}", get(property_page))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, lines: &[String]) -> Response {
    let body = lines.iter().map(|l| format!("<p>{l}</p>")).collect::<String>();
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title} · sj-sandbox</title></head>\
         <body><h1>{title}</h1>{body}<p><small>sj-sandbox, a stand-in for Jobber Online (not Jobber)</small></p>\
         </body></html>\n"
    );
    (status, Html(html)).into_response()
}

fn not_found(kind: &str, id: &str) -> Response {
    page(
        StatusCode::NOT_FOUND,
        &format!("No {kind} {}", escape(id)),
        &[format!("The sandbox has no {kind} with id {} (deleted, or never created).", escape(id))],
    )
}

/// The account and record of a global id, wherever it is.
fn find<T: Clone>(
    shared: &Shared,
    id: &str,
    pick: impl Fn(&Account, u64) -> Option<T>,
) -> Option<(Account, T)> {
    let id: u64 = id.parse().ok()?;
    shared.read(|store| {
        store.accounts.values().find_map(|account| pick(account, id).map(|record| (account.clone(), record)))
    })
}

async fn quote_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some((account, quote)) = find(&shared, &id, |a, n| a.quotes.get(&n).cloned()) else {
        return not_found("quote", &id);
    };
    let title = match &quote.title {
        Some(t) if !t.is_empty() => format!("Quote #{}: {}", escape(&quote.quote_number), escape(t)),
        _ => format!("Quote #{}", escape(&quote.quote_number)),
    };
    let client = account.clients.get(&quote.client_id).map(|c| c.name()).unwrap_or_default();
    let property = account.properties.get(&quote.property_id).map(|p| p.address.street()).unwrap_or_default();
    let amounts = QuoteAmounts::of(&quote);
    let lines = [
        format!("Client: {}", escape(&client)),
        format!("Property: {}", escape(&property)),
        format!("Status: {}", status_name(quote.status)),
        format!("Line items: {}; total {:.2}", quote.line_items.len(), amounts.total),
        format!("Account: {} ({})", escape(&account.name), account.id),
    ];
    page(StatusCode::OK, &title, &lines)
}

async fn client_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some((account, client)) = find(&shared, &id, |a, n| a.clients.get(&n).cloned()) else {
        return not_found("client", &id);
    };
    let quotes = account.quotes.values().filter(|q| q.client_id == client.id).count();
    let properties = account.properties.values().filter(|p| p.client_id == client.id).count();
    let lines = [
        format!("Properties: {properties}; quotes: {quotes}"),
        format!("Account: {} ({})", escape(&account.name), account.id),
    ];
    page(StatusCode::OK, &format!("Client: {}", escape(&client.name())), &lines)
}

async fn property_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some((account, property)) = find(&shared, &id, |a, n| a.properties.get(&n).cloned()) else {
        return not_found("property", &id);
    };
    let a = &property.address;
    let place = [&a.city, &a.province, &a.postal_code, &a.country]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let client = account.clients.get(&property.client_id).map(|c| c.name()).unwrap_or_default();
    let lines = [escape(&place), format!("Client: {}", escape(&client))];
    page(StatusCode::OK, &format!("Property: {}", escape(&a.street())), &lines)
}
