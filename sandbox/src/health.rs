//! `/healthz`, `/readyz` and `/metrics` of the sandbox, on a port of their own (`[health]`, off
//! unless `listen` is set), as the bridge's processes serve theirs, so a container's health check
//! (`sjctl probe`) and Prometheus treat it alike. The metrics are the request counters of
//! `/_admin/counters`, in the Prometheus text format, named `sj_sandbox_*`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::context::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if *shared.shutdown.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: stopping\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

/// The counters as they are now, in a registry made for this scrape.
pub fn encode(shared: &Shared) -> String {
    let counters = shared.counters.snapshot();
    let mut registry = Registry::default();
    let by_route = |values: &std::collections::BTreeMap<String, u64>| {
        let family = Family::<RouteLabels, Counter>::default();
        for (route, n) in values {
            family.get_or_create(&RouteLabels { route: route.clone() }).inc_by(*n);
        }
        family
    };
    registry.register(
        "sj_sandbox_requests",
        "Requests served, by route pattern",
        by_route(&counters.requests),
    );
    registry.register(
        "sj_sandbox_faults_served",
        "Injected faults served, by route pattern",
        by_route(&counters.faults_served),
    );
    let operations = Family::<OperationLabels, Counter>::default();
    for (operation, n) in &counters.graphql_operations {
        operations.get_or_create(&OperationLabels { operation: operation.clone() }).inc_by(*n);
    }
    registry.register(
        "sj_sandbox_graphql_operations",
        "GraphQL requests that reached the Jobber API, by operation name",
        operations,
    );
    for (name, help, value) in [
        ("sj_sandbox_throttled", "GraphQL requests answered THROTTLED", counters.throttled),
        ("sj_sandbox_too_many_requests", "Requests answered 429", counters.too_many_requests),
        ("sj_sandbox_unauthorized", "Requests refused 401 for a bad or expired token", counters.unauthorized),
    ] {
        let counter = Counter::<u64>::default();
        counter.inc_by(value);
        registry.register(name, help, counter);
    }
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).expect("writing to a String");
    text
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let content_type = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
    ([(header::CONTENT_TYPE, content_type)], encode(&shared)).into_response()
}

/// Writes the address to connect to (loopback for a wildcard listen address) to `file`, whole
/// (a temporary file renamed over it): what `sjctl probe --address-file` reads.
pub fn write_address(file: &Path, addr: SocketAddr) -> std::io::Result<()> {
    let addr = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    };
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let temporary = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    std::fs::write(&temporary, format!("{addr}\n"))?;
    std::fs::rename(&temporary, file)
}
