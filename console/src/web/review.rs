//! The review pages: the list of documents held for review (`GET /review`), one document
//! (`GET /review/{id}`: customer, a card per catalog with its figures and its multiplier and
//! margin, the offending lines, the target), and the decisions (`POST /review/{id}/approve`, after
//! a confirmation naming what is written where, and `/reject`), for reviewers and admins.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use rust_decimal::Decimal;
use sj_shared::address::Address;
use sj_shared::config::UnpricedCatalog;
use sj_shared::mapping::Catalogs;
use sj_shared::message::{CatalogDecision, Decision, LineDecision, QuoteRequest, Target};
use sj_shared::pricing::{self, CatalogRow, CatalogTable};
use sj_shared::store::{Crosswalk, Keys, Outcome, QuoteRecord};

use super::auth::{Reviewer, Signed, Viewer};
use super::pages::{render, Chrome};
use super::{format_time, internal, Shared};
use crate::review::store::{self, DecideError, Review, Status};

/// How long a page waits for Redis (the catalog table, the crosswalk).
const REDIS_WAIT: Duration = Duration::from_secs(3);

/// The catalog table and the crosswalk, made once from the settings.
struct Services {
    catalogs: Catalogs,
    crosswalk: Crosswalk,
}

fn services(app: &Shared) -> Result<&'static Services, String> {
    static SERVICES: OnceLock<Result<Services, String>> = OnceLock::new();
    SERVICES
        .get_or_init(|| {
            let pool = sj_shared::store::pool(&app.settings.redis).map_err(|e| e.to_string())?;
            let keys = Keys::new(&app.settings.namespace);
            let catalogs = Catalogs::new(&app.settings.mapping, pool.clone(), keys.clone())
                .map_err(|e| e.to_string())?;
            Ok(Services { catalogs, crosswalk: Crosswalk::new(pool, keys) })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn money(value: Decimal) -> String {
    let mut v = value.round_dp(2);
    v.rescale(2);
    v.to_string()
}

fn address_text(a: &Address) -> String {
    [&a.street1, &a.street2, &a.city, &a.province, &a.postal_code]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

// The list.

#[derive(Template)]
#[template(path = "review_list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<ListRow>,
    waiting: i64,
}

struct ListRow {
    id: i64,
    held: String,
    source: String,
    customer: String,
    total: String,
    reasons: String,
    status: &'static str,
    decided_by: String,
}

pub async fn list(State(app): State<Shared>, Signed(current): Viewer) -> Response {
    let (rows, waiting) = match (store::list(&app.db, 200), store::waiting_count(&app.db)) {
        (Ok(rows), Ok(waiting)) => (rows, waiting),
        (Err(e), _) | (_, Err(e)) => return internal(&e),
    };
    let rows = rows
        .into_iter()
        .map(|r| ListRow {
            id: r.id,
            held: format_time(r.held_at),
            source: r.source,
            customer: r.customer,
            total: r.total,
            reasons: r.reasons,
            status: r.status.as_str(),
            decided_by: r.decided_by.unwrap_or_default(),
        })
        .collect();
    render(&ListPage { chrome: Chrome::of(&app, &current).await, rows, waiting })
}

// One document.

/// The catalogs of a document, in order of first appearance (sections with product lines).
fn catalog_names(request: &QuoteRequest) -> Vec<Option<String>> {
    let mut names: Vec<Option<String>> = Vec::new();
    for section in request.sections.iter().filter(|s| !s.lines.is_empty()) {
        let name = section.catalog.clone().filter(|c| !c.trim().is_empty());
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The catalog table with the decision's numbers on top (the last row of a name wins).
fn with_decision(mut table: CatalogTable, request: &QuoteRequest) -> CatalogTable {
    let Some(decision) = &request.decision else { return table };
    for c in &decision.catalogs {
        if let (Some(catalog), Some(multiplier), Some(margin)) = (&c.catalog, c.multiplier, c.margin) {
            table.rows.push(CatalogRow {
                catalog: catalog.clone(),
                multiplier: multiplier.normalize().to_string(),
                margin: margin.normalize().to_string(),
                updated_by: decision.approved_by.clone(),
                ..CatalogRow::default()
            });
        }
    }
    table
}

/// One catalog's card.
struct Card {
    index: usize,
    label: String,
    rule: String,
    lines: usize,
    msrp: String,
    cogs: String,
    markup: String,
    customer: String,
    multiplier: String,
    margin: String,
    warnings: Vec<String>,
    leave_out: bool,
    save: bool,
    /// No rule prices it and `pricing.unpriced_catalog = "park"`: numbers (or left out) needed.
    needs_numbers: bool,
}

/// The document priced now: the catalog table as it stands (Redis), the reviewer's numbers on
/// top, catalogs without a rule at the default markup; or the figures the worker sent, when the
/// table cannot be read.
struct Figures {
    cards: Vec<Card>,
    msrp: String,
    cogs: String,
    total: String,
    note: String,
}

async fn figures(app: &Shared, review: &Review, decided: Option<&QuoteRequest>) -> Figures {
    let original = &review.item.request;
    let request = decided.map(QuoteRequest::as_decided).unwrap_or_else(|| original.clone());
    let decision = decided.and_then(|d| d.decision.clone());
    let names = catalog_names(original);
    let table = match services(app) {
        Ok(services) => match tokio::time::timeout(REDIS_WAIT, services.catalogs.table()).await {
            Ok(Ok(table)) => Ok(table),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("Redis did not answer".to_owned()),
        },
        Err(e) => Err(e),
    };
    let stored_card = |i: usize, name: &Option<String>| {
        let c = review.item.catalogs.iter().find(|c| &c.catalog == name);
        Card {
            index: i,
            label: name.clone().unwrap_or_else(|| "Other items".to_owned()),
            rule: c.map(|c| c.rule.clone()).unwrap_or_default(),
            lines: c.map(|c| c.lines).unwrap_or_default(),
            msrp: c.map(|c| money(c.msrp)).unwrap_or_default(),
            cogs: c.map(|c| money(c.cogs)).unwrap_or_default(),
            markup: c.map(|c| money(c.customer - c.cogs)).unwrap_or_default(),
            customer: c.map(|c| money(c.customer)).unwrap_or_default(),
            multiplier: c.and_then(|c| c.multiplier).map(|m| m.normalize().to_string()).unwrap_or_default(),
            margin: c
                .and_then(|c| c.margin)
                .map(|m| (m * Decimal::ONE_HUNDRED).normalize().to_string())
                .unwrap_or_default(),
            warnings: Vec::new(),
            leave_out: false,
            save: false,
            needs_numbers: c.is_some_and(|c| c.unpriced)
                && app.settings.pricing.unpriced_catalog == UnpricedCatalog::Park,
        }
    };
    let table = match table {
        Ok(table) => with_decision(table, &request),
        Err(e) => {
            let cards = names.iter().enumerate().map(|(i, n)| stored_card(i, n)).collect();
            return Figures {
                cards,
                msrp: money(review.item.msrp),
                cogs: money(review.item.cogs),
                total: money(review.item.total),
                note: format!("The catalog table cannot be read now ({e}): the figures are those of when the document was held."),
            };
        }
    };
    let mut lenient = app.settings.pricing.clone();
    lenient.unpriced_catalog = UnpricedCatalog::Default;
    let strict = pricing::price(&app.settings.pricing, &table, &request).err();
    let priced = match pricing::price(&lenient, &table, &request) {
        Ok(priced) => priced,
        Err(e) => {
            return Figures {
                cards: Vec::new(),
                msrp: String::new(),
                cogs: String::new(),
                total: String::new(),
                note: format!("Cannot price: {}", e.describe()),
            }
        }
    };
    let cards = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let chosen = decision.as_ref().and_then(|d| d.catalogs.iter().find(|c| &c.catalog == name));
            let leave_out = chosen.is_some_and(|c| c.leave_out);
            let Some(c) = priced.catalogs.iter().find(|c| &c.catalog == name) else {
                let mut card = stored_card(i, name);
                card.leave_out = leave_out;
                card.rule = if leave_out { "left out".to_owned() } else { card.rule };
                return card;
            };
            let (multiplier, margin) = match &c.rule {
                pricing::AppliedRule::Table {
                    rule: pricing::CatalogRule::MultiplierMargin { multiplier, margin },
                    ..
                } => (
                    multiplier.normalize().to_string(),
                    (margin * Decimal::ONE_HUNDRED).normalize().to_string(),
                ),
                _ => (String::new(), String::new()),
            };
            let unpriced = name.as_ref().is_some_and(|n| {
                strict.as_ref().is_some_and(|u| u.catalogs.iter().any(|w| &w.catalog == n))
                    || priced.defaulted.contains(n)
            });
            let needs_numbers = unpriced && app.settings.pricing.unpriced_catalog == UnpricedCatalog::Park;
            let mut warnings = Vec::new();
            if needs_numbers {
                warnings.push(
                    "No multiplier and margin in the catalog table: fill them in (or leave the catalog out) \
                     before approving; shown at the default markup."
                        .to_owned(),
                );
            } else if unpriced {
                warnings.push(format!(
                    "No row in the catalog table: priced at the default markup ({} %) unless you give a \
                     multiplier and margin.",
                    app.settings.pricing.markup_percent
                ));
            }
            if c.customer > c.msrp {
                warnings.push(format!(
                    "The customer price {} is above MSRP {}.",
                    money(c.customer),
                    money(c.msrp)
                ));
            }
            if c.customer < c.cogs {
                warnings.push(format!(
                    "The customer price {} is below cost {}.",
                    money(c.customer),
                    money(c.cogs)
                ));
            }
            let markup_pct = if c.cogs.is_zero() {
                String::new()
            } else {
                format!(
                    " ({}%)",
                    ((c.customer - c.cogs) / c.cogs * Decimal::ONE_HUNDRED).round_dp(1).normalize()
                )
            };
            Card {
                index: i,
                label: c.label(),
                rule: if unpriced { "no price in the catalog table".to_owned() } else { c.rule.describe() },
                lines: c.lines,
                msrp: money(c.msrp),
                cogs: money(c.cogs),
                markup: format!("{}{markup_pct}", money(c.customer - c.cogs)),
                customer: money(c.customer),
                multiplier,
                margin,
                warnings,
                leave_out,
                save: chosen.is_some_and(|c| c.saved),
                needs_numbers,
            }
        })
        .collect();
    Figures {
        cards,
        msrp: money(priced.msrp),
        cogs: money(priced.cogs),
        total: money(priced.total),
        note: String::new(),
    }
}

/// A line the sanity rules refuse, with its inputs.
struct ProblemRow {
    key: String,
    catalog: String,
    code: String,
    description: String,
    quantity: String,
    list: String,
    selling: String,
    cost: String,
    reason: String,
    editable: bool,
}

fn problem_rows(review: &Review) -> Vec<ProblemRow> {
    let request = &review.item.request;
    review
        .item
        .problems
        .iter()
        .map(|p| {
            let line = p.section.zip(p.line).and_then(|(s, l)| {
                let section = request.sections.get(s)?;
                Some((s, l, section, section.lines.get(l)?))
            });
            match line {
                Some((s, l, section, line)) => ProblemRow {
                    key: format!("{s}_{l}"),
                    catalog: section.catalog.clone().unwrap_or_default(),
                    code: line.code.clone(),
                    description: line.description.clone(),
                    quantity: line.quantity.normalize().to_string(),
                    list: line.unit_list.to_string(),
                    selling: line.unit_selling.to_string(),
                    cost: line.unit_cost.to_string(),
                    reason: format!("{}: {}", p.kind, p.reason),
                    editable: true,
                },
                None => ProblemRow {
                    key: String::new(),
                    catalog: String::new(),
                    code: String::new(),
                    description: String::new(),
                    quantity: String::new(),
                    list: String::new(),
                    selling: String::new(),
                    cost: String::new(),
                    reason: format!("{}: {}", p.kind, p.reason),
                    editable: false,
                },
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    id: i64,
    source: String,
    customer: String,
    billing: String,
    site: String,
    designer: String,
    date: String,
    po: String,
    held: String,
    reasons: Vec<String>,
    problems: Vec<ProblemRow>,
    figures: Figures,
    client: String,
    target: String,
    quote_number: String,
    job_number: String,
    note: String,
    waiting: bool,
    may_decide: bool,
    status: &'static str,
    decided: String,
    changes: String,
    reject_reason: String,
    result: String,
    link: String,
    error: String,
}

async fn page(app: &Shared, current: &super::auth::Current, review: &Review, error: String) -> ReviewPage {
    let request = &review.item.request;
    let (target, quote_number, job_number) = match review.item.target {
        Target::NewQuote => ("new-quote", String::new(), String::new()),
        Target::Quote(n) => ("quote", n.to_string(), String::new()),
        Target::Job(n) => ("job", String::new(), n.to_string()),
    };
    let decided = match (&review.decided_by, review.decided_at) {
        (Some(by), Some(at)) => format!("{} by {by} on {}", review.status.as_str(), format_time(at)),
        _ => String::new(),
    };
    let (result, link) =
        if review.status == Status::Approved { result(app, review).await } else { Default::default() };
    ReviewPage {
        chrome: Chrome::of(app, current).await,
        id: review.id,
        source: request.source.id.clone(),
        customer: request.customer.name.clone().unwrap_or_else(|| "(no name)".to_owned()),
        billing: address_text(&request.customer.address),
        site: address_text(&request.shipping),
        designer: request
            .document
            .username
            .clone()
            .or_else(|| request.document.salesperson.clone())
            .unwrap_or_default(),
        date: request.document.date.clone().unwrap_or_default(),
        po: request.customer.po_number.clone().unwrap_or_default(),
        held: format_time(review.held_at),
        reasons: review.item.reasons.iter().map(|r| format!("{}: {}", r.rule, r.detail)).collect(),
        problems: problem_rows(review),
        figures: figures(app, review, None).await,
        client: review.item.client.clone().unwrap_or_default(),
        target: target.to_owned(),
        quote_number,
        job_number,
        note: String::new(),
        waiting: review.status == Status::Waiting,
        may_decide: current.user.role >= crate::db::Role::Reviewer,
        status: review.status.as_str(),
        decided,
        changes: review.changes.clone().unwrap_or_default(),
        reject_reason: review.reject_reason.clone().unwrap_or_default(),
        result,
        link,
        error,
    }
}

/// What became of an approved document: its quote or job (the crosswalk), with its link.
async fn result(app: &Shared, review: &Review) -> (String, String) {
    let sent = store::sent_at(&app.db, review.id).ok().flatten();
    let record = match services(app) {
        Ok(s) => tokio::time::timeout(REDIS_WAIT, s.crosswalk.get(&review.item.request.content_hash))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten(),
        Err(_) => None,
    };
    match (record, sent) {
        (Some(record), _) => (format!("Written to Jobber: {}", record.target()), jobber_link(&record)),
        (None, Some(at)) => (
            format!("Handed to the bridge at {}; not in Jobber yet (reload in a moment).", format_time(at)),
            String::new(),
        ),
        (None, None) => (
            "Approved; being handed to the bridge (the broker is not reachable yet).".to_owned(),
            String::new(),
        ),
    }
}

/// `https://secure.getjobber.com/quotes/41` from the quote's global id (`gid://Jobber/Quote/41`).
fn jobber_link(record: &QuoteRecord) -> String {
    use base64::Engine as _;
    let (id, path) = match &record.job {
        Some(job) => (job.id.to_string(), "work_orders"),
        None => (record.quote_id.to_string(), "quotes"),
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(id.as_bytes()).ok();
    let number = decoded
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|gid| gid.rsplit('/').next().map(str::to_owned))
        .filter(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty());
    number.map(|n| format!("https://secure.getjobber.com/{path}/{n}")).unwrap_or_default()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "There is no such review.").into_response()
}

pub async fn show(State(app): State<Shared>, Signed(current): Viewer, Path(id): Path<i64>) -> Response {
    let review = match store::get(&app.db, id) {
        Ok(Some(review)) => review,
        Ok(None) => return not_found(),
        Err(e) => return internal(&e),
    };
    render(&page(&app, &current, &review, String::new()).await)
}

// Deciding.

type Fields = HashMap<String, String>;

fn field<'f>(fields: &'f Fields, name: &str) -> &'f str {
    fields.get(name).map(|v| v.trim()).unwrap_or_default()
}

fn decimal(fields: &Fields, name: &str, what: &str) -> Result<Option<Decimal>, String> {
    let text = field(fields, name).replace([',', ' ', '%', '$'], "");
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| format!("{what}: {:?} is not a number", field(fields, name)))
}

/// The decision a form describes, and its changes in words. Checked: both numbers or neither,
/// a margin below 100 %, a catalog without a price given numbers or left out, a target number.
fn decision_of(
    review: &Review,
    by: &str,
    fields: &Fields,
    unpriced: &[bool],
) -> Result<(Decision, String), String> {
    let request = &review.item.request;
    let mut changes = Vec::new();
    let target = match field(fields, "target") {
        "quote" => Target::Quote(
            field(fields, "quote_number")
                .trim_start_matches('#')
                .parse()
                .map_err(|_| "Give the number of the quote.".to_owned())?,
        ),
        "job" => Target::Job(
            field(fields, "job_number")
                .trim_start_matches('#')
                .parse()
                .map_err(|_| "Give the number of the job.".to_owned())?,
        ),
        _ => Target::NewQuote,
    };
    if target != review.item.target {
        changes.push(format!("target changed to {}", target.describe()));
    }
    let mut catalogs = Vec::new();
    for (i, name) in catalog_names(request).into_iter().enumerate() {
        let label = name.clone().unwrap_or_else(|| "Other items".to_owned());
        let leave_out = !field(fields, &format!("cat{i}_leave")).is_empty();
        let multiplier = decimal(fields, &format!("cat{i}_multiplier"), &format!("{label}: multiplier"))?;
        let margin = decimal(fields, &format!("cat{i}_margin"), &format!("{label}: margin"))?;
        let save = !field(fields, &format!("cat{i}_save")).is_empty();
        if leave_out {
            changes.push(format!("{label} left out"));
            catalogs.push(CatalogDecision {
                catalog: name,
                leave_out,
                multiplier: None,
                margin: None,
                saved: false,
            });
            continue;
        }
        let stored = review.item.catalogs.iter().find(|c| c.catalog == name);
        let (multiplier, margin) = match (multiplier, margin) {
            (None, None) => (None, None),
            (Some(m), Some(g)) => {
                if m <= Decimal::ZERO {
                    return Err(format!("{label}: the multiplier must be above zero."));
                }
                if g < Decimal::ZERO || g >= Decimal::ONE_HUNDRED {
                    return Err(format!("{label}: the margin is a percent from 0 to below 100."));
                }
                (Some(m), Some(g / Decimal::ONE_HUNDRED))
            }
            _ => return Err(format!("{label}: give both the multiplier and the margin, or neither.")),
        };
        if unpriced.get(i).copied().unwrap_or(false) && multiplier.is_none() {
            return Err(format!(
                "{label} has no price in the catalog table: give its multiplier and margin, or leave it out."
            ));
        }
        let same = stored.is_some_and(|s| s.multiplier == multiplier && s.margin == margin);
        if multiplier.is_some() && (!same || save) && name.is_some() {
            let (m, g) = (multiplier.unwrap_or_default(), margin.unwrap_or_default());
            changes.push(format!(
                "{label}: ×{}, margin {}% ({})",
                m.normalize(),
                (g * Decimal::ONE_HUNDRED).normalize(),
                if save { "saved to the catalog table" } else { "this document only" }
            ));
            catalogs.push(CatalogDecision {
                catalog: name,
                leave_out: false,
                multiplier,
                margin,
                saved: save,
            });
        }
    }
    let mut lines = Vec::new();
    for problem in &review.item.problems {
        let (Some(s), Some(l)) = (problem.section, problem.line) else { continue };
        let Some(line) = request.sections.get(s).and_then(|x| x.lines.get(l)) else { continue };
        let key = format!("line{s}_{l}");
        let leave_out = !field(fields, &format!("{key}_leave")).is_empty();
        let list = decimal(fields, &format!("{key}_list"), &format!("{}: list price", line.code))?;
        let selling = decimal(fields, &format!("{key}_selling"), &format!("{}: selling price", line.code))?;
        let list = list.filter(|v| *v != line.unit_list);
        let selling = selling.filter(|v| *v != line.unit_selling);
        if leave_out {
            changes.push(format!("line {} left out", line.code));
        }
        if let Some(v) = list {
            changes.push(format!("line {} list price {} → {v}", line.code, line.unit_list));
        }
        if let Some(v) = selling {
            changes.push(format!("line {} selling price {} → {v}", line.code, line.unit_selling));
        }
        if leave_out || list.is_some() || selling.is_some() {
            lines.push(LineDecision {
                section: s,
                line: l,
                leave_out,
                unit_list: list,
                unit_selling: selling,
                unit_cost: None,
            });
        }
    }
    let note = Some(field(fields, "note").to_owned()).filter(|n| !n.is_empty());
    let mut words = if changes.is_empty() { "no changes".to_owned() } else { changes.join("; ") };
    words.push_str(&format!("; to {}", target.describe()));
    let decision = Decision {
        review: review.id,
        approved_by: by.to_owned(),
        at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        target,
        catalogs,
        lines,
        note,
    };
    Ok((decision, words))
}

#[derive(Template)]
#[template(path = "review_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    id: i64,
    source: String,
    customer: String,
    target: String,
    changes: String,
    figures: Figures,
    fields: Vec<(String, String)>,
}

