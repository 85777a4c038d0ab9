//! Fault injection and request counters, as one middleware around every service route.
//!
//! Faults are set per route (the route pattern, e.g. `/api/graphql` or
//! `/saberis/api/v1/export/json/{guid}`; `*` applies to every route without its own entry) and
//! are deterministic: "the next N requests" counters are consumed in order, and the error rate is
//! drawn from a generator seeded by the spec's `seed`, so a test sees the same sequence on every
//! run.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// What to do to one route's requests. Every field defaults to "nothing".
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Route pattern, or `*` for all routes.
    pub route: String,
    /// Seed of the error-rate draws.
    pub seed: u64,
    /// Answer the next N requests with `status`.
    pub fail_next: u32,
    /// Fraction (0..=1) of requests answered with `status`, drawn from the seeded generator.
    pub error_rate: f64,
    /// 500, 502 or 503 (default 503).
    pub status: Option<u16>,
    /// Delay added before every request is handled.
    pub latency_ms: u64,
    /// Hold the next N requests without answering (for `hold_ms`, then drop the connection).
    pub timeout_next: u32,
    /// Fraction (0..=1) of requests held as `timeout_next` holds them, drawn from the seeded
    /// generator (after `error_rate`'s draw, from the same generator).
    pub timeout_rate: f64,
    /// How long a held request is held (default 60 s; shutdown releases it early).
    pub hold_ms: Option<u64>,
    /// Drop the connection of the next N requests without a complete response.
    pub reset_next: u32,
    /// Jobber GraphQL only: answer the next N requests THROTTLED.
    pub throttle_next: u32,
    /// Answer the next N requests with HTTP 429.
    pub too_many_next: u32,
    /// Handle the next N requests (the work is done: a mutation writes), then lose the response:
    /// after `hold_ms` (default: at once) the connection drops without an answer. The classic
    /// "lost response" that makes a naive retry write twice.
    pub lose_response_next: u32,
    /// Apply this spec only to requests whose body contains this text (e.g. `quoteCreate`);
    /// other requests on the route pass untouched.
    pub body_contains: Option<String>,
    /// Jobber GraphQL only: answer the next N requests, unhandled, with HTTP 200 and a
    /// `userErrors` entry on the operation's first field, as Jobber reports a business rule.
    pub user_error_next: u32,
    /// The message of those user errors.
    pub user_error_message: Option<String>,
    /// Jobber GraphQL only: answer the next N requests, unhandled, with HTTP 200 and
    /// `{"data": null, "errors": [{"message", "extensions": {"code"}}]}`, as a GraphQL server
    /// refuses a request (e.g. a field the app's scopes do not allow).
    pub graphql_error_next: u32,
    /// The message of that error (default `Sandbox: injected GraphQL error`).
    pub graphql_error_message: Option<String>,
    /// Its `extensions.code`; without one the error has no `extensions`.
    pub graphql_error_code: Option<String>,
}

/// Marks a GraphQL request the handler must answer THROTTLED (the body needs its cost).
#[derive(Clone, Copy, Debug)]
pub struct ForcedThrottle;

/// What the middleware does with one request.
#[derive(Debug, PartialEq)]
enum Action {
    Pass,
    Error(StatusCode),
    Hold(Duration),
    Reset,
    Throttle,
    TooMany,
    LoseResponse(Duration),
    UserError(String),
    GraphqlError { message: String, code: Option<String> },
}

impl Action {
    /// The kind a fault is counted under (`None` for a request passed on).
    fn kind(&self) -> Option<&'static str> {
        Some(match self {
            Action::Pass => return None,
            Action::Error(_) => "error",
            Action::Hold(_) => "timeout",
            Action::Reset => "reset",
            Action::Throttle => "throttle",
            Action::TooMany => "too_many",
            Action::LoseResponse(_) => "lost_response",
            Action::UserError(_) => "user_error",
            Action::GraphqlError { .. } => "graphql_error",
        })
    }
}

struct RouteFaults {
    spec: FaultSpec,
    rng: u64,
}

/// The faults of every route.
#[derive(Default)]
pub struct Faults {
    routes: Mutex<HashMap<String, RouteFaults>>,
}

