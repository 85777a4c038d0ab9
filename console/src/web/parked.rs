//! The Parked page: the documents in the dead letters (`sj.quotes.dead`) with their reason and
//! what to do, and the actions of `sjctl dlq` through the same code
//! ([`sj_shared::dead_letters`]): replay (reviewers), purge (admins, after a confirmation), and,
//! for a document parked for want of a mapping row, picking its Jobber client from a search by
//! name and replaying in one step (the row is written as `sjctl mapping set` writes it, by the
//! signed-in user). Every action goes to the audit with the user.
//!
//! Each request opens its own connection to RabbitMQ and reads the parked queue as `sjctl dlq`
//! does: every message held unacknowledged, then given back unless replayed or purged. It works
//! beside the RabbitMQ UI, never instead of it.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use sj_shared::amqp::{self, Publisher};
use sj_shared::dead_letters::{self, Forget, Parked};
use sj_shared::failure::{FailureKind, KindName};
use sj_shared::ids::ClientId;
use sj_shared::jobber::JobberClient;
use sj_shared::mapping::{CustomerKey, Mapping, MappingRow};
use sj_shared::store::{Keys, ParkedDocuments, PublishedDocuments};

use super::auth::{Admin, Reviewer, Signed, Viewer};
use super::pages::{render, Chrome};
use super::{internal, Shared};
use crate::db::Role;

/// How long a page waits for RabbitMQ, Redis or Jobber.
const WAIT: Duration = Duration::from_secs(20);

/// The dead letters held by this request's own connection (given back when it closes).
struct Held {
    connection: lapin::Connection,
    /// The channel the messages are held on: kept open until they are given back (closing it
    /// would return them to the queue at once).
    channel: lapin::Channel,
    topology: amqp::Topology,
    parked: Vec<Parked>,
}

impl Held {
    async fn open(app: &Shared) -> Result<Held, String> {
        let settings = &app.settings;
        let topology = settings.amqp.topology(&settings.namespace);
        let connection = amqp::connect(&settings.amqp).await.map_err(|e| e.to_string())?;
        let channel = connection.create_channel().await.map_err(|e| format!("RabbitMQ: {e}"))?;
        let parked = dead_letters::fetch_all(&channel, &topology).await.map_err(|e| e.to_string())?;
        Ok(Held { connection, channel, topology, parked })
    }

    fn find(&self, id: &str) -> Option<&Parked> {
        dead_letters::select(&self.parked, &[id.to_owned()]).ok().map(|found| found[0])
    }

    /// Gives back whatever was not replayed or purged, and closes the connection.
    async fn close(self) {
        dead_letters::give_back(&self.parked).await;
        let _ = self.channel.close(200, "sj-console done".into()).await;
        let _ = self.connection.close(200, "sj-console done".into()).await;
    }
}

async fn held(app: &Shared) -> Result<Held, String> {
    match tokio::time::timeout(WAIT, Held::open(app)).await {
        Ok(result) => result,
        Err(_) => Err("RabbitMQ did not answer in time".to_owned()),
    }
}

/// Whether a parked document waits for a mapping row: its client can be picked here.
fn wants_mapping(kind: &KindName) -> bool {
    matches!(kind, KindName::Known(FailureKind::MappingNoMatch | FailureKind::MappingNoCustomerName))
}

fn age(seconds: Option<u64>) -> String {
    match seconds {
        None => "?".to_owned(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) if s < 172_800 => format!("{} h", s / 3600),
        Some(s) => format!("{} days", s / 86_400),
    }
}

struct Row {
    id: String,
    age: String,
    source: String,
    customer: String,
    kind: String,
    reason: String,
    hint: String,
    attempts: i64,
    replays: i64,
    replayable: bool,
    wants_mapping: bool,
}

impl Row {
    fn of(p: &Parked) -> Row {
        Row {
            id: p.id.clone(),
            age: age(p.age_seconds),
            source: p.source.clone(),
            customer: p.customer.clone().unwrap_or_else(|| "-".to_owned()),
            kind: p.kind.to_string(),
            reason: p.reason.clone(),
            hint: p.kind.hint().to_owned(),
            attempts: p.attempts,
            replays: p.replays,
            replayable: p.is_replayable(),
            wants_mapping: wants_mapping(&p.kind),
        }
    }
}

