//! Writing one document to Jobber exactly once.
//!
//! 1. The crosswalk (Redis) says the document was written: done.
//! 2. Take the document's intent lease (Redis): no two workers write the same document at once
//!    (the poller may publish a document twice; a redelivery may overlap a slow first attempt).
//! 3. Resolve the client and property ([`Resolver`]: mapping table, Jobber search, policy; under a
//!    per-customer lock, so one client per customer).
//! 4. When an earlier attempt may have reached Jobber ([`LookUp`]: a redelivery, a retry, a
//!    replay, an attempt record, or a Redis too young to vouch), look the document's marker up
//!    among the client's quotes in Jobber: a quote from an earlier attempt that crashed after
//!    writing (or whose answer was lost) is found, not doubled. Otherwise no look-up: a known
//!    customer's document then costs one request, the `quoteCreate`.
//! 5. Record the attempt (Redis), create the quote, marker included, in one mutation; record the
//!    crosswalk.
//!
//! PO routing to a job: when the PO number names an existing job (`quote.po_job_pattern`, checked
//! first), the lines go to that job instead ([`job`]).
//!
//! PO routing: when the PO number names an existing quote (`quote.po_quote_pattern`), steps 3–5
//! become: look the marker up among that quote's lines, else add the document's lines to it in
//! one mutation, each line's description ending with the marker.
//!
//! Jobber is the truth; Redis only coordinates and remembers.

pub mod job;

use std::time::Duration;

use regex::Regex;
use sj_shared::config::{JobsSettings, PoQuoteMissing, Presentation, QuoteSettings, WorkerSettings};
use sj_shared::failure::FailureKind;
use sj_shared::ids::{ClientId, ContentHash, LineItemId};
use sj_shared::jobber::ops::{LineItemEdit, QuoteRef, QuoteSummary};
use sj_shared::jobber::JobberErrorKind;
use sj_shared::jobber::{JobberClient, JobberError};
use sj_shared::mapping::Catalogs;
use sj_shared::message::{QuoteRequest, ReviewItem, Target};
use sj_shared::observe;
use sj_shared::pricing::{self, PricedDocument};
use sj_shared::store::{Crosswalk, FilledLine, QuoteRecord, RedisEpoch, RedisLock};

use crate::effects::Effects;
use crate::failure::Failure;
use crate::lookup::{Delivered, LookUp};
use crate::quote;
use crate::resolve::{How, Resolved, Resolver};
use crate::scan_cache::ScanCache;

/// A lease holder is looked at again at least this often (it may end early: released).
const LEASE_LOOK_AGAIN: Duration = Duration::from_secs(1);
/// A document waits at most this long in hand for another attempt's lease.
const LEASE_WAIT_MAX: Duration = Duration::from_secs(600);

/// The intent lease, or the news that another attempt wrote the document meanwhile.
enum Intent {
    Ours(RedisLock),
    Written(QuoteRecord),
}

/// How a document ended.
#[derive(Debug)]
pub enum Written {
    /// This attempt created the quote.
    Created(QuoteRecord),
    /// This attempt added the document's lines to the quote its PO names.
    LinesAdded(QuoteRecord),
    /// This attempt added the document's lines to the job its PO names (`record.job`).
    JobLinesAdded(QuoteRecord),
    /// The quote already existed (crosswalk, or its marker in Jobber).
    AlreadyThere(QuoteRecord),
    /// Nothing written: the document waits for a person's approval (`review.when`).
    Held(Box<ReviewItem>),
}

/// PO routing (`quote.po_quote_pattern`, `quote.po_quote_missing`; to jobs: `quote.po_job_pattern`,
/// `[jobs]`).
pub struct Routing {
    pub pattern: Option<Regex>,
    pub missing: PoQuoteMissing,
    pub job: job::JobRouting,
}

impl Routing {
    pub fn new(settings: &QuoteSettings, jobs: &JobsSettings) -> Result<Routing, String> {
        let pattern = match settings.po_quote_pattern.as_str() {
            "" => None,
            text => Some(Regex::new(text).map_err(|e| format!("quote.po_quote_pattern: {e}"))?),
        };
        Ok(Routing {
            pattern,
            missing: settings.po_quote_missing,
            job: job::JobRouting::new(settings, jobs)?,
        })
    }

