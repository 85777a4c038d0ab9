//! One GraphQL request to Jobber: the bearer token (refreshed once on 401), the version header,
//! and every way the answer can say no (HTTP status, `errors`, THROTTLED), classified.

use serde_json::{json, Value};
use tracing::Instrument as _;

use super::budget::CostBudget;
use super::tokens::without_url;
use super::{JobberError, JobberErrorKind, TokenStore};
use crate::config::JobberSettings;

#[derive(Clone)]
pub struct JobberClient {
    http: reqwest::Client,
    graphql_url: String,
    version: String,
    tokens: TokenStore,
    /// Jobber's cost bucket and request count, shared with every other process.
    budget: CostBudget,
    /// How long a request may wait for the budget (the request timeout).
    budget_patience: std::time::Duration,
    /// Log mutations instead of sending them (`sj-worker --dry-run`); queries still run.
    dry_run: bool,
}

impl JobberClient {
    pub fn new(
        settings: &JobberSettings,
        http: reqwest::Client,
        tokens: TokenStore,
        budget: CostBudget,
    ) -> Self {
        Self {
            http,
            graphql_url: format!("{}/api/graphql", settings.api_url.trim_end_matches('/')),
            version: settings.graphql_version.clone(),
            tokens,
            budget,
            budget_patience: settings.request_timeout.0,
            dry_run: false,
        }
    }

    /// A client that logs every mutation (the exact document and variables) instead of sending it.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// In a dry run, logs the mutation and returns true: the caller must not send it.
    pub(crate) fn withhold(&self, mutation: &str, variables: &Value) -> bool {
        if self.dry_run {
            tracing::info!(document = mutation, variables = %variables, "dry run: mutation not sent");
        }
        self.dry_run
    }

    /// Runs a query or mutation and returns its `data`, in a span named after the operation
    /// (exported to OTLP, not shown in logs).
    pub async fn execute(&self, query: &str, variables: Value) -> Result<Value, JobberError> {
        let operation = operation_name(query);
        let span = tracing::info_span!(target: crate::telemetry::EXPORT_ONLY, "jobber",
            otel.name = %format_args!("jobber {operation}"), otel.kind = "client", operation,
            otel.status_code = tracing::field::Empty, otel.status_description = tracing::field::Empty);
        let result = self.execute_untraced(query, variables).instrument(span.clone()).await;
        if let Err(e) = &result {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", tracing::field::display(e));
        }
        result
    }

    async fn execute_untraced(&self, query: &str, variables: Value) -> Result<Value, JobberError> {
        if let Err(wait) = self.budget.before_request(self.budget_patience).await {
            return Err(JobberError::new(
                JobberErrorKind::Throttled,
                format!(
                    "Jobber's shared budget allows the next request in {}, longer than a request may wait",
                    humantime::format_duration(std::time::Duration::from_secs(wait.as_secs().max(1)))
                ),
            ));
        }
        let body = json!({"query": query, "variables": variables});
        let token = self.tokens.access_token().await?;
        let (status, reply) = self.post(&token, &body).await?;
        let (status, reply) = if status == 401 {
            // Expired or revoked: one refresh (single-flight across processes), one retry.
            let fresh = self.tokens.refresh(Some(&token)).await?;
            self.post(&fresh.access_token, &body).await?
        } else {
            (status, reply)
        };
        match status {
            200 => {}
            401 => {
                return Err(JobberError::new(
                    JobberErrorKind::Unauthorized,
                    "Jobber refused the access token after a refresh",
                ))
            }
            429 => {
                return Err(JobberError::new(
                    JobberErrorKind::Throttled,
                    "HTTP 429: over Jobber's request limit",
                ))
            }
            s if s >= 500 => {
                return Err(JobberError::new(JobberErrorKind::Unavailable, format!("HTTP {s} from Jobber")))
            }
            s => {
                return Err(JobberError::new(
                    JobberErrorKind::Invalid,
                    format!("HTTP {s} from Jobber: {}", snippet(&reply)),
                ))
            }
        }
        self.note_budget(&reply).await;
        if let Some(errors) = reply.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
            let throttled = errors
                .iter()
                .any(|e| e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED"));
            let messages: Vec<&str> =
                errors.iter().filter_map(|e| e.get("message").and_then(Value::as_str)).collect();
            let kind = if throttled { JobberErrorKind::Throttled } else { JobberErrorKind::Invalid };
            return Err(JobberError::new(kind, messages.join("; ")));
        }
        reply
            .get("data")
            .cloned()
            .ok_or_else(|| JobberError::new(JobberErrorKind::Invalid, "a response without data"))
    }

    async fn post(&self, token: &str, body: &Value) -> Result<(u16, Value), JobberError> {
        let response = self
            .http
            .post(&self.graphql_url)
            .bearer_auth(token)
            .header("X-JOBBER-GRAPHQL-VERSION", &self.version)
            .json(body)
            .send()
            .await
            .map_err(|e| JobberError::new(JobberErrorKind::Unavailable, without_url(&e)))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| JobberError::new(JobberErrorKind::Unavailable, without_url(&e)))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    async fn note_budget(&self, reply: &Value) {
        let Some(status) = reply.pointer("/extensions/cost/throttleStatus") else { return };
        let number = |name: &str| status.get(name).and_then(Value::as_f64);
        if let (Some(available), Some(max), Some(rate)) =
            (number("currentlyAvailable"), number("maximumAvailable"), number("restoreRate"))
        {
            self.budget.report(available, max, rate).await;
        }
    }
}

/// `CreateQuote` for `mutation CreateQuote($attributes: …) { … }`; `anonymous` without a name.
fn operation_name(query: &str) -> &str {
    let mut words = query.split_whitespace();
    match (words.next(), words.next()) {
        (Some("query" | "mutation"), Some(name)) => {
            let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(name.len());
            if end == 0 {
                "anonymous"
            } else {
                &name[..end]
            }
        }
        _ => "anonymous",
    }
}

fn snippet(value: &Value) -> String {
    let text = value.to_string();
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::operation_name;

    #[test]
    fn operations_are_named_by_their_graphql_name() {
        assert_eq!(operation_name("mutation CreateQuote($a: X!) { quoteCreate { id } }"), "CreateQuote");
        assert_eq!(operation_name("query CustomFields { nodes { id } }"), "CustomFields");
        assert_eq!(operation_name("  query QuoteLines($id: EncodedId!)"), "QuoteLines");
        assert_eq!(operation_name("query { x }"), "anonymous");
        assert_eq!(operation_name("{ x }"), "anonymous");
    }
}