#[derive(Template)]
#[template(path = "parked.html")]
struct ListPage {
    chrome: Chrome,
    error: String,
    rows: Vec<Row>,
    reviewer: bool,
    management_url: String,
    queue: String,
}

/// The RabbitMQ UI's page of the parked queue (the management plugin on 15672 of the broker's host).
fn management_url(app: &Shared, queue: &str) -> String {
    let host = reqwest::Url::parse(app.settings.amqp.url.expose())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("http://{host}:15672/#/queues/%2F/{queue}")
}

pub async fn list(State(app): State<Shared>, Signed(current): Viewer) -> Response {
    let queue = app.settings.amqp.topology(&app.settings.namespace).parked_queue().to_string();
    let (rows, error) = match held(&app).await {
        Ok(held) => {
            let rows = held.parked.iter().map(Row::of).collect();
            held.close().await;
            (rows, String::new())
        }
        Err(e) => (Vec::new(), format!("The parked documents cannot be read: {e}")),
    };
    let page = ListPage {
        reviewer: current.user.role >= Role::Reviewer,
        chrome: Chrome::of(&app, &current).await,
        error,
        rows,
        management_url: management_url(&app, &queue),
        queue,
    };
    render(&page)
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    /// The client's name to search Jobber for.
    #[serde(default)]
    q: Option<String>,
}

struct ClientRow {
    id: String,
    name: String,
    address: String,
}

#[derive(Template)]
#[template(path = "parked_one.html")]
struct OnePage {
    chrome: Chrome,
    row: Row,
    key: String,
    first_failure: String,
    reviewer: bool,
    admin: bool,
    q: String,
    searched: bool,
    search_error: String,
    clients: Vec<ClientRow>,
}

