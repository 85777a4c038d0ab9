//! `[telemetry]`: exporting the bridge's traces over OTLP/HTTP (docs/architecture.md, "Tracing (OpenTelemetry)").

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::HumanDuration;

/// The standard variable naming an OTLP collector, used when `telemetry.otlp_endpoint` is empty.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// `[telemetry]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// The collector's OTLP/HTTP base URL (`http://localhost:4318`; `/v1/traces` is appended).
    /// Empty (the default): `$OTEL_EXPORTER_OTLP_ENDPOINT` if set, else nothing is exported.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans; empty: the program's name (`sj-worker`…).
    pub service_name: String,
    /// The share of documents whose traces are kept (0.0 to 1.0), decided where the trace starts
    /// (the poller); later steps follow that decision.
    pub sample_ratio: f64,
    /// How long one batch of spans may take to reach the collector (and the most the exit waits).
    pub export_timeout: HumanDuration,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            service_name: String::new(),
            sample_ratio: 1.0,
            export_timeout: HumanDuration(Duration::from_secs(5)),
        }
    }
}

impl TelemetrySettings {
    /// Where spans go (the full `…/v1/traces` URL), or None when export is off: from
    /// `otlp_endpoint`, else from `$OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn traces_url(&self) -> Option<String> {
        self.traces_url_with(std::env::var(OTLP_ENDPOINT_ENV).ok())
    }

    fn traces_url_with(&self, from_env: Option<String>) -> Option<String> {
        let base = Some(self.otlp_endpoint.trim().to_owned())
            .filter(|e| !e.is_empty())
            .or_else(|| from_env.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()))?;
        Some(format!("{}/v1/traces", base.trim_end_matches('/')))
    }

    /// The service name for `program`.
    pub fn service_name_or<'a>(&'a self, program: &'a str) -> &'a str {
        match self.service_name.trim() {
            "" => program,
            name => name,
        }
    }

    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        self.validate_with(std::env::var(OTLP_ENDPOINT_ENV).ok(), problems)
    }

    fn validate_with(&self, from_env: Option<String>, problems: &mut Vec<String>) {
        let is_url = |e: &str| {
            let rest = e.strip_prefix("http://").or_else(|| e.strip_prefix("https://"));
            rest.is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace))
        };
        let endpoint = self.otlp_endpoint.trim();
        if !endpoint.is_empty() && !is_url(endpoint) {
            problems.push(format!(
                "telemetry.otlp_endpoint: {endpoint:?} must be an http:// or https:// URL such as \
                 http://localhost:4318 (or empty: no export)"
            ));
        } else if let Some(env) = from_env.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            if endpoint.is_empty() && !is_url(env) {
                problems.push(format!(
                    "{OTLP_ENDPOINT_ENV}: {env:?} must be an http:// or https:// URL such as \
                     http://localhost:4318 (used because telemetry.otlp_endpoint is empty)"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            problems
                .push(format!("telemetry.sample_ratio: {} must be between 0.0 and 1.0", self.sample_ratio));
        }
        let timeout = self.export_timeout.0;
        if timeout.is_zero() || timeout > Duration::from_secs(60) {
            problems.push(format!(
                "telemetry.export_timeout: {} must be more than 0 and at most 1m",
                humantime::format_duration(timeout)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(settings: &TelemetrySettings, env: Option<&str>) -> Vec<String> {
        let mut problems = Vec::new();
        settings.validate_with(env.map(str::to_owned), &mut problems);
        problems
    }

    #[test]
    fn off_by_default() {
        let settings = TelemetrySettings::default();
        assert!(problems(&settings, None).is_empty());
        assert_eq!(settings.traces_url_with(None), None);
        assert_eq!(settings.traces_url_with(Some(" ".into())), None);
        assert_eq!(settings.service_name_or("sj-worker"), "sj-worker");
    }

    #[test]
    fn the_endpoint_comes_from_the_setting_else_the_standard_variable() {
        let mut settings = TelemetrySettings::default();
        let env = Some("http://collector:4318/".to_owned());
        assert_eq!(settings.traces_url_with(env.clone()).as_deref(), Some("http://collector:4318/v1/traces"));
        settings.otlp_endpoint = "https://otel.example.com".into();
        assert_eq!(settings.traces_url_with(env).as_deref(), Some("https://otel.example.com/v1/traces"));
        settings.service_name = "bridge-worker".into();
        assert_eq!(settings.service_name_or("sj-worker"), "bridge-worker");
    }

    #[test]
    fn problems_name_the_key() {
        let settings = TelemetrySettings {
            otlp_endpoint: "localhost:4318".into(),
            sample_ratio: 1.5,
            export_timeout: HumanDuration(Duration::ZERO),
            ..TelemetrySettings::default()
        };
        let found = problems(&settings, None);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("telemetry.otlp_endpoint: \"localhost:4318\""), "{found:?}");
        assert!(found[1].starts_with("telemetry.sample_ratio: 1.5"), "{found:?}");
        assert!(found[2].starts_with("telemetry.export_timeout: 0s"), "{found:?}");

        let found = problems(&TelemetrySettings::default(), Some("collector:4318"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("OTEL_EXPORTER_OTLP_ENDPOINT: \"collector:4318\""), "{found:?}");
        // A valid setting wins over a bad variable, which is then not used at all.
        let settings = TelemetrySettings {
            otlp_endpoint: "http://127.0.0.1:4318".into(),
            ..TelemetrySettings::default()
        };
        assert!(problems(&settings, Some("collector:4318")).is_empty());
    }
}
