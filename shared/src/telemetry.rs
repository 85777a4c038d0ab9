//! Telemetry, set up in one place for every binary: `tracing` to stderr, human-readable on a
//! terminal and JSON lines otherwise (containers, CI, log shippers). Stdout stays free for what
//! a command prints as its result (`sjctl parse` writes messages there).
//!
//! With `telemetry.otlp_endpoint` (or `$OTEL_EXPORTER_OTLP_ENDPOINT`) set, the bridge's own spans
//! (targets `sj_*`, info and above, whatever `log.level` says) are also exported over OTLP/HTTP
//! in batches from the SDK's background thread ([`otlp`]); [`shutdown`] flushes them at exit. A
//! document's trace is the W3C `traceparent` its message carries: the poller's span makes it
//! ([`traceparent`]), each worker attempt continues it ([`continue_trace`]).

mod otlp;

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::filter::{filter_fn, FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, LogSettings, TelemetrySettings};

/// The target of spans that are exported but never shown in the logs (a Jobber request): a log
/// line inside one still shows the document's span and its `trace_id`.
pub const EXPORT_ONLY: &str = "sj_otel";

/// The exporting provider, kept for [`shutdown`].
static PROVIDER: Mutex<Option<(SdkTracerProvider, Duration)>> = Mutex::new(None);

/// Installs the global subscriber: logs, plus span export when `telemetry` names a collector;
/// `program` is the default `service.name`. `RUST_LOG`, when set, wins over `log.level`. Safe to
/// call twice (the second call does nothing). Call [`shutdown`] before the process exits.
pub fn init_traced(program: &str, log: &LogSettings, telemetry: Option<&TelemetrySettings>) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info")));
    let json = match log.format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let filter = filter.and(filter_fn(|meta| !meta.target().starts_with(EXPORT_ONLY)));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().flatten_event(true).with_current_span(true).with_filter(filter).boxed()
    } else {
        fmt.with_target(false).with_filter(filter).boxed()
    };
    let exporter = telemetry.and_then(|t| Some((t, t.traces_url()?))).and_then(|(t, url)| {
        match otlp::provider(t.service_name_or(program), &url, t) {
            Ok(provider) => Some((provider, url, t.export_timeout.0)),
            Err(e) => {
                // Never a reason not to start: the bridge runs, untraced.
                eprintln!("{program}: OpenTelemetry export off: {e}");
                None
            }
        }
    });
    let otel = exporter.as_ref().map(|(provider, _, _)| {
        use opentelemetry::trace::TracerProvider as _;
        // Only the bridge's spans (and the events in them), independent of the log level.
        let ours = Targets::new().with_target("sj_", LevelFilter::INFO);
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("sj"))
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(ours)
    });
    let installed = tracing_subscriber::registry().with(fmt).with(otel).try_init().is_ok();
    if let Some((provider, url, timeout)) = exporter {
        if installed {
            tracing::info!(endpoint = %url, "exporting traces over OTLP/HTTP");
            *PROVIDER.lock().unwrap_or_else(|e| e.into_inner()) = Some((provider, timeout));
        } else {
            let _ = provider.shutdown();
        }
    }
}

/// Sends the spans not exported yet and stops the exporter: at most `telemetry.export_timeout`
/// (plus a second) when the collector does not answer. Does nothing when nothing is exported.
pub fn shutdown() {
    let Some((provider, timeout)) = PROVIDER.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    // The export runs on the SDK's own thread with its own runtime, so waiting here (even on a
    // Tokio worker) cannot deadlock.
    if let Err(e) = provider.shutdown_with_timeout(timeout + Duration::from_secs(1)) {
        tracing::warn!(error = %e, "could not flush the last spans to the OTLP collector");
    }
}

/// The W3C `traceparent` of `span` (`00-<trace id>-<span id>-<flags>`), when it is exported; None
/// when no exporter is installed (the caller makes one up, as before tracing was exported).
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    let span_ref = cx.span();
    let sc = span_ref.span_context();
    sc.is_valid().then(|| format!("00-{}-{}-{:02x}", sc.trace_id(), sc.span_id(), sc.trace_flags().to_u8()))
}

/// Makes `span` (just created, not entered yet) a child of the span that `traceparent` names, so
/// it joins that trace. Nothing happens without an exporter or with a malformed header.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    let carrier = std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}
