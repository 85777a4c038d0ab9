//! The OTLP/HTTP span exporter (protobuf bodies) and the HTTP client it sends with.
//!
//! The SDK's batch processor exports from a thread of its own, driving the export future with a
//! plain executor, outside any Tokio runtime. [`ReqwestOnOwnRuntime`] therefore runs the
//! workspace's reqwest client (rustls, the one TLS stack) on a small current-thread runtime of its
//! own: exporting never borrows the application's runtime, and flushing at exit cannot deadlock it.
//! A collector that is down costs a warning (at most one a minute) and the spans of that batch;
//! spans beyond the queue's room are dropped, never waited for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use crate::config::TelemetrySettings;

/// How often an unreachable collector is mentioned in the logs.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// A tracer provider exporting to `url` (`…/v1/traces`) in batches.
pub(super) fn provider(
    service_name: &str,
    url: &str,
    settings: &TelemetrySettings,
) -> Result<SdkTracerProvider, String> {
    let timeout = settings.export_timeout.0;
    let client = ReqwestOnOwnRuntime::new(url, timeout)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(timeout)
        .with_http_client(client)
        // One attempt per batch: a collector that is down costs that batch, and an exit waits for
        // one attempt at most (retries would hold `--once` runs for the whole timeout).
        .with_retry_policy(RetryPolicy::disabled())
        .build()
        .map_err(|e| format!("the OTLP exporter for {url}: {e}"))?;
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
        .build())
}

/// `opentelemetry_http::HttpClient` over the workspace's reqwest 0.13, on a runtime of its own.
struct ReqwestOnOwnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    url: String,
    /// The collector failed last time (so its coming back is worth a line).
    failing: AtomicBool,
    last_warning: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for ReqwestOnOwnRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestOnOwnRuntime").field("url", &self.url).finish_non_exhaustive()
    }
}

impl ReqwestOnOwnRuntime {
    fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("the exporter's runtime: {e}"))?;
        Ok(Self {
            client,
            runtime,
            url: url.to_owned(),
            failing: AtomicBool::new(false),
            last_warning: Mutex::new(None),
        })
    }

    async fn send(client: reqwest::Client, request: reqwest::Request) -> Result<Response<Bytes>, HttpError> {
        let response = client.execute(request).await?;
        let mut reply = Response::builder().status(response.status());
        if let Some(headers) = reply.headers_mut() {
            *headers = response.headers().clone();
        }
        // The collector's answer is small (a partial-success note at most).
        let body = response.bytes().await?;
        Ok(reply.body(body)?)
    }

    fn note(&self, outcome: Result<u16, String>) {
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(endpoint = %self.url, "the OTLP collector takes spans again");
                }
            }
            outcome => {
                self.failing.store(true, Ordering::Relaxed);
                let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    *last = Some(Instant::now());
                    let error = match outcome {
                        Ok(status) => format!("HTTP {status}"),
                        Err(e) => e,
                    };
                    tracing::warn!(endpoint = %self.url, %error,
                        "cannot export spans to the OTLP collector: they are dropped (documents are not affected)");
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestOnOwnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // Only the SDK's batch thread calls this; blocking a Tokio thread would be a bug.
            return Err("the OTLP client must not run on a Tokio runtime thread".into());
        }
        let request = reqwest::Request::try_from(request)?;
        let result = self.runtime.block_on(Self::send(self.client.clone(), request));
        self.note(match &result {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(with_causes(e.as_ref())),
        });
        result
    }
}

/// An error and its causes, on one line ("error sending request: … : Connection refused").
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
