//! Control and inspection under `/_admin` (JSON). Never faulted, never counted, no auth: the
//! sandbox only listens on 127.0.0.1.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /_admin/state` | the whole store |
//! | `POST /_admin/reset` | everything back to a fresh start (records, grants, documents, sheets, limits, faults, counters) |
//! | `GET, DELETE /_admin/jobber/{clients,properties,quotes,jobs}` | list / remove (removing clients removes their properties, quotes and jobs) |
//! | `POST /_admin/jobber/jobs` | a job, made as staff make one in Jobber Online (the public API has no `jobCreate` the bridge uses): `{"client": EncodedId, "property"?: EncodedId (default: the client's first), "title"?, "status"? (default `upcoming`), "line_items"?: [{"name", "description"?, "quantity"?, "unit_price"?, "unit_cost"?}]}`; answers 201 with the job (`encoded_id`, `job_number`, `total`) |
//! | `POST /_admin/jobber/quotes/{quote}/approve`, `…/archive` | what a person does in Jobber Online (the API cannot): approve / archive one quote; `{quote}` is its EncodedId or its number |
//! | `DELETE /_admin/jobber/quotes/{quote}` | delete one quote as a person does in Jobber Online |
//! | `GET, PUT /_admin/jobber/throttle` | the default account's bucket; `{"currently_available": n}` sets it |
//! | `POST /_admin/oauth/grants` | a new grant and its tokens (as a completed authorization) |
//! | `GET /_admin/oauth/grants` | grants |
//! | `POST /_admin/oauth/revoke` | `{"grant_id"?}`: revoke one grant, or all (an app disconnect) |
//! | `POST /_admin/oauth/expire` | every outstanding access token stops working (refresh tokens stay) |
//! | `GET, POST, DELETE /_admin/saberis/documents` | list / add (body = the document; `?guid=`; JSON or XML by content type) / remove all |
//! | `GET, DELETE /_admin/saberis/sessions` | session tokens / end all |
//! | `GET /_admin/sheets` , `GET, PUT, DELETE /_admin/sheets/{id}/{tab}` | rows of a tab (PUT creates the spreadsheet, and the tab after the others, as staff adding a tab in the browser) |
//! | `GET, POST, DELETE /_admin/faults` | fault specs (POST one spec; see `faults::FaultSpec`) |
//! | `GET, DELETE /_admin/counters` | request, fault, throttle, 429 and 401 counters, GraphQL requests by operation (also at `/metrics` on the health port, `[health]`) |
//! | `GET /_admin/webhooks` | webhook deliveries |
//! | `GET /_admin/clock`, `POST /_admin/clock/advance` | `{"ms": n}` moves the clock forward |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::Shared;
use crate::faults::FaultSpec;
use crate::jobber::ids::encode;
use crate::jobber::ids::EncodedId;
use crate::jobber::oauth::{self, TokenResponse};
use crate::jobber::schema::types::{job_total, QuoteAmounts};
use crate::jobber::web::{self, WebError};
use crate::jobber::Runtime;
use crate::saberis::{add_document, Form};
use crate::state::{JobRecord, JobStatus, LineItemRecord, QuoteRecord, Store, DEFAULT_ACCOUNT_ID};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Shared>: FromRef<S>,
    Arc<crate::jobber::Runtime>: FromRef<S>,
{
    Router::new()
        .route("/state", get(state))
        .route("/reset", post(reset))
        .route("/jobber/clients", get(clients).delete(delete_clients))
        .route("/jobber/properties", get(properties).delete(delete_properties))
        .route("/jobber/quotes", get(quotes).delete(delete_quotes))
        .route("/jobber/jobs", get(jobs).post(new_job).delete(delete_jobs))
        .route("/jobber/quotes/{quote}", axum::routing::delete(delete_quote))
        .route("/jobber/quotes/{quote}/approve", post(approve_quote))
        .route("/jobber/quotes/{quote}/archive", post(archive_quote))
        .route("/jobber/throttle", get(throttle).put(set_throttle))
        .route("/oauth/grants", get(grants).post(new_grant))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/expire", post(expire))
        .route("/saberis/documents", get(documents).post(new_document).delete(delete_documents))
        .route("/saberis/sessions", get(sessions).delete(delete_sessions))
        .route("/sheets", get(sheets))
        .route("/sheets/{id}/{tab}", get(sheet_rows).put(set_sheet_rows).delete(clear_sheet_rows))
        .route("/faults", get(faults).post(set_fault).delete(clear_faults))
        .route("/counters", get(counters).delete(reset_counters))
        .route("/webhooks", get(webhooks))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance_clock))
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Store> {
    Json(shared.read(Store::clone))
}