/// splitmix64: tiny, good enough for reproducible draws, no dependency.
fn next_random(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

impl Faults {
    /// Sets (replaces) the faults of a route.
    pub fn set(&self, spec: FaultSpec) {
        let rng = spec.seed;
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(spec.route.clone(), RouteFaults { spec, rng });
    }

    /// The current specs (counters show what is left).
    pub fn list(&self) -> Vec<FaultSpec> {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let mut specs: Vec<FaultSpec> = routes.values().map(|r| r.spec.clone()).collect();
        specs.sort_by(|a, b| a.route.cmp(&b.route));
        specs
    }

    pub fn clear(&self) {
        self.routes.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Whether the middleware must read the request body before deciding.
    fn needs_body(&self, route: &str) -> bool {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let key = if routes.contains_key(route) { route } else { "*" };
        routes.get(key).is_some_and(|f| f.spec.body_contains.is_some() || f.spec.user_error_next > 0)
    }

    /// Decides the fate of one request on `route` (and its added latency); `body` is the request
    /// body when the spec filters on it.
    fn decide(&self, route: &str, body: Option<&[u8]>) -> (Duration, Action) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let key = if routes.contains_key(route) { route } else { "*" };
        let Some(faults) = routes.get_mut(key) else { return (Duration::ZERO, Action::Pass) };
        if let (Some(needle), Some(body)) = (&faults.spec.body_contains, body) {
            let matches = body.windows(needle.len().max(1)).any(|w| w == needle.as_bytes());
            if !matches {
                return (Duration::ZERO, Action::Pass);
            }
        }
        let spec = &mut faults.spec;
        let latency = Duration::from_millis(spec.latency_ms);
        let status =
            spec.status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let action = if take(&mut spec.reset_next) {
            Action::Reset
        } else if take(&mut spec.timeout_next) {
            Action::Hold(Duration::from_millis(spec.hold_ms.unwrap_or(60_000)))
        } else if take(&mut spec.fail_next) {
            Action::Error(status)
        } else if take(&mut spec.too_many_next) {
            Action::TooMany
        } else if take(&mut spec.throttle_next) {
            Action::Throttle
        } else if take(&mut spec.user_error_next) {
            Action::UserError(
                spec.user_error_message.clone().unwrap_or_else(|| "Sandbox: injected user error".into()),
            )
        } else if take(&mut spec.graphql_error_next) {
            Action::GraphqlError {
                message: spec
                    .graphql_error_message
                    .clone()
                    .unwrap_or_else(|| "Sandbox: injected GraphQL error".into()),
                code: spec.graphql_error_code.clone(),
            }
        } else if take(&mut spec.lose_response_next) {
            Action::LoseResponse(Duration::from_millis(spec.hold_ms.unwrap_or(0)))
        } else if spec.error_rate > 0.0 && next_random(&mut faults.rng) < spec.error_rate {
            Action::Error(status)
        } else if spec.timeout_rate > 0.0 && next_random(&mut faults.rng) < spec.timeout_rate {
            Action::Hold(Duration::from_millis(spec.hold_ms.unwrap_or(60_000)))
        } else {
            Action::Pass
        };
        (latency, action)
    }
}

/// What the counters endpoint shows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CounterSnapshot {
    /// Requests per route pattern (faulted ones included).
    pub requests: BTreeMap<String, u64>,
    /// Faults served per route pattern.
    pub faults_served: BTreeMap<String, u64>,
    /// Faults served per kind, all routes together: `error` (an HTTP error status), `timeout`,
    /// `reset`, `too_many`, `throttle`, `user_error`, `graphql_error`, `lost_response`.
    #[serde(default)]
    pub faults_by_kind: BTreeMap<String, u64>,
    /// GraphQL requests answered THROTTLED (bucket or forced).
    pub throttled: u64,
    /// Requests answered 429 (window or forced).
    pub too_many_requests: u64,
    /// Requests refused 401 for a bad or expired token.
    pub unauthorized: u64,
    /// Query-cost points of the GraphQL requests that ran: requested (checked against the bucket
    /// before running) and actual (deducted after), summed.
    pub points_requested: u64,
    pub points_actual: u64,
    /// GraphQL requests that reached the Jobber API (faults served before it are not counted
    /// here), by operation name (`CreateQuote`; `(anonymous)` for an operation without one).
    #[serde(default)]
    pub graphql_operations: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct Counters {
    inner: Mutex<CounterSnapshot>,
}

impl Counters {
    fn with(&self, f: impl FnOnce(&mut CounterSnapshot)) {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()));
    }
    pub fn request(&self, route: &str) {
        self.with(|c| *c.requests.entry(route.to_string()).or_default() += 1);
    }
    pub fn fault(&self, route: &str, kind: &str) {
        self.with(|c| {
            *c.faults_served.entry(route.to_string()).or_default() += 1;
            *c.faults_by_kind.entry(kind.to_string()).or_default() += 1;
        });
    }
    pub fn throttled(&self) {
        self.with(|c| c.throttled += 1);
    }
    pub fn too_many(&self) {
        self.with(|c| c.too_many_requests += 1);
    }
    pub fn unauthorized(&self) {
        self.with(|c| c.unauthorized += 1);
    }
    pub fn points(&self, requested: u64, actual: u64) {
        self.with(|c| {
            c.points_requested += requested;
            c.points_actual += actual;
        });
    }
    pub fn graphql_operation(&self, name: &str) {
        self.with(|c| *c.graphql_operations.entry(name.to_string()).or_default() += 1);
    }
    pub fn snapshot(&self) -> CounterSnapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn reset(&self) {
        self.with(|c| *c = CounterSnapshot::default());
    }
}

