//! The review gate (`review.when`): whether a document waits for a person's approval in the
//! console before anything is written to Jobber, and what the reviewer is shown (its reasons,
//! each catalog's figures by the dealer's rules as they stand, the client the mapping table
//! names, where it would go).
//!
//! The writer asks [`Gate::reasons`] before its first Jobber write (after the crosswalk: a
//! document already written is not held again); a document with reasons becomes a
//! [`ReviewItem`], which [`hold`] publishes to `sj.review` (confirmed) before the delivery is
//! acked. An approved document comes back on `sj.quotes` with the reviewer's decision and skips
//! the gate: the writer applies the decision instead (its edits, its catalog numbers, its target).

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use sj_shared::amqp::Publisher;
use sj_shared::config::{ReviewRule, ReviewSettings};
use sj_shared::mapping::{address_key, CustomerKey, Mapping};
use sj_shared::message::{QuoteRequest, ReviewCatalog, ReviewItem, ReviewReason, Target};
use sj_shared::pricing::{AppliedRule, CatalogRule, CatalogWithoutRule, PricedDocument};
use sj_shared::store::{History, Outcome};

use crate::failure::Failure;

/// `review.when`, read once.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    rules: Vec<ReviewRule>,
}

impl Gate {
    pub fn new(settings: &ReviewSettings) -> Gate {
        // `sanity` is the poller's: a document that reaches a worker passed the sanity rules.
        Gate { rules: settings.rules().into_iter().filter(|r| *r != ReviewRule::Sanity).collect() }
    }

