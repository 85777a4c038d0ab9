//! PO routing to a job (`quote.po_job_pattern`, `[jobs]`): a document whose PO number names an
//! existing Jobber job (`J#123`) adds its cabinets to that job as line items, exactly once.
//!
//! - The job is found by its number (Jobber's job filter has no number: a search, then the node
//!   whose `jobNumber` is exactly it); none: parked as `routing.job-missing`. No client is
//!   resolved or created: the job's client is the customer.
//! - Each line carries the bridge's marker at the end of its description, as lines routed to a
//!   quote do. When an earlier attempt may have reached Jobber ([`LookUp`]), the job's lines are
//!   read first and lines with the marker mean the document is there already (its answer lost,
//!   or its crosswalk forgotten); otherwise no look-up.
//! - The lines go in one `jobCreateLineItems`, through [`Writer::writing`] (the intent fence and
//!   the attempt record), and the crosswalk records the job and the lines' ids for `sjctl undo`.
//! - Unit cost: the line's cost (COGS); unit price: `jobs.line_price` (`zero`, the dealer's
//!   practice, jobs being used for inventory and job costing; or `customer`).

use regex::Regex;
use sj_shared::config::{JobLinePrice, JobsSettings, QuoteSettings};
use sj_shared::failure::FailureKind;
use sj_shared::ids::LineItemId;
use sj_shared::jobber::ops::LineItemInput;
use sj_shared::message::QuoteRequest;
use sj_shared::store::{QuoteRecord, RecordedJob, RedisLock};

use crate::failure::Failure;
use crate::lookup::LookUp;
use crate::quote;
use crate::write::{Writer, Written};

/// PO routing to jobs: `quote.po_job_pattern` and `jobs.line_price`.
#[derive(Debug, Clone)]
pub struct JobRouting {
    pub pattern: Option<Regex>,
    pub line_price: JobLinePrice,
}

impl JobRouting {
    pub fn new(quote: &QuoteSettings, jobs: &JobsSettings) -> Result<JobRouting, String> {
        let pattern = match quote.po_job_pattern.as_str() {
            "" => None,
            text => Some(Regex::new(text).map_err(|e| format!("quote.po_job_pattern: {e}"))?),
        };
        Ok(JobRouting { pattern, line_price: jobs.line_price })
    }

    /// The job number the document's PO names, if it names one.
    pub fn job_number(&self, request: &QuoteRequest) -> Option<i64> {
        self.number_in(request.customer.po_number.as_deref()?)
    }

    fn number_in(&self, po: &str) -> Option<i64> {
        self.pattern.as_ref()?.captures(po)?.get(1)?.as_str().parse().ok()
    }

    /// The document's lines as they go to a job: priced by `jobs.line_price`, the cost kept,
    /// each description ending with `tag` (the marker).
    pub fn lines(&self, mut items: Vec<LineItemInput>, tag: &str) -> Vec<LineItemInput> {
        for item in &mut items {
            if self.line_price == JobLinePrice::Zero {
                item.unit_price = 0.0;
            }
            item.description = quote::with_marker(&item.description, tag);
        }
        items
    }
}

impl Writer {
    /// The document's lines (`items`, priced as for a quote) added to job #`number` once.
    pub(crate) async fn write_to_job(
        &self,
        request: &QuoteRequest,
        number: i64,
        items: Vec<LineItemInput>,
        look: LookUp,
        intent: &RedisLock,
        recorded_before: bool,
    ) -> Result<Written, Failure> {
        let Some(job) = self.jobber.job_by_number(number).await? else {
            return Err(Failure::new(
                FailureKind::RoutingJobMissing,
                format!(
                    "the PO number {:?} names job #{number}, which Jobber does not have (or its job search does \
                     not find by that number): check the job in Jobber, correct the PO in Saberis and export \
                     again, then replay",
                    request.customer.po_number.as_deref().unwrap_or_default()
                ),
            ));
        };
        let tag = quote::title_marker(&quote::marker(&request.content_hash));
        let record = |line_item_ids: Vec<LineItemId>, found_by_marker: bool| QuoteRecord {
            client_id: job.client_id.clone(),
            found_by_marker,
            added_to_existing: true,
            line_item_ids,
            source: request.source.id.clone(),
            job: Some(RecordedJob { id: job.id.clone(), job_number: job.job_number.clone() }),
            ..QuoteRecord::default()
        };
        let mine: Vec<LineItemId> = if look == LookUp::Skip {
            Vec::new()
        } else {
            quote::marked_lines(self.jobber.job_line_items(&job.id).await?, &tag)
        };
        if !mine.is_empty() {
            let record = record(mine, true);
            self.remember(&request.content_hash, &record).await;
            return Ok(Written::AlreadyThere(record));
        }
        let items = self.routing.job.lines(items, &tag);
        let write =
            async { self.jobber.add_job_line_items(&job.id, &items).await.map_err(Failure::of_write) };
        let ids = self.writing(request, intent, recorded_before, write).await?;
        tracing::info!(job = %job.job_number, client = %job.client_name, lines = ids.len(),
            "lines added to the job the PO names");
        let record = record(ids, false);
        self.remember(&request.content_hash, &record).await;
        Ok(Written::JobLinesAdded(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(description: &str) -> LineItemInput {
        LineItemInput {
            name: "B24".into(),
            description: description.into(),
            quantity: 2.0,
            unit_price: 612.5,
            unit_cost: 210.25,
            save_to_products_and_services: false,
        }
    }

    fn routing(pattern: &str, line_price: JobLinePrice) -> JobRouting {
        let quote = QuoteSettings { po_job_pattern: pattern.into(), ..QuoteSettings::default() };
        JobRouting::new(&quote, &JobsSettings { line_price }).unwrap()
    }

    #[test]
    fn zero_keeps_the_cost_and_customer_the_price_and_both_carry_the_marker() {
        let zero = routing("", JobLinePrice::Zero).lines(vec![item("Door: Shaker"), item("")], "[SJ-abc]");
        assert_eq!((zero[0].unit_price, zero[0].unit_cost, zero[0].quantity), (0.0, 210.25, 2.0));
        assert_eq!(zero[0].description, "Door: Shaker\n[SJ-abc]");
        assert_eq!(zero[1].description, "[SJ-abc]");
        let customer = routing("", JobLinePrice::Customer).lines(vec![item("")], "[SJ-abc]");
        assert_eq!((customer[0].unit_price, customer[0].unit_cost), (612.5, 210.25));
    }

    #[test]
    fn the_po_names_a_job_only_when_the_pattern_is_set_and_matches() {
        assert_eq!(routing("", JobLinePrice::Zero).number_in("J#42"), None, "off by default");
        let jobs = routing(r"^J#(\d+)$", JobLinePrice::Zero);
        assert_eq!(jobs.number_in("J#42"), Some(42));
        assert_eq!(jobs.number_in("Q#42"), None);
    }
}