pub async fn one(
    State(app): State<Shared>,
    Signed(current): Viewer,
    Path(id): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Response {
    let held = match held(&app).await {
        Ok(held) => held,
        Err(e) => return failed(&app, &current, StatusCode::SERVICE_UNAVAILABLE, &e).await,
    };
    let Some(p) = held.find(&id) else {
        held.close().await;
        return gone(&app, &current, &id).await;
    };
    let row = Row::of(p);
    let key = customer_key(p).map(|k| k.to_string()).unwrap_or_default();
    let first_failure = p.first_failure.clone().unwrap_or_else(|| "?".to_owned());
    let default_q = p.request.as_ref().and_then(|r| r.customer.name.clone()).unwrap_or_default();
    held.close().await;

    let q = query.q.clone().unwrap_or(default_q);
    let (mut clients, mut search_error) = (Vec::new(), String::new());
    let searched = query.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    if searched && row.wants_mapping {
        match search(&app, q.trim()).await {
            Ok(found) => clients = found,
            Err(e) => search_error = format!("Jobber could not be searched: {e}"),
        }
    }
    let page = OnePage {
        reviewer: current.user.role >= Role::Reviewer,
        admin: current.user.role >= Role::Admin,
        chrome: Chrome::of(&app, &current).await,
        row,
        key,
        first_failure,
        q,
        searched,
        search_error,
        clients,
    };
    render(&page)
}

fn jobber(app: &Shared) -> Result<JobberClient, String> {
    JobberClient::from_settings(&app.settings, app.pool.clone()).map_err(|e| format!("HTTP client: {e}"))
}

async fn search(app: &Shared, term: &str) -> Result<Vec<ClientRow>, String> {
    let jobber = jobber(app)?;
    let found = tokio::time::timeout(WAIT, jobber.search_clients(term, sj_shared::jobber::ops::SEARCH_NAMES))
        .await
        .map_err(|_| "Jobber did not answer in time".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(found
        .into_iter()
        .take(50)
        .map(|c| ClientRow {
            address: c
                .addresses()
                .next()
                .map(|a| {
                    [&a.street1, &a.city, &a.postal_code]
                        .into_iter()
                        .filter(|p| !p.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            id: c.id.to_string(),
            name: c.name.clone(),
        })
        .collect())
}

/// The mapping key of a parked quote message's customer, as the workers look it up.
fn customer_key(p: &Parked) -> Option<CustomerKey> {
    let request = p.request.as_ref()?;
    CustomerKey::of(&request.customer, &request.shipping)
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn replay(
    State(app): State<Shared>,
    Signed(current): Reviewer,
    Path(id): Path<String>,
) -> Response {
    let held = match held(&app).await {
        Ok(held) => held,
        Err(e) => return failed(&app, &current, StatusCode::SERVICE_UNAVAILABLE, &e).await,
    };
    let outcome = replay_held(&app, &held, &id).await;
    held.close().await;
    match outcome {
        Ok(source) => {
            if let Err(e) = app.db.audit(&current.user.name, "parked.replay", &format!("{id} ({source})")) {
                return internal(&e);
            }
            tracing::info!(user = %current.user.name, %id, %source, "parked document replayed");
            Redirect::to("/parked").into_response()
        }
        Err((status, reason)) => failed(&app, &current, status, &reason).await,
    }
}

/// Replays the parked document `id` of `held`; its source.
async fn replay_held(app: &Shared, held: &Held, id: &str) -> Result<String, (StatusCode, String)> {
    let Some(p) = held.find(id) else {
        return Err((StatusCode::NOT_FOUND, format!("No parked document {id}: replayed or purged already?")));
    };
    if !p.is_replayable() {
        return Err((
            StatusCode::CONFLICT,
            format!(
                "{} was refused by the poller ({}): nothing to replay. {}",
                p.source,
                p.kind,
                p.kind.hint()
            ),
        ));
    }
    let unavailable = |e: &dyn std::fmt::Display| (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    let publisher =
        Publisher::open(&held.connection, held.topology.clone()).await.map_err(|e| unavailable(&e))?;
    dead_letters::replay(&publisher, &held.topology, Some(&app.history), p)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(p.source.clone())
}

#[derive(Template)]
#[template(path = "parked_purge.html")]
struct PurgePage {
    chrome: Chrome,
    row: Row,
}

pub async fn purge(
    State(app): State<Shared>,
    Signed(current): Admin,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let held = match held(&app).await {
        Ok(held) => held,
        Err(e) => return failed(&app, &current, StatusCode::SERVICE_UNAVAILABLE, &e).await,
    };
    let Some(p) = held.find(&id) else {
        held.close().await;
        return gone(&app, &current, &id).await;
    };
    if form.confirm.as_deref() != Some("yes") {
        // The confirmation step: nothing is deleted yet.
        let row = Row::of(p);
        held.close().await;
        return render(&PurgePage { chrome: Chrome::of(&app, &current).await, row });
    }
    let keys = Keys::new(&app.settings.namespace);
    let forget = Forget {
        published: PublishedDocuments::new(app.pool.clone(), keys.clone()),
        parked: ParkedDocuments::new(app.pool.clone(), keys),
    };
    let source = p.source.clone();
    let outcome = dead_letters::purge(Some(&forget), p).await;
    held.close().await;
    match outcome {
        Ok(not_forgotten) => {
            let mut detail = format!("{id} ({source})");
            if let Some(e) = not_forgotten {
                tracing::warn!(%id, error = %e, "purged, but Redis did not forget its content");
                detail.push_str(&format!(
                    "; Redis did not forget its content ({e}): a re-export would be skipped"
                ));
            }
            if let Err(e) = app.db.audit(&current.user.name, "parked.purge", &detail) {
                return internal(&e);
            }
            tracing::info!(user = %current.user.name, %id, %source, "parked document purged");
            Redirect::to("/parked").into_response()
        }
        Err(e) => failed(&app, &current, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()).await,
    }
}

#[derive(Deserialize)]
pub struct MapForm {
    client_id: String,
}

pub async fn map_and_replay(
    State(app): State<Shared>,
    Signed(current): Reviewer,
    Path(id): Path<String>,
    Form(form): Form<MapForm>,
) -> Response {
    let client_id = ClientId::new(form.client_id.trim());
    if client_id.as_str().is_empty() {
        return failed(&app, &current, StatusCode::BAD_REQUEST, "Pick a Jobber client first.").await;
    }
    let held = match held(&app).await {
        Ok(held) => held,
        Err(e) => return failed(&app, &current, StatusCode::SERVICE_UNAVAILABLE, &e).await,
    };
    let outcome = map_held(&app, &held, &id, &client_id, &current.user.name).await;
    let outcome = match outcome {
        Ok(row) => replay_held(&app, &held, &id).await.map(|source| (row, source)).map_err(|(status, e)| {
            (
                status,
                format!("The mapping row was written, but the replay failed: {e}. Replay it from this page."),
            )
        }),
        Err(e) => Err(e),
    };
    held.close().await;
    match outcome {
        Ok((row, source)) => {
            let detail = format!("{id} ({source}): {} → {} ({})", row.key, row.client_id, row.note);
            if let Err(e) = app.db.audit(&current.user.name, "parked.map-and-replay", &detail) {
                return internal(&e);
            }
            tracing::info!(user = %current.user.name, %id, key = %row.key, client = %row.client_id,
                "mapping row written and parked document replayed");
            Redirect::to("/parked").into_response()
        }
        Err((status, reason)) => failed(&app, &current, status, &reason).await,
    }
}

/// Writes the mapping row of the parked document's customer to the chosen client (checked in
/// Jobber first, as `sjctl mapping set` does).
async fn map_held(
    app: &Shared,
    held: &Held,
    id: &str,
    client_id: &ClientId,
    user: &str,
) -> Result<MappingRow, (StatusCode, String)> {
    let Some(p) = held.find(id) else {
        return Err((StatusCode::NOT_FOUND, format!("No parked document {id}: replayed or purged already?")));
    };
    if !wants_mapping(&p.kind) {
        return Err((
            StatusCode::CONFLICT,
            format!("{} was not parked for want of a mapping row ({}): replay it instead.", p.source, p.kind),
        ));
    }
    let (Some(request), Some(key)) = (p.request.as_ref(), customer_key(p)) else {
        return Err((StatusCode::CONFLICT, format!("{} names no customer to map.", p.source)));
    };
    let unavailable = |e: String| (StatusCode::SERVICE_UNAVAILABLE, e);
    let jobber = jobber(app).map_err(unavailable)?;
    let client = tokio::time::timeout(WAIT, jobber.client_by_id(client_id))
        .await
        .map_err(|_| unavailable("Jobber did not answer in time".to_owned()))?
        .map_err(|e| unavailable(format!("Jobber: {e}")))?
        .ok_or_else(|| (StatusCode::BAD_REQUEST, format!("Jobber has no client {client_id}.")))?;
    let mapping = Mapping::new(&app.settings.mapping, app.pool.clone(), Keys::new(&app.settings.namespace))
        .map_err(|e| unavailable(format!("mapping table: {e}")))?;
    let address = sj_shared::mapping::address_text(if request.shipping.is_empty() {
        &request.customer.address
    } else {
        &request.shipping
    });
    let row = MappingRow {
        key,
        client_id: client.id.clone(),
        property_id: None,
        saberis_name: request.customer.name.clone().unwrap_or_default(),
        saberis_address: address,
        made_by: user.to_owned(),
        made_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        note: format!("console: parked {} ({}), client {}", p.id, p.source, client.name),
    };
    tokio::time::timeout(WAIT, mapping.append(&row))
        .await
        .map_err(|_| unavailable("the mapping table did not answer in time".to_owned()))?
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(row)
}

#[derive(Template)]
#[template(path = "parked_message.html")]
struct MessagePage {
    chrome: Chrome,
    title: String,
    message: String,
}

async fn failed(app: &Shared, current: &super::auth::Current, status: StatusCode, reason: &str) -> Response {
    let page = MessagePage {
        chrome: Chrome::of(app, current).await,
        title: "Not done".to_owned(),
        message: reason.to_owned(),
    };
    (status, render(&page)).into_response()
}

async fn gone(app: &Shared, current: &super::auth::Current, id: &str) -> Response {
    failed(
        app,
        current,
        StatusCode::NOT_FOUND,
        &format!("No parked document {id}: replayed or purged already?"),
    )
    .await
}