/// A body that fails at once: hyper then closes the connection without completing the response,
/// which a client sees as a connection reset / incomplete message.
struct BrokenBody;

impl http_body::Body for BrokenBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sj-sandbox: injected reset",
        ))))
    }
}

fn broken_response() -> Response {
    Response::new(Body::new(BrokenBody))
}

fn too_many_response(route: &str) -> Response {
    if route.starts_with("/sheets") {
        let body = r#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' of service 'sheets.googleapis.com'.","status":"RESOURCE_EXHAUSTED"}}"#;
        (StatusCode::TOO_MANY_REQUESTS, [("content-type", "application/json; charset=UTF-8")], body)
            .into_response()
    } else {
        (StatusCode::TOO_MANY_REQUESTS, [("content-type", "text/plain")], TOO_MANY_REQUESTS_BODY)
            .into_response()
    }
}

/// The response key of the first field of a GraphQL request's operation (`quoteCreate`).
fn first_field(body: &[u8]) -> Option<String> {
    use async_graphql::parser::types::Selection;
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let document = async_graphql::parser::parse_query(request.get("query")?.as_str()?).ok()?;
    let (_, operation) = document.operations.iter().next()?;
    operation.node.selection_set.node.items.iter().find_map(|selection| match &selection.node {
        Selection::Field(field) => Some(field.node.response_key().node.to_string()),
        _ => None,
    })
}

/// Body of a 429: Rack::Attack's default throttled response, which Jobber's DDoS guard uses.
/// Jobber's request limit (`jobber::graphql`) and the injected `too_many` fault both send it.
pub const TOO_MANY_REQUESTS_BODY: &str = "Retry later\n";

