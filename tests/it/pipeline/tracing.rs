//! Spans exported over OTLP/HTTP: a collector in the test (protobuf decoded with
//! `opentelemetry-proto`) receives the real `sj-poller --once` and `sj-worker`'s spans, and one
//! document's journey is one trace; a collector that is not there changes nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::Command;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;

use super::worker::Bridge;
use crate::support::samples;

/// One span as the collector received it (ids in hex, as in a `traceparent`).
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

/// A minimal OTLP/HTTP collector: `POST /v1/traces` with a protobuf body. It runs on a thread and
/// runtime of its own, so it answers while the test blocks (`sj-poller --once` is waited for).
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Collector {
    fn start() -> Self {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let received = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let received = received.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
                    received.lock().unwrap().extend(decode(&request));
                    // An empty ExportTraceServiceResponse.
                    ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
                }
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Self { url, spans, stop: Some(stop) }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn decode(request: &ExportTraceServiceRequest) -> Vec<Span> {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut spans = Vec::new();
    for resource_spans in &request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
            spans.push(Span {
                service: service.clone(),
                name: span.name.clone(),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
            });
        }
    }
    spans
}

/// SIGTERM to every worker, and their clean exit (which flushes their spans).
async fn stop_workers(bridge: &mut Bridge) {
    for worker in bridge.workers.iter_mut() {
        let pid = worker.id().unwrap().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for worker in bridge.workers.iter_mut() {
        loop {
            if let Some(status) = worker.try_wait().unwrap() {
                assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the worker did not stop within 30 s of SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn one_documents_journey_is_one_trace_from_the_poller_to_jobber() {
    let collector = Collector::start();
    let mut bridge = Bridge::start("otel").await;
    bridge.env.push(("SJ_TELEMETRY__OTLP_ENDPOINT".into(), collector.url.clone()));
    bridge.start_consuming_worker().await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    // `--once` exited: its spans were flushed on the way out (the batch delay is 5 s).
    let poller: Vec<Span> = collector.spans().into_iter().filter(|s| s.service == "sj-poller").collect();
    let documents: Vec<&Span> = poller.iter().filter(|s| s.name == "document").collect();
    assert_eq!(documents.len(), 1, "one poller span per document: {poller:#?}");
    let root = documents[0].clone();
    assert_eq!(root.parent_span_id, "", "the poller's span starts the trace: {root:?}");

    bridge.wait_until("the quote", || async { bridge.worker_log_lines(&["quote created"]) == 1 }).await;
    let logged = bridge.worker_log(&["quote created"]);
    let logged_trace = logged[0]["span"]["trace_id"].as_str().unwrap_or_default().to_owned();
    stop_workers(&mut bridge).await;

    let spans = collector.spans();
    let trace: Vec<&Span> = spans.iter().filter(|s| s.trace_id == root.trace_id).collect();
    assert_eq!(logged_trace, root.trace_id, "the worker logs the trace the poller's span began");
    let attempt = trace
        .iter()
        .find(|s| s.service == "sj-worker" && s.name == "document")
        .unwrap_or_else(|| panic!("the worker's span in the poller's trace: {spans:#?}"));
    assert_eq!(attempt.parent_span_id, root.span_id, "the worker's attempt is a child of the poller's span");
    // Every Jobber request of the document is a span under the worker's attempt, quoteCreate among them.
    let jobber: Vec<&&Span> = trace.iter().filter(|s| s.name.starts_with("jobber ")).collect();
    assert!(jobber.iter().any(|s| s.name == "jobber CreateQuote"), "{trace:#?}");
    for span in &jobber {
        assert_eq!(span.service, "sj-worker");
        // The parent chain reaches the worker's attempt, then the poller's span.
        let mut parent = span.parent_span_id.clone();
        while parent != attempt.span_id {
            let up = trace.iter().find(|s| s.span_id == parent);
            parent = up
                .unwrap_or_else(|| panic!("{span:?}: its parent is not in the trace"))
                .parent_span_id
                .clone();
        }
    }
    // Nothing of this document lands in another trace.
    assert!(trace.iter().all(|s| s.service == "sj-worker" || s.service == "sj-poller"));
    bridge.stop().await;
}

#[tokio::test]
async fn a_collector_that_is_not_there_changes_nothing() {
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut bridge = Bridge::start("otel-down").await;
    bridge.env.push(("SJ_TELEMETRY__OTLP_ENDPOINT".into(), format!("http://127.0.0.1:{closed}")));
    bridge.start_consuming_worker().await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");

    let started = Instant::now();
    let out = bridge.command("sj-poller", "sj-poller").arg("--once").output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 published"));
    assert!(started.elapsed() < Duration::from_secs(20), "the poller took {:?}", started.elapsed());
    assert!(stderr.contains("cannot export spans to the OTLP collector"), "a warning: {stderr}");

    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(bridge.worker_log_lines(&["quote created"]), 1);
    let stopping = Instant::now();
    stop_workers(&mut bridge).await;
    assert!(stopping.elapsed() < Duration::from_secs(20), "the worker took {:?} to stop", stopping.elapsed());
    bridge.stop().await;
}