async fn reset(State(shared): State<Arc<Shared>>, State(jobber): State<Arc<Runtime>>) -> StatusCode {
    let fresh = Store::new(&shared.config);
    shared.write(|store| *store = fresh);
    jobber.limits.reset();
    jobber.webhooks.clear();
    shared.faults.clear();
    shared.counters.reset();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AccountParam {
    account: Option<u64>,
}

fn account_of(param: &AccountParam) -> u64 {
    param.account.unwrap_or(DEFAULT_ACCOUNT_ID)
}

/// A record as JSON with its Jobber `EncodedId` next to the number.
fn with_encoded_id<T: Serialize>(kind: &str, id: u64, record: &T) -> Value {
    let mut value = serde_json::to_value(record).expect("records serialize");
    value["encoded_id"] = json!(encode(kind, id));
    value
}

async fn clients(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> Json<Vec<Value>> {
    Json(shared.read(|s| {
        s.accounts.get(&account_of(&p)).map_or_else(Vec::new, |a| {
            a.clients.values().map(|c| with_encoded_id("Client", c.id, c)).collect()
        })
    }))
}

async fn properties(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> Json<Vec<Value>> {
    Json(shared.read(|s| {
        s.accounts.get(&account_of(&p)).map_or_else(Vec::new, |a| {
            a.properties.values().map(|r| with_encoded_id("Property", r.id, r)).collect()
        })
    }))
}

/// A quote as the admin API shows it: the record, its `encoded_id` and computed amounts.
fn quote_json(q: &QuoteRecord) -> Value {
    let mut value = with_encoded_id("Quote", q.id, q);
    let amounts = QuoteAmounts::of(q);
    value["amounts"] = json!({"subtotal": amounts.subtotal, "total": amounts.total,
        "discountAmount": amounts.discount_amount, "depositAmount": amounts.deposit_amount});
    value
}

/// Quotes with their line items and computed amounts.
async fn quotes(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> Json<Vec<Value>> {
    Json(shared.read(|s| {
        s.accounts.get(&account_of(&p)).map_or_else(Vec::new, |a| a.quotes.values().map(quote_json).collect())
    }))
}

/// The quote after a person's action (200), or why not: 404 no such quote, 409 the action does
/// not apply (or the number names several quotes). The error body is `{"error": "…"}`.
fn web_reply(result: Result<QuoteRecord, WebError>) -> Response {
    match result {
        Ok(quote) => Json(quote_json(&quote)).into_response(),
        Err(WebError::NotFound(e)) => (StatusCode::NOT_FOUND, Json(json!({"error": e}))).into_response(),
        Err(WebError::Conflict(e)) => (StatusCode::CONFLICT, Json(json!({"error": e}))).into_response(),
    }
}

async fn approve_quote(
    State(shared): State<Arc<Shared>>,
    State(jobber): State<Arc<Runtime>>,
    Path(quote): Path<String>,
    Query(p): Query<AccountParam>,
) -> Response {
    web_reply(web::approve(&shared, &jobber, account_of(&p), &quote))
}

async fn archive_quote(
    State(shared): State<Arc<Shared>>,
    Path(quote): Path<String>,
    Query(p): Query<AccountParam>,
) -> Response {
    web_reply(web::archive(&shared, account_of(&p), &quote))
}

/// Answers with the deleted quote.
async fn delete_quote(
    State(shared): State<Arc<Shared>>,
    State(jobber): State<Arc<Runtime>>,
    Path(quote): Path<String>,
    Query(p): Query<AccountParam>,
) -> Response {
    web_reply(web::delete(&shared, &jobber, account_of(&p), &quote))
}

async fn delete_clients(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> StatusCode {
    shared.write(|s| {
        if let Some(a) = s.accounts.get_mut(&account_of(&p)) {
            a.clients.clear();
            a.properties.clear();
            a.quotes.clear();
            a.jobs.clear();
        }
    });
    StatusCode::NO_CONTENT
}

async fn delete_properties(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> StatusCode {
    shared.write(|s| {
        if let Some(a) = s.accounts.get_mut(&account_of(&p)) {
            a.properties.clear();
            a.quotes.clear();
            a.jobs.clear();
        }
    });
    StatusCode::NO_CONTENT
}

/// A job as the admin API shows it: the record, its `encoded_id` and its `total`.
fn job_json(job: &JobRecord) -> Value {
    let mut value = with_encoded_id("Job", job.id, job);
    value["total"] = json!(job_total(job));
    value
}

/// Jobs with their line items.
async fn jobs(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> Json<Vec<Value>> {
    Json(shared.read(|s| {
        s.accounts.get(&account_of(&p)).map_or_else(Vec::new, |a| a.jobs.values().map(job_json).collect())
    }))
}

#[derive(Deserialize)]
struct NewJob {
    client: String,
    property: Option<String>,
    title: Option<String>,
    status: Option<JobStatus>,
    #[serde(default)]
    line_items: Vec<NewJobLine>,
}

#[derive(Deserialize)]
struct NewJobLine {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "one")]
    quantity: f64,
    #[serde(default)]
    unit_price: f64,
    #[serde(default)]
    unit_cost: f64,
}

fn one() -> f64 {
    1.0
}

/// A job for a client at one of its properties, numbered in the account's job sequence: 201 with
/// the job, 404 no such client or property (of that client), 409 the client has no property.
async fn new_job(
    State(shared): State<Arc<Shared>>,
    Query(p): Query<AccountParam>,
    Json(body): Json<NewJob>,
) -> Response {
    let account_id = account_of(&p);
    let now = shared.clock.now_ms();
    let number_of =
        |reference: &str, kind: &str| EncodedId::decode(reference).and_then(|id| id.number_of(kind));
    let result = shared.write(|s| {
        let account =
            s.accounts.get(&account_id).ok_or((StatusCode::NOT_FOUND, "no such account".to_owned()))?;
        let client = number_of(&body.client, "Client")
            .filter(|n| account.clients.contains_key(n))
            .ok_or((StatusCode::NOT_FOUND, format!("no client {} in account {account_id}", body.client)))?;
        let property = match &body.property {
            Some(reference) => number_of(reference, "Property")
                .filter(|n| account.properties.get(n).is_some_and(|p| p.client_id == client))
                .ok_or((
                    StatusCode::NOT_FOUND,
                    format!("no property {reference} of client {}", body.client),
                ))?,
            None => account.properties.values().find(|p| p.client_id == client).map(|p| p.id).ok_or((
                StatusCode::CONFLICT,
                format!("client {} has no property: a job is at one", body.client),
            ))?,
        };
        let id = s.next_id();
        let line_items = body
            .line_items
            .iter()
            .enumerate()
            .map(|(i, li)| LineItemRecord {
                id: s.next_id(),
                name: li.name.clone(),
                description: li.description.clone(),
                quantity: li.quantity,
                unit_price: li.unit_price,
                unit_cost: li.unit_cost,
                taxable: true,
                sort_order: i as i32 + 1,
                created_at: now,
                updated_at: now,
                ..LineItemRecord::default()
            })
            .collect();
        let account = s.accounts.get_mut(&account_id).expect("checked");
        let job_number = account.next_job_number.max(1);
        account.next_job_number = job_number + 1;
        let job = JobRecord {
            id,
            client_id: client,
            property_id: property,
            job_number,
            title: body.title.clone(),
            status: body.status.unwrap_or_default(),
            line_items,
            created_at: now,
            updated_at: now,
        };
        account.jobs.insert(id, job.clone());
        Ok(job)
    });
    match result {
        Ok(job) => (StatusCode::CREATED, Json(job_json(&job))).into_response(),
        Err((status, error)) => (status, Json(json!({"error": error}))).into_response(),
    }
}

async fn delete_jobs(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> StatusCode {
    shared.write(|s| {
        if let Some(a) = s.accounts.get_mut(&account_of(&p)) {
            a.jobs.clear();
            a.next_job_number = 1;
        }
    });
    StatusCode::NO_CONTENT
}

async fn delete_quotes(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> StatusCode {
    shared.write(|s| {
        if let Some(a) = s.accounts.get_mut(&account_of(&p)) {
            a.quotes.clear();
            a.next_quote_number = 1;
        }
    });
    StatusCode::NO_CONTENT
}

async fn throttle(
    State(shared): State<Arc<Shared>>,
    State(jobber): State<Arc<Runtime>>,
    Query(p): Query<AccountParam>,
) -> Response {
    let status = jobber.limits.status(account_of(&p), shared.clock.now_ms());
    Json(status).into_response()
}

#[derive(Deserialize)]
struct SetThrottle {
    currently_available: u64,
}

async fn set_throttle(
    State(shared): State<Arc<Shared>>,
    State(jobber): State<Arc<Runtime>>,
    Query(p): Query<AccountParam>,
    Json(body): Json<SetThrottle>,
) -> Response {
    let now = shared.clock.now_ms();
    jobber.limits.set_available(account_of(&p), now, body.currently_available);
    Json(jobber.limits.status(account_of(&p), now)).into_response()
}

async fn grants(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.read(|s| json!(s.oauth.grants.values().collect::<Vec<_>>())))
}

/// A grant and its tokens, plus the grant's id (for `revoke`).
#[derive(Serialize)]
struct NewGrant {
    #[serde(flatten)]
    tokens: TokenResponse,
    grant_id: String,
}

async fn new_grant(State(shared): State<Arc<Shared>>, Query(p): Query<AccountParam>) -> Response {
    let tokens = oauth::issue_grant(&shared, account_of(&p));
    let grant_id =
        shared.read(|s| s.oauth.refresh_tokens.get(&tokens.refresh_token).cloned()).unwrap_or_default();
    Json(NewGrant { tokens, grant_id }).into_response()
}

#[derive(Deserialize, Default)]
struct RevokeBody {
    grant_id: Option<String>,
}

async fn revoke(State(shared): State<Arc<Shared>>, body: Option<Json<RevokeBody>>) -> Json<Value> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let revoked = shared.write(|s| oauth::revoke(s, body.grant_id.as_deref()));
    Json(json!({"revoked": revoked}))
}

async fn expire(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.write(oauth::expire_access_tokens);
    StatusCode::NO_CONTENT
}

async fn documents(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.read(|s| {
        json!(s
            .saberis
            .documents
            .iter()
            .map(|d| json!({"guid": d.guid, "source": d.source, "has_json": d.json.is_some(),
                "has_xml": d.xml.is_some(), "fetch_count": d.fetch_count}))
            .collect::<Vec<_>>())
    }))
}

#[derive(Deserialize)]
struct GuidParam {
    guid: Option<String>,
}

async fn new_document(
    State(shared): State<Arc<Shared>>,
    Query(p): Query<GuidParam>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let text = String::from_utf8_lossy(&body).into_owned();
    let form = if content_type.contains("xml")
        || text.trim_start().trim_start_matches('\u{feff}').starts_with('<')
    {
        Form::Xml
    } else {
        Form::Json
    };
    match shared.write(|s| add_document(s, p.guid.clone(), "admin", form, text)) {
        Ok(guid) => (StatusCode::CREATED, Json(json!({"guid": guid}))).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

async fn delete_documents(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.write(|s| s.saberis.documents.clear());
    StatusCode::NO_CONTENT
}

async fn sessions(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.read(|s| json!(s.saberis.sessions)))
}

async fn delete_sessions(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.write(|s| s.saberis.sessions.clear());
    StatusCode::NO_CONTENT
}

async fn sheets(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.read(|s| json!(s.sheets.spreadsheets)))
}

async fn sheet_rows(State(shared): State<Arc<Shared>>, Path((id, tab)): Path<(String, String)>) -> Response {
    match shared.read(|s| s.sheets.spreadsheets.get(&id).and_then(|x| x.sheets.get(&tab)).cloned()) {
        Some(rows) => Json(rows).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn set_sheet_rows(
    State(shared): State<Arc<Shared>>,
    Path((id, tab)): Path<(String, String)>,
    Json(rows): Json<Vec<Vec<String>>>,
) -> StatusCode {
    shared.write(|s| s.sheets.spreadsheets.entry(id).or_default().set_tab(&tab, rows));
    StatusCode::NO_CONTENT
}

async fn clear_sheet_rows(
    State(shared): State<Arc<Shared>>,
    Path((id, tab)): Path<(String, String)>,
) -> StatusCode {
    shared.write(|s| {
        if let Some(rows) = s.sheets.spreadsheets.get_mut(&id).and_then(|x| x.sheets.get_mut(&tab)) {
            rows.clear();
        }
    });
    StatusCode::NO_CONTENT
}

async fn faults(State(shared): State<Arc<Shared>>) -> Json<Vec<FaultSpec>> {
    Json(shared.faults.list())
}

async fn set_fault(State(shared): State<Arc<Shared>>, Json(spec): Json<FaultSpec>) -> Response {
    if let Some(status) = spec.status {
        if StatusCode::from_u16(status).is_err() {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "status must be an HTTP status"})))
                .into_response();
        }
    }
    if spec.route.is_empty() {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "route is required (a route pattern or *)"})))
            .into_response();
    }
    shared.faults.set(spec);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.counters.snapshot()).into_response()
}

async fn reset_counters(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.counters.reset();
    StatusCode::NO_CONTENT
}

async fn webhooks(State(jobber): State<Arc<Runtime>>) -> Response {
    Json(jobber.webhooks.deliveries()).into_response()
}

async fn clock(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"now_ms": shared.clock.now_ms()}))
}

#[derive(Deserialize)]
struct Advance {
    ms: u64,
}

async fn advance_clock(State(shared): State<Arc<Shared>>, Json(body): Json<Advance>) -> Json<Value> {
    shared.clock.advance(std::time::Duration::from_millis(body.ms));
    Json(json!({"now_ms": shared.clock.now_ms()}))
}