    /// The quote number the document's PO names, if it names one.
    pub fn quote_number(&self, request: &QuoteRequest) -> Option<i64> {
        let po = request.customer.po_number.as_deref()?;
        self.pattern.as_ref()?.captures(po)?.get(1)?.as_str().parse().ok()
    }
}

pub struct Writer {
    pub jobber: JobberClient,
    pub crosswalk: Crosswalk,
    pub settings: WorkerSettings,
    /// Who the customer is in Jobber (mapping table, search, policies).
    pub resolver: Resolver,
    /// The quote custom field holding the marker, when the account has one.
    pub marker_field: Option<String>,
    /// Whole-history scans of clients' quotes, while Redis is young.
    pub scans: ScanCache,
    /// The dealer's prices and the quote's presentation (`[pricing]`, `[quote]`).
    pub quote_rules: quote::QuoteRules,
    /// The catalog table (the dealer's multiplier and margin per catalog).
    pub catalogs: Catalogs,
    pub routing: Routing,
    /// What a document changes besides Jobber (logged instead in a dry run).
    pub effects: Effects,
    /// Ends a wait for another attempt's lease (the document is given back).
    pub shutdown: sj_shared::runtime::Shutdown,
    /// Jobber failing for everyone (shared through Redis): see [`crate::outage`].
    pub breaker: sj_shared::jobber::Breaker,
    /// `review.when`: which documents wait for a person's approval ([`crate::review`]).
    pub gate: crate::review::Gate,
}

impl Writer {
    pub async fn write(&self, request: &QuoteRequest, delivered: Delivered) -> Result<Written, Failure> {
        // An approved document is written as the reviewer decided (lines and catalogs left out,
        // prices corrected); its content hash, and so its marker, stay the document's.
        let decided = request.decision.as_ref().map(|_| request.as_decided());
        let request = decided.as_ref().unwrap_or(request);
        let hash = &request.content_hash;
        if let Some(record) = self.crosswalk.get(hash).await? {
            return Ok(Written::AlreadyThere(record));
        }
        let pool = self.crosswalk.pool();
        let intent = match self.take_intent(hash).await? {
            Intent::Ours(intent) => intent,
            Intent::Written(record) => return Ok(Written::AlreadyThere(record)),
        };
        // Kept alive while this attempt works (it may wait for a customer lock, Jobber's budget,
        // slow answers); the write itself checks it still holds it.
        let lease = self.settings.intent_lease.0;
        let result = RedisLock::keep_alive_while(
            pool,
            &[&intent],
            lease,
            self.write_holding_intent(request, delivered, &intent),
        )
        .await;
        // Released on failure too: the next attempt looks the marker up in Jobber before writing.
        intent.release(pool).await;
        result
    }

    /// The document's intent lease. Held by another attempt (a second copy being written, or a
    /// crashed worker's lease running out), this one waits for exactly the lease's remaining
    /// time, looking again each second, with no retry tier and no attempt spent: when the other
    /// attempt wrote the document, the crosswalk says so and this copy is done. A wait longer than
    /// [`LEASE_WAIT_MAX`] (a live holder that keeps renewing, slow in Jobber) or a shutdown gives
    /// the document back as held back (the shortest tier, no attempt counted).
    async fn take_intent(&self, hash: &ContentHash) -> Result<Intent, Failure> {
        let pool = self.crosswalk.pool();
        let key = self.crosswalk.keys().key("intent", hash.as_str());
        let lease = self.settings.intent_lease.0;
        let started = tokio::time::Instant::now();
        let mut told = false;
        loop {
            if let Some(intent) = RedisLock::try_acquire(pool, &key, lease).await? {
                if told {
                    tracing::info!(
                        waited_ms = started.elapsed().as_millis() as u64,
                        "the other attempt's lease on the document ended: writing it"
                    );
                }
                return Ok(Intent::Ours(intent));
            }
            let remaining = RedisLock::remaining(pool, &key).await?.unwrap_or_default();
            if started.elapsed() + remaining.min(LEASE_LOOK_AGAIN) > LEASE_WAIT_MAX
                || self.shutdown.requested()
            {
                let mut failure = Failure::new(
                    FailureKind::WorkerInProgress,
                    "another worker has been writing this document for long (its lease is renewed while it \
                     works): given back, no attempt counted",
                );
                failure.deferred = true;
                return Err(failure);
            }
            if !told {
                tracing::info!(remaining_ms = remaining.as_millis() as u64,
                    "another attempt holds the document's lease (a copy being written, or a crashed worker's): \
                     waiting for it, no attempt counted");
                told = true;
            }
            observe::metrics().lease_waits.inc();
            tokio::time::sleep(
                remaining.min(LEASE_LOOK_AGAIN) + Duration::from_millis(fastrand::u64(10..60)),
            )
            .await;
            // The other attempt may have written it meanwhile.
            if let Some(record) = self.crosswalk.get(hash).await? {
                return Ok(Intent::Written(record));
            }
        }
    }

