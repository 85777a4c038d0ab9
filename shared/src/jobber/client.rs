//! One GraphQL request to Jobber: the bearer token (refreshed once on 401), the version header,
//! and every way the answer can say no (HTTP status, `errors`, THROTTLED), classified.

use serde_json::{json, Value};
use tracing::Instrument as _;

use super::budget::CostBudget;
use super::operations::Operation;
use super::tokens::without_url;
use super::version::{VersionNotice, VersionWatch};
use super::{JobberError, JobberErrorKind, TokenStore};
use crate::config::{JobberSettings, Settings};
use crate::store::Keys;

/// How many times a failed read is tried again, and the pause before the first (then twice that).
const READ_RETRIES: u32 = 2;
const READ_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

#[derive(Clone)]
pub struct JobberClient {
    http: reqwest::Client,
    graphql_url: String,
    version: String,
    tokens: TokenStore,
    /// Jobber's cost bucket and request count, shared with every other process.
    budget: CostBudget,
    /// `extensions.versioning` warnings: logged once, recorded for `sjctl status`.
    versions: VersionWatch,
    /// How long a request may wait for the budget (the request timeout).
    budget_patience: std::time::Duration,
    /// Log mutations instead of sending them (`sj-worker --dry-run`); queries still run.
    dry_run: bool,
}

impl JobberClient {
    /// The client every process of this installation uses: HTTP with `jobber.request_timeout`,
    /// the tokens and the cost budget in Redis under the namespace.
    pub fn from_settings(settings: &Settings, pool: deadpool_redis::Pool) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(settings.jobber.request_timeout.0).build()?;
        Ok(Self::with_http(settings, pool, http))
    }

    /// [`Self::from_settings`] over a given HTTP client (`sjctl verify` bounds its checks tighter).
    pub fn with_http(settings: &Settings, pool: deadpool_redis::Pool, http: reqwest::Client) -> Self {
        let tokens = TokenStore::from_settings(settings, pool.clone(), http.clone());
        let budget = CostBudget::new(pool, &Keys::new(&settings.namespace));
        Self::new(&settings.jobber, http, tokens, budget)
    }

    /// Jobber's limits as every process of this installation shares them.
    pub fn budget(&self) -> &CostBudget {
        &self.budget
    }

    /// The token store the client refreshes through.
    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }

    pub fn new(
        settings: &JobberSettings,
        http: reqwest::Client,
        tokens: TokenStore,
        budget: CostBudget,
    ) -> Self {
        let (pool, keys) = budget.store();
        let versions = VersionWatch::new(pool.clone(), keys, &settings.graphql_version);
        Self {
            http,
            graphql_url: format!("{}/api/graphql", settings.api_url.trim_end_matches('/')),
            version: settings.graphql_version.clone(),
            tokens,
            budget,
            versions,
            budget_patience: settings.request_timeout.0,
            dry_run: false,
        }
    }

    /// A client that logs every mutation (the exact document and variables) instead of sending it.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// In a dry run, logs the mutation and returns true: the caller must not send it.
    pub(crate) fn withhold(&self, mutation: Operation, variables: &Value) -> bool {
        debug_assert!(mutation.is_mutation(), "{} is a query", mutation.name());
        if self.dry_run {
            tracing::info!(operation = mutation.name(), document = mutation.document(), variables = %variables,
                "dry run: mutation not sent");
        }
        self.dry_run
    }

    /// The last `extensions.versioning` warning this process saw from Jobber, if any.
    pub fn version_notice(&self) -> Option<VersionNotice> {
        self.versions.last()
    }

    /// Runs one of the bridge's operations and returns its `data`. A query (never a mutation:
    /// a mutation's failure may hide a write, which only the marker look-up may settle) that
    /// fails on the way (timeout, 5xx, a dropped connection) is tried again at once, twice, so
    /// that a document whose look-up reads several pages is not sent through the retry tiers by
    /// one page's bad luck.
    pub async fn execute(&self, op: Operation, variables: Value) -> Result<Value, JobberError> {
        let mut tries = 1;
        loop {
            match self.execute_once(op, variables.clone()).await {
                Err(e)
                    if e.kind == JobberErrorKind::Unavailable
                        && !op.is_mutation()
                        && tries <= READ_RETRIES =>
                {
                    tracing::debug!(operation = op.name(), error = %e, "a Jobber read failed: trying it again");
                    tokio::time::sleep(READ_RETRY_PAUSE * tries).await;
                    tries += 1;
                }
                result => return result,
            }
        }
    }

    /// One try of [`Self::execute`], in a span named after the operation (exported to OTLP, not
    /// shown in logs).
    async fn execute_once(&self, op: Operation, variables: Value) -> Result<Value, JobberError> {
        let operation = op.name();
        let query = op.document();
        let span = tracing::info_span!(target: crate::telemetry::EXPORT_ONLY, "jobber",
            otel.name = %format_args!("jobber {operation}"), otel.kind = "client", operation,
            otel.status_code = tracing::field::Empty, otel.status_description = tracing::field::Empty);
        let started = std::time::Instant::now();
        let result = self.execute_untraced(query, variables).instrument(span.clone()).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => outcome(e.kind),
        };
        crate::observe::metrics().jobber_request(operation, outcome, started.elapsed());
        if let Err(e) = &result {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", tracing::field::display(e));
        }
        result
    }

    async fn execute_untraced(&self, query: &str, variables: Value) -> Result<Value, JobberError> {
        if let Err(wait) = self.budget.before_request(self.budget_patience).await {
            return Err(JobberError::deferred(format!(
                "Jobber's shared budget allows the next request in {}, longer than a request may wait",
                humantime::format_duration(std::time::Duration::from_secs(wait.as_secs().max(1)))
            )));
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
                crate::observe::metrics().jobber_limited("http_429");
                return Err(JobberError::new(
                    JobberErrorKind::Throttled,
                    "HTTP 429: over Jobber's request limit",
                ));
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
        self.versions.note(&reply).await;
        if let Some(errors) = reply.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
            let throttled = errors
                .iter()
                .any(|e| e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED"));
            let messages: Vec<&str> =
                errors.iter().filter_map(|e| e.get("message").and_then(Value::as_str)).collect();
            if throttled {
                crate::observe::metrics().jobber_limited("throttled");
            }
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
            crate::observe::metrics().jobber_budget(available, max, rate);
            self.budget.report(available, max, rate).await;
        }
    }
}

/// The `outcome` label of `sj_jobber_requests_total` for a failed request.
fn outcome(kind: JobberErrorKind) -> &'static str {
    match kind {
        JobberErrorKind::Unavailable => "unavailable",
        JobberErrorKind::Throttled => "throttled",
        JobberErrorKind::Unauthorized => "unauthorized",
        JobberErrorKind::UserError => "user_error",
        JobberErrorKind::Invalid => "invalid",
    }
}

fn snippet(value: &Value) -> String {
    let text = value.to_string();
    text.chars().take(200).collect()
}