fn load_waiting(app: &Shared, id: i64) -> Result<Review, Box<Response>> {
    match store::get(&app.db, id) {
        Ok(Some(review)) => Ok(review),
        Ok(None) => Err(Box::new(not_found())),
        Err(e) => Err(Box::new(internal(&e))),
    }
}

pub async fn approve(
    State(app): State<Shared>,
    Signed(current): Reviewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let review = match load_waiting(&app, id) {
        Ok(review) => review,
        Err(response) => return *response,
    };
    let user = current.user.name.clone();
    if review.status != Status::Waiting {
        let page = page(&app, &current, &review, "This document was decided already.".to_owned()).await;
        return (StatusCode::CONFLICT, render(&page)).into_response();
    }
    let fields: Fields = form.iter().cloned().collect();
    let shown = figures(&app, &review, None).await;
    let unpriced: Vec<bool> = catalog_names(&review.item.request)
        .iter()
        .enumerate()
        .map(|(i, _)| shown.cards.iter().any(|c| c.index == i && c.needs_numbers))
        .collect();
    let (decision, changes) = match decision_of(&review, &user, &fields, &unpriced) {
        Ok(found) => found,
        Err(error) => {
            let page = page(&app, &current, &review, error).await;
            return (StatusCode::BAD_REQUEST, render(&page)).into_response();
        }
    };
    let mut approved = review.item.request.clone();
    approved.decision = Some(decision.clone());
    if field(&fields, "confirmed") != "yes" {
        // The confirmation: what will be written where, with the totals as decided.
        let figures = figures(&app, &review, Some(&approved)).await;
        let target = match decision.target {
            Target::NewQuote => match &review.item.client {
                Some(client) => format!("a new quote for Jobber client {client} (from the mapping table)"),
                None => "a new quote for the client the bridge finds in Jobber, or creates".to_owned(),
            },
            other => format!("the lines added to the existing {}", other.describe()),
        };
        let fields = form.into_iter().filter(|(k, _)| k != "csrf" && k != "confirmed").collect();
        let page = ConfirmPage {
            chrome: Chrome::of(&app, &current).await,
            id,
            source: review.item.request.source.id.clone(),
            customer: review.item.request.customer.name.clone().unwrap_or_default(),
            target,
            changes: changes.clone(),
            figures,
            fields,
        };
        return render(&page);
    }
    let decision_json = serde_json::to_string(&decision).expect("a decision serializes");
    let body = serde_json::to_string(&approved).expect("a message serializes");
    match store::approve(&app.db, id, &user, &decision_json, &changes, &body) {
        Ok(()) => {}
        Err(DecideError::NotWaiting) => {
            let page = page(&app, &current, &review, "This document was decided already.".to_owned()).await;
            return (StatusCode::CONFLICT, render(&page)).into_response();
        }
        Err(DecideError::Db(e)) => return internal(&e),
    }
    crate::review::outbox_ready().notify_one();
    tracing::info!(review = id, by = %user, changes = %changes, "approved");
    let source = &review.item.request.source.id;
    app.history
        .record(
            Outcome::Approved,
            source,
            None,
            Some(("review.approved", &format!("approved by {user}: {changes}"))),
        )
        .await;
    // Numbers to keep for the next orders: appended to the catalog table.
    let rows: Vec<CatalogRow> = decision
        .catalogs
        .iter()
        .filter(|c| c.saved)
        .filter_map(|c| {
            Some(CatalogRow {
                catalog: c.catalog.clone()?,
                brand: review
                    .item
                    .catalogs
                    .iter()
                    .find(|s| s.catalog == c.catalog)
                    .and_then(|s| s.brand.clone())
                    .unwrap_or_default(),
                multiplier: c.multiplier?.normalize().to_string(),
                margin: format!("{}%", (c.margin? * Decimal::ONE_HUNDRED).normalize()),
                updated_by: user.clone(),
                updated_at: decision.at.clone(),
                ..CatalogRow::default()
            })
        })
        .collect();
    if !rows.is_empty() {
        let saved = match services(&app) {
            Ok(s) => s.catalogs.append(&rows).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Err(e) = saved {
            tracing::warn!(review = id, error = %e, "could not save the numbers to the catalog table");
            let _ = app.db.audit(&user, "review.catalogs-not-saved", &format!("review {id}: {e}"));
        }
    }
    Redirect::to(&format!("/review/{id}")).into_response()
}

pub async fn reject(
    State(app): State<Shared>,
    Signed(current): Reviewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let review = match load_waiting(&app, id) {
        Ok(review) => review,
        Err(response) => return *response,
    };
    let fields: Fields = form.into_iter().collect();
    let reason = field(&fields, "reason").to_owned();
    if reason.is_empty() {
        let page = page(&app, &current, &review, "Say why it is rejected.".to_owned()).await;
        return (StatusCode::BAD_REQUEST, render(&page)).into_response();
    }
    let user = current.user.name.clone();
    match store::reject(&app.db, id, &user, &reason) {
        Ok(()) => {}
        Err(DecideError::NotWaiting) => {
            let page = page(&app, &current, &review, "This document was decided already.".to_owned()).await;
            return (StatusCode::CONFLICT, render(&page)).into_response();
        }
        Err(DecideError::Db(e)) => return internal(&e),
    }
    tracing::info!(review = id, by = %user, %reason, "rejected");
    app.history
        .record(
            Outcome::Rejected,
            &review.item.request.source.id,
            None,
            Some(("review.rejected", &format!("rejected by {user}: {reason}"))),
        )
        .await;
    Redirect::to(&format!("/review/{id}")).into_response()
}
