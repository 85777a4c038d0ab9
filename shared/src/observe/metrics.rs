//! Every metric the bridge exposes, in one registry per process (the `prometheus-client` crate),
//! named after Prometheus' conventions with the `sj_` prefix. docs/operations.md ("Health and
//! metrics") lists them; `deploy/observability/` (dashboard, alert rules) uses them, and a test
//! checks that every name used there is registered here.
//!
//! Counters and histograms are incremented where things happen (through the helpers below, so
//! that the label values stay few and fixed); gauges whose value depends on the time of the
//! scrape (the access token's remaining lifetime, the Jobber budget refilled since its last
//! report, the mapping table's age) are computed when `/metrics` is read, and left out until the
//! process knows them.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// Buckets of `sj_document_latency_seconds`: a document normally takes well under a second, a
/// retried one minutes (the retry tiers), a parked-then-replayed one hours.
const DOCUMENT_LATENCY_BUCKETS: &[f64] =
    &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0];
/// Buckets of `sj_jobber_request_duration_seconds` (the request timeout is 30 s by default).
const JOBBER_LATENCY_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// `folder` or `saberis-connect`.
    pub source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectedLabels {
    pub source: &'static str,
    /// The failure kind (`parse.invalid-value`, `sanity.price-above-limit`…).
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The failure kind, as in the `sj-error-kind` header.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierLabels {
    /// The retry tier's delay (`5s`, `30s`, `5m`, `30m`), as in its queue's name.
    pub tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The GraphQL operation's name (`CreateQuote`).
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: &'static str,
    /// `ok` (Jobber answered with data), or what failed: `unavailable`, `throttled`,
    /// `unauthorized`, `invalid` (userErrors are counted apart: `sj_jobber_user_errors_total`).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MutationLabels {
    /// The mutation's field (`quoteCreate`).
    pub mutation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignalLabels {
    /// `throttled` (a GraphQL error with code THROTTLED) or `http_429`.
    pub signal: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EmailErrorLabels {
    /// `transient` (tried again) or `permanent` (refused for good).
    pub error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// The queue's full name (with the namespace).
    pub queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProgramLabels {
    pub program: String,
    pub version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn document_latency() -> Histogram {
    Histogram::new(DOCUMENT_LATENCY_BUCKETS.iter().copied())
}

fn jobber_latency() -> Histogram {
    Histogram::new(JOBBER_LATENCY_BUCKETS.iter().copied())
}

/// The process's metrics. One per process: [`super::metrics`].
pub struct Metrics {
    registry: Registry,
    families: Vec<String>,
    // sj-poller
    pub documents_seen: Family<SourceLabels, Counter>,
    pub documents_published: Family<SourceLabels, Counter>,
    pub documents_duplicate: Family<SourceLabels, Counter>,
    pub documents_rejected: Family<RejectedLabels, Counter>,
    // sj-worker
    pub quotes_created: Counter,
    pub quote_lines_added: Counter,
    pub documents_already_written: Counter,
    pub clients_created: Counter,
    pub retries: Family<TierLabels, Counter>,
    pub document_latency: Histogram,
    pub documents_waiting_for_budget: Gauge,
    pub lease_waits: Counter,
    pub worker_paused: Gauge,
    pub jobber_breaker_open: Gauge,
    // sj-poller (rejected documents) and sj-worker
    pub dead_letters: Family<KindLabels, Counter>,
    // Jobber (every process with a Jobber client)
    pub jobber_requests: Family<RequestLabels, Counter>,
    pub jobber_request_duration: HistogramFamily<OperationLabels>,
    pub jobber_rate_limited: Family<SignalLabels, Counter>,
    pub jobber_user_errors: Family<MutationLabels, Counter>,
    // sj-alerter
    pub alerts_received: Family<KindLabels, Counter>,
    pub alert_emails_sent: Counter,
    pub alert_emails_failed: Family<EmailErrorLabels, Counter>,
    pub alerts_undeliverable: Counter,
    // every process
    pub consuming: Family<QueueLabels, Gauge>,
    pub ready: Gauge,
    build_info: Family<ProgramLabels, Gauge>,
    /// What is computed at scrape time.
    live: std::sync::Arc<Live>,
}

/// Values whose exposed figure depends on when it is read.
#[derive(Debug, Default)]
struct Live {
    state: Mutex<LiveState>,
}

#[derive(Debug, Default)]
struct LiveState {
    /// Unix seconds of the access token's expiry, as this process last saw it.
    token_expires_at: Option<u64>,
    /// The last `throttleStatus` (available, maximum, restore rate per second) and when it came.
    budget: Option<(f64, f64, f64, Instant)>,
    /// Rows of the mapping index and when it was loaded (Unix seconds).
    mapping: Option<(u64, u64)>,
}

impl Metrics {
    pub(super) fn new() -> Self {
        let mut registry = Registry::default();
        let mut families = Vec::new();
        fn exposed(name: &'static str, metric_type: MetricType) -> String {
            match metric_type {
                MetricType::Counter => format!("{name}_total"),
                _ => name.to_owned(),
            }
        }
        fn type_of<M: TypedMetric>(_: &M) -> MetricType {
            M::TYPE
        }
        macro_rules! register {
            ($name:literal, $help:literal, $metric:expr) => {{
                let metric = $metric;
                families.push(exposed($name, type_of(&metric)));
                registry.register($name, $help, metric.clone());
                metric
            }};
        }
        let live = std::sync::Arc::new(Live::default());
        let metrics = Metrics {
            documents_seen: register!(
                "sj_documents_seen",
                "Saberis documents the poller read, by source (folder, saberis-connect)",
                Family::default()
            ),
            documents_published: register!(
                "sj_documents_published",
                "Quote messages the broker confirmed, by source",
                Family::default()
            ),
            documents_duplicate: register!(
                "sj_documents_duplicate",
                "Documents archived without publishing: same content as one already published, by source",
                Family::default()
            ),
            documents_rejected: register!(
                "sj_documents_rejected",
                "Documents refused by the parser or the sanity rules (kept in rejected/ and dead-lettered), by source and failure kind",
                Family::default()
            ),
            quotes_created: register!("sj_quotes_created", "Quotes the worker created in Jobber", Counter::default()),
            quote_lines_added: register!(
                "sj_quote_lines_added",
                "Line items the worker added to existing Jobber quotes (documents routed to a quote by its number)",
                Counter::default()
            ),
            documents_already_written: register!(
                "sj_documents_already_written",
                "Documents found already written in Jobber (a redelivery, a re-export): nothing written",
                Counter::default()
            ),
            clients_created: register!(
                "sj_clients_created",
                "Clients created in Jobber (clientCreate accepted)",
                Counter::default()
            ),
            retries: register!(
                "sj_retries",
                "Documents sent to a retry tier after a transient failure, by tier (its delay)",
                Family::default()
            ),
            document_latency: register!(
                "sj_document_latency_seconds",
                "From the poller publishing a document (header sj-first-seen) to its quote created or its lines added in Jobber",
                document_latency()
            ),
            documents_waiting_for_budget: register!(
                "sj_documents_waiting_for_budget",
                "Documents this worker holds (no lock taken) until Jobber's budget (request window, cost bucket) has room again",
                Gauge::default()
            ),
            lease_waits: register!(
                "sj_lease_waits",
                "Looks (about one a second) a worker took at another attempt's lease on a document it holds, waiting for it instead of spending a retry tier",
                Counter::default()
            ),
            worker_paused: register!(
                "sj_worker_paused",
                "1 while this worker takes no documents because Jobber is failing for everyone (the shared circuit breaker is open) or Redis does not answer",
                Gauge::default()
            ),
            jobber_breaker_open: register!(
                "sj_jobber_breaker_open",
                "1 while this worker sees the shared Jobber circuit breaker open (Jobber failing for every document), else 0",
                Gauge::default()
            ),
            dead_letters: register!(
                "sj_dead_letters",
                "Documents dead-lettered (parked for an operator), by failure kind",
                Family::default()
            ),
            jobber_requests: register!(
                "sj_jobber_requests",
                "GraphQL requests to Jobber, by operation and outcome",
                Family::default()
            ),
            jobber_request_duration: register!(
                "sj_jobber_request_duration_seconds",
                "Time of one GraphQL operation against Jobber (budget wait, token refresh and HTTP), by operation",
                HistogramFamily::<OperationLabels>::new_with_constructor(jobber_latency)
            ),
            jobber_rate_limited: register!(
                "sj_jobber_rate_limited",
                "Jobber answers that refused a request for its limits: throttled (GraphQL THROTTLED) or http_429",
                Family::default()
            ),
            jobber_user_errors: register!(
                "sj_jobber_user_errors",
                "Jobber mutations answered with userErrors (refused input), by mutation",
                Family::default()
            ),
            alerts_received: register!(
                "sj_alerts_received",
                "Dead letters the alerter received, by failure kind",
                Family::default()
            ),
            alert_emails_sent: register!(
                "sj_alert_emails_sent",
                "Alert emails the SMTP server accepted",
                Counter::default()
            ),
            alert_emails_failed: register!(
                "sj_alert_emails_failed",
                "Alert emails the SMTP server did not take, by error (transient: tried again; permanent)",
                Family::default()
            ),
            alerts_undeliverable: register!(
                "sj_alerts_undeliverable",
                "Alerts the SMTP server refused for good, parked in sj.alerts.undeliverable",
                Counter::default()
            ),
            consuming: register!(
                "sj_consuming",
                "1 while this process has a consumer on the queue, else 0",
                Family::default()
            ),
            ready: register!("sj_ready", "1 when /readyz answers 200, else 0 (as of the last scrape)", Gauge::default()),
            build_info: register!("sj_build_info", "The program and its version (value 1)", Family::default()),
            live: live.clone(),
            registry: Registry::default(),
            families: Vec::new(),
        };
        registry.register_collector(Box::new(live));
        families.extend(LIVE_GAUGES.iter().map(|(name, _)| (*name).to_owned()));
        Metrics { registry, families, ..metrics }
    }

    /// The name of every metric family this process can expose (counters with their `_total`),
    /// whether or not it has a sample yet.
    pub fn families(&self) -> &[String] {
        &self.families
    }

    /// The registry in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Names the program in `sj_build_info`.
    pub fn set_program(&self, program: &str) {
        let labels = ProgramLabels { program: program.to_owned(), version: env!("CARGO_PKG_VERSION") };
        self.build_info.get_or_create(&labels).set(1);
    }

    // -- sj-poller

    pub fn document_seen(&self, source: &'static str) {
        self.documents_seen.get_or_create(&SourceLabels { source }).inc();
    }

    pub fn document_published(&self, source: &'static str) {
        self.documents_published.get_or_create(&SourceLabels { source }).inc();
    }

    pub fn document_duplicate(&self, source: &'static str) {
        self.documents_duplicate.get_or_create(&SourceLabels { source }).inc();
    }

    /// A refused document, dead-lettered (it counts as a dead letter too).
    pub fn document_rejected(&self, source: &'static str, kind: &str) {
        self.documents_rejected.get_or_create(&RejectedLabels { source, kind: kind.to_owned() }).inc();
        self.dead_letter(kind);
    }

    // -- sj-worker

    /// A quote created; `first_seen` is when the poller published the document (Unix ms).
    pub fn quote_created(&self, first_seen_ms: Option<i64>) {
        self.quotes_created.inc();
        self.observe_latency(first_seen_ms);
    }

    /// `lines` line items added to an existing quote.
    pub fn lines_added(&self, lines: usize, first_seen_ms: Option<i64>) {
        self.quote_lines_added.inc_by(lines as u64);
        self.observe_latency(first_seen_ms);
    }

    fn observe_latency(&self, first_seen_ms: Option<i64>) {
        let Some(first_seen) = first_seen_ms else { return };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        // Clocks of two hosts may disagree a little: never a negative latency.
        self.document_latency.observe((now - first_seen).max(0) as f64 / 1000.0);
    }

    /// A document sent to a retry tier, named as its queue names it (`5s`, `30s`:
    /// `amqp::tier_name`).
    pub fn retried(&self, tier: &str) {
        self.retries.get_or_create(&TierLabels { tier: tier.to_owned() }).inc();
    }

    pub fn dead_letter(&self, kind: &str) {
        self.dead_letters.get_or_create(&KindLabels { kind: kind.to_owned() }).inc();
    }

    // -- Jobber

    pub fn jobber_request(&self, operation: &'static str, outcome: &'static str, took: Duration) {
        self.jobber_requests.get_or_create(&RequestLabels { operation, outcome }).inc();
        self.jobber_request_duration
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// `signal`: `throttled` or `http_429`.
    pub fn jobber_limited(&self, signal: &'static str) {
        self.jobber_rate_limited.get_or_create(&SignalLabels { signal }).inc();
    }

    pub fn jobber_user_error(&self, mutation: &str) {
        self.jobber_user_errors.get_or_create(&MutationLabels { mutation: mutation.to_owned() }).inc();
    }

    /// A `throttleStatus` Jobber reported.
    pub fn jobber_budget(&self, available: f64, maximum: f64, restore_rate: f64) {
        self.live.with(|s| s.budget = Some((available, maximum, restore_rate, Instant::now())));
    }

    /// The access token this process uses now expires at `expires_at` (Unix seconds); None
    /// after a disconnect.
    pub fn access_token_expiry(&self, expires_at: Option<u64>) {
        self.live.with(|s| s.token_expires_at = expires_at);
    }

    /// The mapping index as Redis holds it: its rows and when it was loaded (Unix seconds);
    /// None when it cannot be read.
    pub fn mapping_index(&self, index: Option<(u64, u64)>) {
        self.live.with(|s| s.mapping = index);
    }

    // -- sj-alerter

    pub fn alert_received(&self, kind: &str) {
        self.alerts_received.get_or_create(&KindLabels { kind: kind.to_owned() }).inc();
    }

    /// `error`: `transient` or `permanent`.
    pub fn alert_email_failed(&self, error: &'static str) {
        self.alert_emails_failed.get_or_create(&EmailErrorLabels { error }).inc();
    }

    // -- every process

    pub fn set_consuming(&self, queue: &str, consuming: bool) {
        self.consuming.get_or_create(&QueueLabels { queue: queue.to_owned() }).set(i64::from(consuming));
    }
}

impl Live {
    fn with(&self, f: impl FnOnce(&mut LiveState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The scrape-time gauges, each described always and given a value once known.
const LIVE_GAUGES: &[(&str, &str)] = &[
    (
        "sj_jobber_budget_available_points",
        "Jobber's query-cost budget available now, estimated from the last throttleStatus refilled at its restore rate.",
    ),
    ("sj_jobber_budget_maximum_points", "Jobber's query-cost budget at its fullest (throttleStatus.maximumAvailable)."),
    (
        "sj_jobber_access_token_expiry_timestamp_seconds",
        "When the Jobber access token this process last used expires (Unix time).",
    ),
    (
        "sj_jobber_access_token_remaining_seconds",
        "Seconds until the Jobber access token this process last used expires (negative: expired; refreshed on the next request).",
    ),
    ("sj_mapping_rows", "Rows of the mapping table in the Redis index the workers look up."),
    ("sj_mapping_age_seconds", "Seconds since the mapping index was loaded from the table (CSV file or Google Sheet)."),
];

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (token, budget, mapping) = {
            let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            (s.token_expires_at, s.budget, s.mapping)
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let values: [Option<f64>; 6] = [
            budget.map(|(available, max, rate, at)| (available + rate * at.elapsed().as_secs_f64()).min(max)),
            budget.map(|(_, max, _, _)| max),
            token.map(|t| t as f64),
            token.map(|t| (t as f64 - now).round()),
            mapping.map(|(rows, _)| rows as f64),
            mapping.map(|(_, loaded)| (now - loaded as f64).max(0.0).round()),
        ];
        for ((name, help), value) in LIVE_GAUGES.iter().zip(values) {
            let metric_encoder = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            if let Some(value) = value {
                ConstGauge::new(value).encode(metric_encoder)?;
            }
        }
        Ok(())
    }
}

impl Metrics {
    /// A registry of its own with a sample in every family (each labelled one once): what
    /// `/metrics` shows of a process that did everything, for checks of the format
    /// (`cargo run -p sj-shared --example metrics`, `promtool check metrics`).
    pub fn example() -> Metrics {
        let metrics = Metrics::new();
        metrics.set_program("sj-example");
        metrics.document_seen("folder");
        metrics.document_published("folder");
        metrics.document_duplicate("folder");
        metrics.document_rejected("folder", "parse.invalid-value");
        metrics.quote_created(Some(0));
        metrics.lines_added(2, None);
        metrics.documents_already_written.inc();
        metrics.clients_created.inc();
        metrics.retried("5s");
        metrics.jobber_request("Account", "ok", Duration::from_millis(5));
        metrics.jobber_limited("throttled");
        metrics.jobber_user_error("quoteCreate");
        metrics.alert_received("jobber.user-error");
        metrics.alert_emails_sent.inc();
        metrics.alert_email_failed("transient");
        metrics.alerts_undeliverable.inc();
        metrics.set_consuming("sj.quotes", true);
        metrics.jobber_budget(5000.0, 10000.0, 500.0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        metrics.access_token_expiry(Some(now + 3600));
        metrics.mapping_index(Some((12, now - 60)));
        metrics
    }
}

/// The process's one set of metrics.
pub(super) fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Families named in `# TYPE` lines.
    fn families(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| {
                let mut parts = l.split(' ');
                (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned())
            })
            .collect()
    }

    #[test]
    fn every_family_is_described_before_it_is_used() {
        let metrics = Metrics::example();
        let text = metrics.encode();
        let names = families(&text);
        for (name, kind) in &names {
            assert!(name.starts_with("sj_"), "{name}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{name}");
            }
        }
        let described: Vec<&String> = names.iter().map(|(n, _)| n).collect();
        let listed: Vec<&String> = metrics.families().iter().collect();
        assert_eq!(described, listed, "families() lists what is exposed, in order");
        for wanted in [
            "sj_documents_seen_total",
            "sj_dead_letters_total",
            "sj_document_latency_seconds",
            "sj_jobber_requests_total",
            "sj_jobber_access_token_remaining_seconds",
            "sj_mapping_age_seconds",
        ] {
            assert!(names.iter().any(|(n, _)| n == wanted), "{wanted} missing from\n{text}");
        }
    }

    #[test]
    fn scrape_time_gauges_wait_until_known() {
        let metrics = Metrics::new();
        let text = metrics.encode();
        assert!(text.contains("# TYPE sj_jobber_access_token_remaining_seconds gauge"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("sj_jobber_access_token_remaining_seconds ")), "{text}");
        metrics.access_token_expiry(Some(1));
        metrics.access_token_expiry(None);
        assert!(!metrics.encode().lines().any(|l| l.starts_with("sj_jobber_access_token")));
    }

    #[test]
    fn counters_and_gauges_show_what_happened() {
        let metrics = Metrics::new();
        metrics.document_seen("folder");
        metrics.document_seen("folder");
        metrics.document_rejected("folder", "parse.invalid-value");
        metrics.retried("30s");
        metrics.quote_created(Some(
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64 - 1500,
        ));
        metrics.jobber_request("CreateQuote", "ok", Duration::from_millis(20));
        metrics
            .access_token_expiry(Some(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 600));
        metrics.jobber_budget(5000.0, 10000.0, 500.0);
        metrics.set_program("sj-test");
        let text = metrics.encode();
        let sample = |prefix: &str| -> f64 {
            let line =
                text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}\n{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert_eq!(sample("sj_documents_seen_total{source=\"folder\"}"), 2.0);
        assert_eq!(
            sample("sj_documents_rejected_total{source=\"folder\",kind=\"parse.invalid-value\"}"),
            1.0
        );
        assert_eq!(sample("sj_dead_letters_total{kind=\"parse.invalid-value\"}"), 1.0);
        assert_eq!(sample("sj_retries_total{tier=\"30s\"}"), 1.0);
        assert_eq!(sample("sj_quotes_created_total"), 1.0);
        assert_eq!(sample("sj_document_latency_seconds_bucket{le=\"1\"}"), 0.0);
        assert_eq!(sample("sj_document_latency_seconds_bucket{le=\"2.5\"}"), 1.0);
        assert_eq!(sample("sj_jobber_requests_total{operation=\"CreateQuote\",outcome=\"ok\"}"), 1.0);
        assert_eq!(sample("sj_jobber_request_duration_seconds_count{operation=\"CreateQuote\"}"), 1.0);
        let remaining = sample("sj_jobber_access_token_remaining_seconds ");
        assert!((595.0..=600.0).contains(&remaining), "{remaining}");
        let available = sample("sj_jobber_budget_available_points ");
        assert!((5000.0..=10000.0).contains(&available), "{available}");
        assert_eq!(sample("sj_jobber_budget_maximum_points "), 10000.0);
        assert!(text.contains("sj_build_info{program=\"sj-test\""), "{text}");
    }
}