    /// Whether any document may be held (else nothing is asked).
    pub fn active(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Why the document waits for review (empty: written at once). `priced` holds the figures
    /// (unpriced catalogs priced by the default markup), `unpriced` the catalogs without a
    /// usable rule, `target` where the bridge would write it.
    pub async fn reasons(
        &self,
        request: &QuoteRequest,
        priced: &PricedDocument<'_>,
        unpriced: &[CatalogWithoutRule],
        target: Target,
        mapping: &Mapping,
    ) -> Result<(Vec<ReviewReason>, Option<String>), Failure> {
        let mut reasons = Vec::new();
        let reason = |rule: &ReviewRule, detail: String| ReviewReason { rule: rule.name(), detail };
        let mut client = None;
        for rule in &self.rules {
            match rule {
                ReviewRule::Always => {
                    reasons.push(reason(rule, "every document is reviewed (review.when = always)".to_owned()))
                }
                ReviewRule::UnpricedCatalog if !unpriced.is_empty() => {
                    let names: Vec<String> =
                        unpriced.iter().map(|c| format!("{} ({})", c.catalog, c.why)).collect();
                    reasons
                        .push(reason(rule, format!("no price in the catalog table for {}", names.join("; "))))
                }
                ReviewRule::TotalAbove(limit) if priced.total > *limit => reasons
                    .push(reason(rule, format!("the customer total {} is above {limit}", priced.total))),
                ReviewRule::PoTarget if target != Target::NewQuote => reasons.push(reason(
                    rule,
                    format!(
                        "the PO {:?} names {}",
                        request.customer.po_number.as_deref().unwrap_or_default(),
                        target.describe()
                    ),
                )),
                ReviewRule::NewCustomer if target == Target::NewQuote => {
                    client = mapped_client(request, mapping).await?;
                    if client.is_none() {
                        let who = request.customer.name.as_deref().unwrap_or("the customer");
                        reasons.push(reason(rule, format!("no mapping row for {who} yet: a new customer")))
                    }
                }
                _ => {}
            }
        }
        if client.is_none() && !reasons.is_empty() && target == Target::NewQuote {
            client = mapped_client(request, mapping).await?;
        }
        Ok((reasons, client))
    }
}

/// The Jobber client the mapping table names for the document's customer (by key, then by the
/// site's address), without creating or searching anything.
async fn mapped_client(request: &QuoteRequest, mapping: &Mapping) -> Result<Option<String>, Failure> {
    if let Some(key) = CustomerKey::of(&request.customer, &request.shipping) {
        if let Some(row) = mapping.lookup(&key).await? {
            return Ok(Some(row.client_id.to_string()));
        }
    }
    let site = if request.shipping.is_empty() { &request.customer.address } else { &request.shipping };
    match address_key(site) {
        Some(site) => Ok(mapping.lookup_address(&site).await?.map(|row| row.client_id.to_string())),
        None => Ok(None),
    }
}

/// What the reviewer is shown.
pub fn item(
    priced: &PricedDocument<'_>,
    unpriced: &[CatalogWithoutRule],
    reasons: Vec<ReviewReason>,
    target: Target,
    client: Option<String>,
) -> ReviewItem {
    let catalogs = priced
        .catalogs
        .iter()
        .map(|c| {
            let without = unpriced.iter().find(|u| Some(&u.catalog) == c.catalog.as_ref());
            let (multiplier, margin) = match &c.rule {
                AppliedRule::Table { rule: CatalogRule::MultiplierMargin { multiplier, margin }, .. } => {
                    (Some(*multiplier), Some(*margin))
                }
                _ => (None, None),
            };
            ReviewCatalog {
                catalog: c.catalog.clone(),
                brand: c.brand.clone(),
                rule: match without {
                    Some(u) => format!("no price: {} (shown at the default markup)", u.why),
                    None => c.rule.describe(),
                },
                multiplier,
                margin,
                unpriced: without.is_some(),
                lines: c.lines,
                msrp: c.msrp,
                cogs: c.cogs,
                customer: c.customer,
            }
        })
        .collect();
    ReviewItem {
        schema: ReviewItem::SCHEMA.to_owned(),
        request: priced.request.clone(),
        reasons,
        catalogs,
        msrp: priced.msrp,
        cogs: priced.cogs,
        total: priced.total,
        problems: Vec::new(),
        client,
        target,
        held_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    }
}

/// A held document goes to `sj.review`; the delivery is acked once the broker confirmed it
/// (else given back to the queue: a redelivery, never a loss). False when the publish failed.
pub async fn hold(delivery: &Delivery, item: &ReviewItem, publisher: &Publisher, history: &History) -> bool {
    let source = &item.request.source.id;
    let published = match publisher.publish_review(item).await {
        Ok(pending) => pending.confirmed().await,
        Err(e) => Err(e),
    };
    match published {
        Ok(()) => {
            let reasons: Vec<&str> = item.reasons.iter().map(|r| r.rule.as_str()).collect();
            let detail = item.reasons.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>().join("; ");
            tracing::info!(%source, reasons = %reasons.join(", "), total = %item.total,
                "held for review: nothing written until it is approved in the console");
            history.record(Outcome::ForReview, source, None, Some(("review.held", &detail))).await;
            if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                tracing::warn!(error = %e, "ack failed; the message will be redelivered (and held once more)");
            }
            true
        }
        Err(e) => {
            tracing::error!(%source, error = %e, "could not publish the document for review; requeueing it");
            let _ =
                delivery.acker.nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() }).await;
            false
        }
    }
}

/// The catalog table with the reviewer's numbers for this document on top (a row per catalog
/// with a multiplier and margin, which wins over the table's: the last row of a name does).
pub fn with_decision(
    mut table: sj_shared::pricing::CatalogTable,
    request: &QuoteRequest,
) -> sj_shared::pricing::CatalogTable {
    let Some(decision) = &request.decision else { return table };
    for c in &decision.catalogs {
        let (Some(catalog), Some(multiplier), Some(margin)) = (&c.catalog, c.multiplier, c.margin) else {
            continue;
        };
        table.rows.push(sj_shared::pricing::CatalogRow {
            row_number: 0,
            catalog: catalog.clone(),
            brand: String::new(),
            multiplier: multiplier.normalize().to_string(),
            margin: margin.normalize().to_string(),
            markup: String::new(),
            updated_by: decision.approved_by.clone(),
            updated_at: decision.at.clone(),
        });
    }
    table
}