    /// How far to look for the document's marker before writing it ([`LookUp`]), and whether an
    /// attempt record was there before this attempt.
    async fn look_up(&self, request: &QuoteRequest, delivered: Delivered) -> Result<(LookUp, bool), Failure> {
        let attempted = self.crosswalk.attempted(&request.content_hash).await?;
        let epoch = RedisEpoch::current(self.crosswalk.pool(), self.crosswalk.keys()).await?;
        let received_at = humantime::parse_rfc3339_weak(&request.source.received_at)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        let (look, why) = LookUp::decide(
            delivered,
            attempted,
            received_at,
            epoch,
            self.settings.recheck_after_redis_reset.0,
        );
        tracing::debug!(?look, why, "marker look-up");
        Ok((look, attempted.is_some()))
    }

    /// The write itself (`quoteCreate`, or a PO-routed document's lines), announced by the
    /// attempt record before anything is sent, so that a later attempt knows to look. A write
    /// Jobber refused unexecuted (THROTTLED, 401, `userErrors`: [`Failure::of_write`]) withdraws
    /// the record this attempt made, so that its retry is not charged a look-up; a failure that
    /// may have reached Jobber is marked so ([`Failure::after_write`]) for the retry tiers.
    pub(crate) async fn writing<T>(
        &self,
        request: &QuoteRequest,
        intent: &RedisLock,
        recorded_before: bool,
        write: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        // The fence: only the holder of the document's lease writes it. A lease lost on the way
        // (Redis unreachable for longer than the lease while this attempt waited) may be another
        // attempt's now, which may have written already.
        if !intent.held(self.crosswalk.pool()).await? {
            return Err(Failure::new(
                FailureKind::WorkerInProgress,
                "this attempt lost its lease on the document before writing it (worker.intent_lease ran out); \
                 nothing written: the next attempt looks in Jobber first",
            ));
        }
        let at = self.effects.record_attempt(&request.content_hash).await?;
        let result = write.await;
        if let Err(failure) = &result {
            if !failure.after_write && !recorded_before {
                self.effects.withdraw_attempt(&request.content_hash, at).await;
            }
        }
        result
    }

