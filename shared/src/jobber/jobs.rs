//! Jobber jobs as PO routing writes to them (`quote.po_job_pattern`): a job found by its number,
//! its line items, lines added (`jobCreateLineItems`) and taken back (`jobDeleteLineItems`, `sjctl
//! undo`). The job line mutations take one `input` object, unlike the quote ones.

use serde::Deserialize;
use serde_json::{json, Value};

use super::operations;
use super::ops::{client_name, field, payload, LineItemInput, LineItemSummary, Page};
use super::{JobberClient, JobberError, JobberErrorKind};
use crate::ids::{ClientId, JobId, LineItemId};

/// An existing job found by its number, with what the bridge needs to add to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    pub id: JobId,
    pub job_number: String,
    pub title: String,
    pub client_id: ClientId,
    pub client_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobNode {
    id: JobId,
    job_number: i64,
    #[serde(default)]
    title: Option<String>,
    client: JobClient,
}

#[derive(Deserialize)]
struct JobClient {
    id: ClientId,
    #[serde(default)]
    name: String,
}

/// A job as an operator sees it (`sjctl undo`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: JobId,
    pub job_number: i64,
    #[serde(default)]
    pub title: Option<String>,
    /// `JobStatusTypeEnum`: `upcoming`, `active`, `requires_invoicing`, `archived`…
    pub job_status: String,
    /// The job's page in Jobber's web app.
    pub jobber_web_uri: String,
    pub total: f64,
    /// `client.name`.
    #[serde(default, rename = "client", deserialize_with = "client_name")]
    pub client_name: String,
}

/// Job numbers searched per page: the term (the number's digits) may match other jobs too (a
/// title, an address), and the job is usually among the first.
const SEARCH_PAGE: usize = 20;

impl JobberClient {
    /// The job with this number, if any. Jobber's `JobFilterAttributes` has no job number, so the
    /// number is the search term and the job is the node whose `jobNumber` is exactly it, page
    /// after page until found. Job numbers are GraphQL `Int`s (32 bits): a larger number names no
    /// job, and is not sent.
    pub async fn job_by_number(&self, number: i64) -> Result<Option<JobRef>, JobberError> {
        if i32::try_from(number).is_err() {
            tracing::debug!(number, "a job number beyond GraphQL's Int names no job");
            return Ok(None);
        }
        let mut variables = json!({"term": number.to_string()});
        loop {
            let data = self.execute(operations::JOB_BY_NUMBER, variables.clone()).await?;
            let page: Page<JobNode> = field(&data, "/jobs")?;
            debug_assert!(page.nodes.len() <= SEARCH_PAGE);
            let next = page.next().map(str::to_owned);
            if let Some(node) = page.nodes.into_iter().find(|n| n.job_number == number) {
                return Ok(Some(JobRef {
                    id: node.id,
                    job_number: node.job_number.to_string(),
                    title: node.title.unwrap_or_default(),
                    client_id: node.client.id,
                    client_name: node.client.name,
                }));
            }
            match next {
                Some(cursor) => variables["after"] = json!(cursor),
                None => return Ok(None),
            }
        }
    }

    /// A job as an operator sees it; `None` when Jobber no longer has it.
    pub async fn job_view(&self, job_id: &JobId) -> Result<Option<JobView>, JobberError> {
        let data = self.execute(operations::JOB, json!({"id": job_id})).await?;
        field(&data, "/job")
    }

    /// Every line item of a job (all pages).
    pub async fn job_line_items(&self, job_id: &JobId) -> Result<Vec<LineItemSummary>, JobberError> {
        self.every_page(operations::JOB_LINES, json!({"id": job_id}), "/job/lineItems").await?.ok_or_else(
            || {
                JobberError::new(
                    JobberErrorKind::UserError,
                    format!("job {job_id} does not exist (deleted?)"),
                )
            },
        )
    }

    /// Adds line items to a job in one mutation (`jobCreateLineItems`); returns the new items'
    /// ids.
    pub async fn add_job_line_items(
        &self,
        job_id: &JobId,
        items: &[LineItemInput],
    ) -> Result<Vec<LineItemId>, JobberError> {
        let variables = json!({"job": job_id, "input": {"lineItems": items}});
        if self.withhold(operations::ADD_JOB_LINES, &variables) {
            return Ok(Vec::new());
        }
        let data = self.execute(operations::ADD_JOB_LINES, variables).await?;
        let payload = payload(&data, "jobCreateLineItems")?;
        let created: Vec<Value> = field(&payload, "/createdLineItems")?;
        Ok(created.iter().filter_map(|v| v.get("id").and_then(Value::as_str).map(LineItemId::new)).collect())
    }

    /// Deletes line items of a job (`sjctl undo` of lines added by PO routing to a job).
    pub async fn delete_job_line_items(&self, job_id: &JobId, ids: &[LineItemId]) -> Result<(), JobberError> {
        let variables = json!({"job": job_id, "input": {"lineItemIds": ids}});
        let data = self.execute(operations::DELETE_JOB_LINES, variables).await?;
        payload(&data, "jobDeleteLineItems").map(|_| ())
    }
}