/// The middleware (wired by the router): count, then apply the route's faults. `shutdown` lets
/// held connections go when the sandbox stops.
pub async fn apply(
    faults: &Faults,
    counters: &Counters,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    counters.request(&route);
    // A spec that filters on the body needs it read first (and put back for the handler).
    let (request, body) = match faults.needs_body(&route) {
        true => {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
            (Request::from_parts(parts, Body::from(bytes.clone())), Some(bytes))
        }
        false => (request, None),
    };
    let (latency, action) = faults.decide(&route, body.as_deref());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(kind) = action.kind() {
        counters.fault(&route, kind);
    }
    match action {
        Action::Pass => next.run(request).await,
        Action::Error(status) => {
            (status, status.canonical_reason().unwrap_or("Error").to_string()).into_response()
        }
        Action::Hold(duration) => {
            tokio::select! {
                _ = tokio::time::sleep(duration) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
            broken_response()
        }
        Action::Reset => broken_response(),
        Action::TooMany => {
            counters.too_many();
            too_many_response(&route)
        }
        Action::UserError(message) => {
            let field = body.as_deref().and_then(first_field).unwrap_or_else(|| "mutation".to_owned());
            let reply = serde_json::json!({"data": {field: {"userErrors": [{"message": message, "path": ["input"]}]}}});
            (StatusCode::OK, [("content-type", "application/json")], reply.to_string()).into_response()
        }
        Action::GraphqlError { message, code } => {
            let mut error = serde_json::json!({"message": message});
            if let Some(code) = code {
                error["extensions"] = serde_json::json!({"code": code});
            }
            let reply = serde_json::json!({"data": null, "errors": [error]});
            (StatusCode::OK, [("content-type", "application/json")], reply.to_string()).into_response()
        }
        Action::LoseResponse(hold) => {
            // The work is done; only the answer is lost.
            drop(next.run(request).await);
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
            broken_response()
        }
        Action::Throttle => {
            let mut request = request;
            request.extensions_mut().insert(ForcedThrottle);
            next.run(request).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_consumed_in_order_and_rate_is_reproducible() {
        let faults = Faults::default();
        faults.set(FaultSpec { route: "/x".into(), fail_next: 2, reset_next: 1, ..FaultSpec::default() });
        let actions: Vec<Action> = (0..4).map(|_| faults.decide("/x", None).1).collect();
        assert_eq!(actions[0], Action::Reset);
        assert_eq!(actions[1], Action::Error(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(actions[2], Action::Error(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(actions[3], Action::Pass);

        let draw = || {
            let f = Faults::default();
            f.set(FaultSpec {
                route: "*".into(),
                seed: 7,
                error_rate: 0.5,
                status: Some(502),
                ..FaultSpec::default()
            });
            (0..64).map(|_| f.decide("/y", None).1 != Action::Pass).collect::<Vec<_>>()
        };
        let first = draw();
        assert_eq!(first, draw());
        let failures = first.iter().filter(|f| **f).count();
        assert!((16..=48).contains(&failures), "{failures}");
    }

    #[test]
    fn timeout_rate_holds_a_reproducible_share_of_requests() {
        let draw = || {
            let f = Faults::default();
            f.set(FaultSpec {
                route: "*".into(),
                seed: 11,
                error_rate: 0.1,
                timeout_rate: 0.2,
                hold_ms: Some(1500),
                ..FaultSpec::default()
            });
            (0..400).map(|_| f.decide("/y", None).1).collect::<Vec<_>>()
        };
        let first = draw();
        assert_eq!(first, draw(), "the same seed, the same sequence");
        let held = first.iter().filter(|a| **a == Action::Hold(Duration::from_millis(1500))).count();
        let errors = first.iter().filter(|a| matches!(a, Action::Error(_))).count();
        // 20 % of the 90 % that were not errors: about 72 of 400.
        assert!((40..=110).contains(&held), "{held}");
        assert!((20..=65).contains(&errors), "{errors}");
        assert_eq!(Action::Hold(Duration::ZERO).kind(), Some("timeout"));
        assert_eq!(Action::Pass.kind(), None);
    }

    #[test]
    fn a_body_filter_applies_the_spec_to_matching_requests_only() {
        let faults = Faults::default();
        faults.set(FaultSpec {
            route: "/api/graphql".into(),
            lose_response_next: 1,
            hold_ms: Some(5),
            body_contains: Some("quoteCreate".into()),
            ..FaultSpec::default()
        });
        assert!(faults.needs_body("/api/graphql"));
        assert!(!faults.needs_body("/other"));
        let other = faults.decide("/api/graphql", Some(br#"{"query":"query { clients { nodes { id } } }"}"#));
        assert_eq!(other.1, Action::Pass);
        let create =
            faults.decide("/api/graphql", Some(br#"{"query":"mutation { quoteCreate(attributes: {}) }"}"#));
        assert_eq!(create.1, Action::LoseResponse(Duration::from_millis(5)));
        let again = faults.decide("/api/graphql", Some(br#"{"query":"mutation { quoteCreate }"}"#));
        assert_eq!(again.1, Action::Pass, "consumed");
    }

    #[test]
    fn graphql_errors_come_after_user_errors_and_before_lost_responses() {
        let faults = Faults::default();
        faults.set(FaultSpec {
            route: "/api/graphql".into(),
            user_error_next: 1,
            graphql_error_next: 1,
            graphql_error_code: Some("FORBIDDEN".into()),
            lose_response_next: 1,
            ..FaultSpec::default()
        });
        let body = Some(&br#"{"query":"{ clients { totalCount } }"}"#[..]);
        assert!(matches!(faults.decide("/api/graphql", body).1, Action::UserError(_)));
        assert_eq!(
            faults.decide("/api/graphql", body).1,
            Action::GraphqlError {
                message: "Sandbox: injected GraphQL error".into(),
                code: Some("FORBIDDEN".into())
            }
        );
        assert_eq!(faults.decide("/api/graphql", body).1, Action::LoseResponse(Duration::ZERO));
        assert_eq!(faults.decide("/api/graphql", body).1, Action::Pass);
    }

    #[test]
    fn user_errors_name_the_operations_first_field() {
        let body = br#"{"query":"mutation CreateQuote($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { id } } }"}"#;
        assert_eq!(first_field(body).as_deref(), Some("quoteCreate"));
        assert_eq!(first_field(b"not json"), None);
    }
}