    async fn write_holding_intent(
        &self,
        request: &QuoteRequest,
        delivered: Delivered,
        intent: &RedisLock,
    ) -> Result<Written, Failure> {
        // The reviewer's target, else the PO's.
        let target = match request.decision.as_ref().map(|d| d.target) {
            Some(target) => target,
            None => match (self.routing.job.job_number(request), self.routing.quote_number(request)) {
                (Some(job), _) => Target::Job(job.max(0) as u64),
                (None, Some(quote)) => Target::Quote(quote.max(0) as u64),
                (None, None) => Target::NewQuote,
            },
        };
        if request.decision.is_none() && self.gate.active() {
            if let Some(item) = self.held(request, target).await? {
                return Ok(Written::Held(Box::new(item)));
            }
        }
        let priced = self.price(request).await?;
        let (look, recorded_before) = self.look_up(request, delivered).await?;
        let job_number = match target {
            Target::Job(n) => Some(n as i64),
            _ => None,
        };
        let quote_number = match target {
            Target::Quote(n) => Some(n as i64),
            _ => None,
        };
        if let Some(number) = job_number {
            // A job gets the cabinets themselves (inventory and job costing), whatever the
            // quote's presentation.
            let items = quote::product_lines(&self.quote_rules, &priced);
            return self.write_to_job(request, number, items, look, intent, recorded_before).await;
        }
        if let Some(number) = quote_number {
            match self.jobber.quote_by_number(number).await? {
                Some(quote) => {
                    return self.add_to_quote(&priced, &quote, look, intent, recorded_before).await
                }
                None if self.routing.missing == PoQuoteMissing::Park || request.decision.is_some() => {
                    return Err(Failure::new(
                        FailureKind::RoutingQuoteMissing,
                        format!(
                        "the PO number {:?} names quote #{number}, which Jobber does not have: correct the \
                             PO in Saberis and export again, or set quote.po_quote_missing = \"create\"",
                        request.customer.po_number.as_deref().unwrap_or_default()
                    ),
                    ))
                }
                None => tracing::info!(quote = number, "the PO names no quote in Jobber: creating a new one"),
            }
        }
        let resolved = self.resolver.resolve(request, false).await?;
        let marker = quote::marker(&request.content_hash);
        // A client this attempt created has no quotes yet: nothing to look up.
        let existing = match look {
            _ if resolved.how == How::Created => Vec::new(),
            LookUp::Skip => Vec::new(),
            LookUp::Since(since) => self.jobber.client_quotes(&resolved.client_id, Some(since)).await?,
            LookUp::Scan => self.every_quote(&resolved.client_id, true).await?,
            LookUp::Everything => self.every_quote(&resolved.client_id, false).await?,
        };
        let title_marker = quote::title_marker(&marker);
        if let Some(found) =
            existing.iter().find(|q| q.markers.contains(&marker) || q.title.ends_with(&title_marker))
        {
            let record = QuoteRecord {
                quote_id: found.id.clone(),
                quote_number: found.quote_number.clone(),
                client_id: resolved.client_id,
                found_by_marker: true,
                source: request.source.id.clone(),
                ..QuoteRecord::default()
            };
            self.remember(&request.content_hash, &record).await;
            return Ok(Written::AlreadyThere(record));
        }
        let write = async {
            match self.create_quote(&priced, &resolved, &marker).await {
                // Refused for a client or property the cache gave: Jobber decides (a client
                // deleted, a property removed meanwhile). A refused quoteCreate wrote nothing.
                Err(e) if e.kind == JobberErrorKind::UserError && resolved.cached => {
                    tracing::info!(client = %resolved.client_id, reason = %e.message,
                        "Jobber refused the quote for the cached client: reading the client again");
                    self.resolver.forget_cached(&resolved.client_id).await;
                    let fresh = self.resolver.resolve(request, true).await?;
                    Ok((self.create_quote(&priced, &fresh, &marker).await.map_err(Failure::of_write)?, fresh))
                }
                other => Ok((other.map_err(Failure::of_write)?, resolved)),
            }
        };
        let (created, resolved) = self.writing(request, intent, recorded_before, write).await?;
        let record = QuoteRecord {
            quote_id: created.id,
            quote_number: created.quote_number,
            client_id: resolved.client_id,
            source: request.source.id.clone(),
            total: priced.total.to_string(),
            ..QuoteRecord::default()
        };
        self.remember(&request.content_hash, &record).await;
        Ok(Written::Created(record))
    }

    /// The document priced once, with the catalog table as the workers see it now (and a
    /// reviewer's numbers). A catalog no row names gets one appended (blank, for staff to fill
    /// in); a catalog without a price parks the document (`pricing.unpriced_catalog = "park"`) naming it.
    async fn price<'a>(&self, request: &'a QuoteRequest) -> Result<PricedDocument<'a>, Failure> {
        let table = self.catalog_table(request).await?;
        let priced = pricing::price(&self.quote_rules.pricing, &table, request).map_err(|unpriced| {
            Failure::new(
                FailureKind::PricingUnpricedCatalog,
                format!(
                    "no price for {}: fill in the multiplier and margin (or markup) in the catalog table ({}), \
                     then replay the document",
                    unpriced.describe(),
                    self.catalogs.describe()
                ),
            )
        })?;
        if !priced.defaulted.is_empty() {
            tracing::debug!(catalogs = %priced.defaulted.join(", "), markup = %self.quote_rules.pricing.markup_percent,
                "catalogs without a price priced by pricing.markup_percent (pricing.unpriced_catalog = \"default\")");
        }
        tracing::debug!(total = %priced.total, msrp = %priced.msrp, cogs = %priced.cogs, "document priced");
        Ok(priced)
    }

    /// The catalog table as the workers see it now, with a reviewer's numbers for this document
    /// on top; a catalog no row names gets one appended (blank, for staff to fill in).
    async fn catalog_table(&self, request: &QuoteRequest) -> Result<pricing::CatalogTable, Failure> {
        let table =
            self.catalogs.table().await.map_err(|e| Failure::new(e.kind(), format!("catalog table: {e}")))?;
        let unnamed: Vec<String> = request
            .sections
            .iter()
            .filter_map(|s| s.catalog.as_deref())
            .filter(|c| !c.trim().is_empty() && !table.names(c))
            .map(str::to_owned)
            .collect();
        if !unnamed.is_empty() {
            self.effects.append_catalogs(&self.catalogs, &unnamed).await;
        }
        Ok(crate::review::with_decision(table, request))
    }

    /// The review gate: the document as the reviewer would see it, when `review.when` holds it.
    /// Priced strictly first (a catalog without a rule is a reason with `unpriced-catalog`), then,
    /// for the figures, with such catalogs at the default markup.
    async fn held(&self, request: &QuoteRequest, target: Target) -> Result<Option<ReviewItem>, Failure> {
        let table = self.catalog_table(request).await?;
        let unpriced = match pricing::price(&self.quote_rules.pricing, &table, request) {
            Ok(priced) => priced
                .defaulted
                .iter()
                .map(|c| pricing::CatalogWithoutRule {
                    catalog: c.clone(),
                    why: "no usable row in the catalog table".to_owned(),
                })
                .collect(),
            Err(unpriced) => unpriced.catalogs,
        };
        let mut lenient = self.quote_rules.pricing.clone();
        lenient.unpriced_catalog = sj_shared::config::UnpricedCatalog::Default;
        let priced = pricing::price(&lenient, &table, request).map_err(|u| {
            Failure::new(FailureKind::PricingUnpricedCatalog, format!("no price for {}", u.describe()))
        })?;
        let (reasons, client) =
            self.gate.reasons(request, &priced, &unpriced, target, &self.resolver.mapping).await?;
        if reasons.is_empty() {
            return Ok(None);
        }
        Ok(Some(crate::review::item(&priced, &unpriced, reasons, target, client)))
    }

    async fn create_quote(
        &self,
        priced: &PricedDocument<'_>,
        resolved: &Resolved,
        marker: &str,
    ) -> Result<sj_shared::jobber::ops::QuoteSummary, JobberError> {
        let input = quote::build(
            &self.quote_rules,
            priced,
            &resolved.client_id,
            &resolved.property_id,
            marker,
            self.marker_field.as_deref(),
        );
        self.jobber.create_quote(&input).await
    }

    /// Every quote of the client: this epoch's scan when `reuse` and there is one
    /// ([`crate::scan_cache`]), else read from Jobber now and kept for the next documents.
    async fn every_quote(&self, client: &ClientId, reuse: bool) -> Result<Vec<QuoteSummary>, JobberError> {
        if reuse {
            if let Some(quotes) = self.scans.get(client).await {
                return Ok(quotes);
            }
        }
        let quotes = self.jobber.client_quotes(client, None).await?;
        self.scans.put(client, &quotes).await;
        Ok(quotes)
    }

    /// PO routing: the document's lines go to the quote its PO names, each carrying the marker
    /// at the end of its description, in one mutation; lines already there with the marker mean
    /// an earlier attempt added them (its answer lost, or its crosswalk forgotten).
    async fn add_to_quote(
        &self,
        priced: &PricedDocument<'_>,
        quote: &QuoteRef,
        look: LookUp,
        intent: &RedisLock,
        recorded_before: bool,
    ) -> Result<Written, Failure> {
        let request = priced.request;
        let marker = quote::marker(&request.content_hash);
        let tag = quote::title_marker(&marker);
        if quote.markers.contains(&marker) || quote.title.ends_with(&tag) {
            // The quote the PO names is this document's own, created by an earlier attempt when
            // the PO named no quote yet (quote.po_quote_missing = "create").
            let record = QuoteRecord {
                quote_id: quote.id.clone(),
                quote_number: quote.quote_number.clone(),
                client_id: quote.client_id.clone(),
                found_by_marker: true,
                source: request.source.id.clone(),
                ..QuoteRecord::default()
            };
            self.remember(&request.content_hash, &record).await;
            return Ok(Written::AlreadyThere(record));
        }
        let record = |line_item_ids: Vec<LineItemId>, found_by_marker: bool| QuoteRecord {
            quote_id: quote.id.clone(),
            quote_number: quote.quote_number.clone(),
            client_id: quote.client_id.clone(),
            found_by_marker,
            added_to_existing: true,
            line_item_ids,
            source: request.source.id.clone(),
            ..QuoteRecord::default()
        };
        if self.quote_rules.presentation != Presentation::Lines {
            return self.fill_template(priced, quote, intent, recorded_before).await;
        }
        let mine: Vec<LineItemId> = if look == LookUp::Skip {
            Vec::new()
        } else {
            quote::marked_lines(self.jobber.quote_line_items(&quote.id).await?, &tag)
        };
        if !mine.is_empty() {
            let record = record(mine, true);
            self.remember(&request.content_hash, &record).await;
            return Ok(Written::AlreadyThere(record));
        }
        let mut items = quote::line_items(&self.quote_rules, priced);
        for item in &mut items {
            item.description = quote::with_marker(&item.description, &tag);
        }
        let write = async { self.jobber.add_line_items(&quote.id, &items).await.map_err(Failure::of_write) };
        let ids = self.writing(request, intent, recorded_before, write).await?;
        tracing::info!(quote = %quote.quote_number, client = %quote.client_name, lines = ids.len(),
            "lines added to the quote the PO names");
        let record = record(ids, false);
        self.remember(&request.content_hash, &record).await;
        Ok(Written::LinesAdded(record))
    }

    /// PO routing with `quote.presentation = "msrp-discount" | "package"` into a quote made from
    /// the dealer's retail template: each presentation line fills a template line of its name
    /// that no document filled yet (`quoteEditLineItems`; the template's description kept, the
    /// values and the marker written), the others are added (`quoteCreateLineItems`). Per line,
    /// so that an attempt that crashed between the two mutations is finished, not doubled: a
    /// line of its name carrying the marker is done. The quote's lines are always read (their
    /// names are needed), one request.
    async fn fill_template(
        &self,
        priced: &PricedDocument<'_>,
        quote: &QuoteRef,
        intent: &RedisLock,
        recorded_before: bool,
    ) -> Result<Written, Failure> {
        let request = priced.request;
        let tag = quote::title_marker(&quote::marker(&request.content_hash));
        let existing = self.jobber.quote_line_items(&quote.id).await?;
        let mut used = vec![false; existing.len()];
        let (mut done, mut edits, mut filled, mut adds) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for mut item in quote::line_items(&self.quote_rules, priced) {
            let named = |i: usize| !used[i] && existing[i].name.trim() == item.name.trim();
            if let Some(i) =
                (0..existing.len()).find(|&i| named(i) && existing[i].description.ends_with(&tag))
            {
                used[i] = true;
                done.push(existing[i].id.clone());
                continue;
            }
            item.description = quote::with_marker(&item.description, &tag);
            match (0..existing.len()).find(|&i| named(i) && !quote::has_marker(&existing[i].description)) {
                Some(i) => {
                    used[i] = true;
                    let line = &existing[i];
                    let decimal = |v: Option<f64>| v.and_then(|v| rust_decimal::Decimal::try_from(v).ok());
                    filled.push(FilledLine {
                        id: line.id.clone(),
                        description: line.description.clone(),
                        quantity: decimal(line.quantity).unwrap_or(rust_decimal::Decimal::ONE),
                        unit_price: decimal(line.unit_price).unwrap_or_default(),
                        unit_cost: decimal(line.unit_cost),
                    });
                    let description = if line.description.trim().is_empty() {
                        item.description
                    } else {
                        format!("{}\n{}", line.description.trim_end(), item.description)
                    };
                    edits.push(LineItemEdit {
                        line_item_id: line.id.clone(),
                        description,
                        quantity: item.quantity,
                        unit_price: item.unit_price,
                        unit_cost: Some(item.unit_cost),
                    });
                }
                None => adds.push(item),
            }
        }
        let mut record = QuoteRecord {
            quote_id: quote.id.clone(),
            quote_number: quote.quote_number.clone(),
            client_id: quote.client_id.clone(),
            found_by_marker: edits.is_empty() && adds.is_empty(),
            added_to_existing: true,
            line_item_ids: Vec::new(),
            source: request.source.id.clone(),
            job: None,
            filled_lines: filled,
            total: priced.total.to_string(),
        };
        // The template lines' values before this document, kept before the edit: an attempt
        // that finds its lines already filled (its answer lost, or a copy) still knows what
        // `sjctl undo` puts back.
        let kept = self.crosswalk.keys().key("template-lines", request.content_hash.as_str());
        if edits.is_empty() && adds.is_empty() {
            record.filled_lines = self.kept_template_lines(&kept).await;
            self.remember(&request.content_hash, &record).await;
            return Ok(Written::AlreadyThere(record));
        }
        if !record.filled_lines.is_empty() {
            let json = serde_json::to_string(&record.filled_lines).expect("lines serialize");
            let mut conn = self
                .crosswalk
                .pool()
                .get()
                .await
                .map_err(|e| Failure::new(FailureKind::RedisUnavailable, e.to_string()))?;
            deadpool_redis::redis::cmd("SET")
                .arg(&kept)
                .arg(json)
                .arg("EX")
                .arg(sj_shared::store::ATTEMPT_KEPT.as_secs())
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| Failure::new(FailureKind::RedisUnavailable, e.to_string()))?;
        }
        let write = async {
            if !edits.is_empty() {
                self.jobber.edit_line_items(&quote.id, &edits).await.map_err(Failure::of_write)?;
            }
            if adds.is_empty() {
                return Ok(Vec::new());
            }
            self.jobber.add_line_items(&quote.id, &adds).await.map_err(|e| Failure::of_write(e).after_write())
        };
        record.line_item_ids = self.writing(request, intent, recorded_before, write).await?;
        tracing::info!(quote = %quote.quote_number, client = %quote.client_name, filled = edits.len(),
            added = record.line_item_ids.len(), "the template lines of the quote the PO names filled in");
        self.remember(&request.content_hash, &record).await;
        Ok(Written::LinesAdded(record))
    }

    /// The template lines' earlier values an earlier attempt kept (none after a Redis loss:
    /// then `sjctl undo` removes what was added and leaves the filled lines to staff).
    async fn kept_template_lines(&self, key: &str) -> Vec<FilledLine> {
        let Ok(mut conn) = self.crosswalk.pool().get().await else { return Vec::new() };
        let json: Option<String> =
            deadpool_redis::redis::cmd("GET").arg(key).query_async(&mut conn).await.ok().flatten();
        json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
    }

    /// A lost crosswalk costs only a marker look-up next time: log, don't fail.
    pub(crate) async fn remember(&self, hash: &ContentHash, record: &QuoteRecord) {
        self.effects.remember(hash, record).await
    }
}
