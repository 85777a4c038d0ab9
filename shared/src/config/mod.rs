//! Configuration: one typed [`Settings`], layered from defaults, one TOML file (`--config` or
//! `SJ_CONFIG`) and the environment (`SJ_` + the key path in upper case, `__` between levels:
//! `SJ_PARSER__MAX_DEPTH=40`), then validated at start with errors that name the key.
//!
//! Secrets (tokens, passwords, client secrets) come only from the environment or from a file
//! named in the configuration (`<key>_file`); a secret written in the TOML file is refused, and
//! a [`Secret`] never prints its value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::saberis::{Limits, SanityRules};

mod health;
mod mapping;
mod quote;
mod secret;
mod telemetry;

pub use health::HealthSettings;
pub use mapping::{
    AddressAgreement, CsvStoreSettings, MappingSettings, MappingStoreKind, NoMatch, SheetsStoreSettings,
    Strategy, UnnamedCustomer,
};
pub use quote::{PoQuoteMissing, PriceField, PricingSettings, QuoteSettings, Rounding};
pub use secret::{Secret, SecretUrl, HIDDEN};
pub use telemetry::{TelemetrySettings, OTLP_ENDPOINT_ENV};

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "SJ_CONFIG";

/// Every setting of the bridge. Defaults serve the local demo.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Prefix of every exchange, queue and Redis key (empty: none), so several installations or
    /// test runs share one broker and one Redis without meeting.
    pub namespace: String,
    pub log: LogSettings,
    /// Span export over OTLP (off unless an endpoint is given).
    pub telemetry: TelemetrySettings,
    /// What the parser refuses before reading a document whole.
    pub parser: Limits,
    /// The dealer's rules for a plausible order.
    pub sanity: SanityRules,
    pub jobber: JobberSettings,
    pub amqp: AmqpSettings,
    pub redis: RedisSettings,
    pub poller: PollerSettings,
    pub worker: WorkerSettings,
    pub mapping: MappingSettings,
    pub pricing: PricingSettings,
    pub quote: QuoteSettings,
    pub alerts: AlertSettings,
    /// `/healthz`, `/readyz` and `/metrics` of the long-running processes.
    pub health: HealthSettings,
}

/// `[alerts]`: the alerter's email digests of dead letters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    pub smtp: SmtpSettings,
    /// Sender address.
    pub from: String,
    /// Recipients (operators).
    pub to: Vec<String>,
    /// Failures arriving within this window go out as one email.
    pub window: HumanDuration,
    /// At most this many documents per email.
    pub max_per_mail: usize,
    /// The RabbitMQ management UI, for links in the emails.
    pub rabbitmq_ui_url: String,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            smtp: SmtpSettings::default(),
            from: "sj-bridge@localhost".to_owned(),
            to: vec!["operators@localhost".to_owned()],
            window: secs(60),
            max_per_mail: 50,
            rabbitmq_ui_url: "http://127.0.0.1:15672".to_owned(),
        }
    }
}

/// `[alerts.smtp]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls` (implicit TLS, usually port 465).
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// Secret: `SJ_ALERTS__SMTP__PASSWORD` or `password_file`.
    #[serde(skip_serializing)]
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    /// Timeout of one SMTP exchange.
    pub timeout: HumanDuration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 25,
            tls: SmtpTls::None,
            username: None,
            password: None,
            password_file: None,
            timeout: secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// `[worker]`: how workers write quotes to Jobber.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Documents one worker process handles at once.
    pub concurrency: usize,
    /// How long a worker holds a document's intent lease while writing it; another worker (or a
    /// redelivery after a crash) waits this long before looking the quote up in Jobber itself.
    pub intent_lease: HumanDuration,
    /// For this long after Redis is found without the bridge's records (a new installation, or
    /// Redis lost its data), every document is looked up among its client's quotes in Jobber
    /// before it is written: what Redis forgot cannot tell that a quote was already written.
    /// After that, only documents with a sign of an earlier attempt are looked up.
    pub recheck_after_redis_reset: HumanDuration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self { concurrency: 4, intent_lease: secs(300), recheck_after_redis_reset: secs(7 * 24 * 3600) }
    }
}

/// A duration written the human way in the configuration: `"5s"`, `"30m"`, `"1h 30m"`, `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(HumanDuration).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration such as \"5s\" or \"30m\" ({e})"))
        })
    }
}

fn secs(n: u64) -> HumanDuration {
    HumanDuration(Duration::from_secs(n))
}

/// `[amqp]`: RabbitMQ.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:port/vhost` (`%2f` is the default vhost `/`). Holds the broker
    /// password: set it with `SJ_AMQP__URL` in production. Prints without it (a [`SecretUrl`]).
    #[serde(skip_serializing)]
    pub url: SecretUrl,
    /// Redeliveries after which the broker dead-letters a message that keeps failing a worker.
    pub delivery_limit: u32,
    /// The retry tiers, shortest first: a transient failure waits in the next tier's queue.
    pub retry_delays: Vec<HumanDuration>,
    /// Unacknowledged deliveries per worker consumer.
    pub prefetch: u16,
    /// How long a process keeps trying to reach the broker at start.
    pub connect_timeout: HumanDuration,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: SecretUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f").expect("a valid URL"),
            delivery_limit: 5,
            retry_delays: vec![secs(5), secs(30), secs(300), secs(1800)],
            prefetch: 10,
            connect_timeout: secs(30),
        }
    }
}

impl AmqpSettings {
    /// `host:port/vhost` of the URL, without credentials: safe to print.
    pub fn endpoint(&self) -> String {
        self.url.endpoint()
    }
}

/// `[redis]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port/db`. Set it with `SJ_REDIS__URL` when it holds a password.
    /// Prints without it (a [`SecretUrl`]).
    #[serde(skip_serializing)]
    pub url: SecretUrl,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self { url: SecretUrl::parse("redis://127.0.0.1:6379/0").expect("a valid URL") }
    }
}

/// `[poller]`: where Saberis documents come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollerSettings {
    pub folder: FolderSettings,
    pub saberis_connect: SaberisConnectSettings,
    /// Recognise a document whose content was already published (a re-export of the same
    /// design) and archive it without publishing it again.
    pub skip_published: bool,
    /// Messages awaiting the broker's confirmation at once.
    pub max_in_flight: usize,
}

impl Default for PollerSettings {
    fn default() -> Self {
        Self {
            folder: FolderSettings::default(),
            saberis_connect: SaberisConnectSettings::default(),
            skip_published: true,
            max_in_flight: 256,
        }
    }
}

/// `[poller.saberis_connect]`: the SaberisConnect REST API, polled for new exports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaberisConnectSettings {
    pub enabled: bool,
    /// The API's base; `/api/v1/...` is appended (`https://connect.saberis.com:9000` for the real
    /// service; the sandbox serves it under `/saberis`).
    pub base_url: String,
    /// The long-lived token from Saberis' settings page: `SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN`,
    /// or a file named by `auth_token_file`.
    #[serde(skip_serializing)]
    pub auth_token: Option<Secret>,
    pub auth_token_file: Option<PathBuf>,
    /// How often the export list is fetched.
    pub poll_interval: HumanDuration,
    /// Timeout of one HTTP request.
    pub request_timeout: HumanDuration,
}

impl Default for SaberisConnectSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            base_url: "http://127.0.0.1:8787/saberis".to_owned(),
            auth_token: None,
            auth_token_file: None,
            poll_interval: secs(30),
            request_timeout: secs(20),
        }
    }
}

/// `[poller.folder]`: the watched folder (the default source).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FolderSettings {
    pub enabled: bool,
    /// Where Saberis exports arrive (`*.xml`, `*.json`).
    pub incoming: PathBuf,
    /// Published documents move to `archive/YYYY-MM-DD/`.
    pub archive: PathBuf,
    /// Refused documents move here, each with `NAME.error.txt` beside it.
    pub rejected: PathBuf,
    /// A file is taken once its size and modification time have not changed for this long
    /// (a file renamed into the folder is complete at once and waits no longer than this).
    pub settle: HumanDuration,
    /// Full rescans of the folder, a safety net behind the file-system events.
    pub rescan_interval: HumanDuration,
}

impl Default for FolderSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            incoming: PathBuf::from("exports/incoming"),
            archive: PathBuf::from("exports/archive"),
            rejected: PathBuf::from("exports/rejected"),
            settle: HumanDuration(Duration::from_millis(500)),
            rescan_interval: secs(30),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `auto` (human on a terminal, JSON otherwise), `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter: `info`, `debug`, `sj_shared=debug,info`...
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Auto, level: "info".to_owned() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

/// `[jobber]`: the Jobber account the workers write to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobberSettings {
    /// Base URL of Jobber's API (the sandbox's by default).
    pub api_url: String,
    /// The `X-JOBBER-GRAPHQL-VERSION` sent with every request.
    pub graphql_version: String,
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret: `SJ_JOBBER__CLIENT_SECRET`, or a file named by
    /// `client_secret_file`.
    #[serde(skip_serializing)]
    pub client_secret: Option<Secret>,
    pub client_secret_file: Option<PathBuf>,
    /// A refresh token to start from when Redis holds none yet (first start, or Redis lost its
    /// data): `SJ_JOBBER__REFRESH_TOKEN` or `refresh_token_file`. Once used, the rotated tokens
    /// live in Redis.
    #[serde(skip_serializing)]
    pub refresh_token: Option<Secret>,
    pub refresh_token_file: Option<PathBuf>,
    /// The custom field (text, on quotes) that carries the bridge's marker; when the account has
    /// none, the marker goes at the end of the quote title.
    pub marker_field: String,
    /// Timeout of one request to Jobber.
    pub request_timeout: HumanDuration,
}

impl Default for JobberSettings {
    fn default() -> Self {
        Self {
            api_url: "http://127.0.0.1:8787".to_owned(),
            graphql_version: "2025-04-16".to_owned(),
            client_id: "sandbox-client-id".to_owned(),
            client_secret: None,
            client_secret_file: None,
            refresh_token: None,
            refresh_token_file: None,
            marker_field: "Saberis reference".to_owned(),
            request_timeout: secs(30),
        }
    }
}

/// Keys that hold secrets: refused in the TOML file.
const SECRET_KEYS: &[&str] = &[
    "jobber.client_secret",
    "jobber.refresh_token",
    "poller.saberis_connect.auth_token",
    "alerts.smtp.password",
];

/// A configuration that cannot be used, with every problem found, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  {}", .problems.join("\n  "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: impl Into<String>) -> Self {
        Self { problems: vec![problem.into()] }
    }
}

impl Settings {
    /// Loads the settings: defaults, then the file (`path`, else `$SJ_CONFIG`, else none), then
    /// the environment; resolves secret files; validates.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let env_path = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
        let path = path.map(Path::to_path_buf).or(env_path);
        Self::load_from(path.as_deref(), Env::prefixed("SJ_"))
    }

    /// [`Settings::load`] with the environment given, for tests.
    pub fn load_from(path: Option<&Path>, env: Env) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError::one(format!("config file {} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let figment = figment.merge(env.split("__").ignore(&["config"]));

        for key in SECRET_KEYS {
            let from_file = figment.find_metadata(key).is_some_and(|m| m.name.contains("TOML"));
            if from_file {
                let env = format!("SJ_{}", key.to_uppercase().replace('.', "__"));
                return Err(ConfigError::one(format!(
                    "{key}: a secret must not be written in the config file; set {env} or {key}_file"
                )));
            }
        }

        let mut settings: Settings = figment.extract().map_err(|errors| ConfigError {
            problems: errors
                .into_iter()
                .map(|e| {
                    let key = e.path.join(".");
                    let source =
                        e.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
                    if key.is_empty() {
                        format!("{}{source}", e.kind)
                    } else {
                        format!("{key}: {}{source}", e.kind)
                    }
                })
                .collect(),
        })?;
        resolve_secret_file(
            &mut settings.jobber.client_secret,
            settings.jobber.client_secret_file.as_deref(),
            "jobber.client_secret",
        )?;
        resolve_secret_file(
            &mut settings.jobber.refresh_token,
            settings.jobber.refresh_token_file.as_deref(),
            "jobber.refresh_token",
        )?;
        let smtp = &mut settings.alerts.smtp;
        resolve_secret_file(&mut smtp.password, smtp.password_file.as_deref(), "alerts.smtp.password")?;
        let connect = &mut settings.poller.saberis_connect;
        resolve_secret_file(
            &mut connect.auth_token,
            connect.auth_token_file.as_deref(),
            "poller.saberis_connect.auth_token",
        )?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot; every problem names its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let valid_namespace =
            self.namespace.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_namespace {
            problems.push(format!(
                "namespace: {:?} may hold only letters, digits, '-', '_' and '.'",
                self.namespace
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problems.push(format!("log.level: {:?} is not a valid filter: {e}", self.log.level));
        }
        if self.parser.max_bytes == 0 || self.parser.max_bytes > 1 << 30 {
            problems.push(format!(
                "parser.max_document_bytes: {} must be between 1 and 1073741824 (1 GiB)",
                self.parser.max_bytes
            ));
        }
        if !(6..=1000).contains(&self.parser.max_depth) {
            problems.push(format!(
                "parser.max_depth: {} must be between 6 (a Saberis document needs 6) and 1000",
                self.parser.max_depth
            ));
        }
        if let Some(max) = self.sanity.max_unit_price {
            if max <= rust_decimal::Decimal::ZERO {
                problems.push(format!(
                    "sanity.max_unit_price: {max} must be above zero (or \"off\" to disable the rule)"
                ));
            }
        }
        if !self.jobber.api_url.starts_with("http://") && !self.jobber.api_url.starts_with("https://") {
            problems.push(format!(
                "jobber.api_url: {:?} must be an http:// or https:// URL",
                self.jobber.api_url
            ));
        }
        let version = self.jobber.graphql_version.as_bytes();
        let is_date = version.len() == 10
            && version
                .iter()
                .enumerate()
                .all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
        if !is_date {
            problems.push(format!(
                "jobber.graphql_version: {:?} must be a date such as 2025-04-16",
                self.jobber.graphql_version
            ));
        }
        if !self.amqp.url.has_scheme(&["amqp", "amqps"]) {
            problems.push(format!("amqp.url: must start with amqp:// or amqps:// (found {})", self.amqp.url));
        }
        if self.amqp.retry_delays.is_empty() {
            problems.push("amqp.retry_delays: at least one retry tier is needed".to_owned());
        }
        if self.amqp.retry_delays.windows(2).any(|w| w[0].0 >= w[1].0) {
            problems.push("amqp.retry_delays: the tiers must grow, shortest first".to_owned());
        }
        if self.amqp.prefetch == 0 {
            problems.push("amqp.prefetch: must be at least 1".to_owned());
        }
        if !self.redis.url.has_scheme(&["redis", "rediss"]) {
            problems
                .push(format!("redis.url: must start with redis:// or rediss:// (found {})", self.redis.url));
        }
        let connect = &self.poller.saberis_connect;
        if connect.enabled && connect.auth_token.is_none() {
            problems.push(
                "poller.saberis_connect.auth_token: required when the SaberisConnect source is enabled \
                 (SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN or poller.saberis_connect.auth_token_file)"
                    .to_owned(),
            );
        }
        if !connect.base_url.starts_with("http://") && !connect.base_url.starts_with("https://") {
            problems.push("poller.saberis_connect.base_url: must be an http:// or https:// URL".to_owned());
        }
        let retry_total: Duration = self.amqp.retry_delays.iter().map(|d| d.0).sum();
        if self.worker.intent_lease.0 >= retry_total {
            problems.push(format!(
                "worker.intent_lease: {} must be shorter than the retry tiers together ({}), or a document \
                 held by a crashed worker is parked before its lease expires",
                humantime::format_duration(self.worker.intent_lease.0),
                humantime::format_duration(retry_total)
            ));
        }
        if self.alerts.to.is_empty() {
            problems.push("alerts.to: at least one recipient is needed".to_owned());
        }
        if self.alerts.max_per_mail == 0 {
            problems.push("alerts.max_per_mail: must be at least 1".to_owned());
        }
        if self.worker.concurrency == 0 {
            problems.push("worker.concurrency: must be at least 1".to_owned());
        }
        if self.poller.max_in_flight == 0 {
            problems.push("poller.max_in_flight: must be at least 1".to_owned());
        }
        self.mapping.validate(&mut problems);
        self.pricing.validate(&mut problems);
        self.quote.validate(&mut problems);
        self.telemetry.validate(&mut problems);
        self.health.validate(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// Fills a secret from its `_file` when it was not set directly.
fn resolve_secret_file(
    secret: &mut Option<Secret>,
    file: Option<&Path>,
    key: &str,
) -> Result<(), ConfigError> {
    match (secret.as_ref(), file) {
        (Some(_), Some(_)) => {
            Err(ConfigError::one(format!("{key}: set either the secret or {key}_file, not both")))
        }
        (None, Some(path)) => {
            let value = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::one(format!("{key}_file: cannot read {}: {e}", path.display())))?;
            *secret = Some(Secret::new(value.trim_end_matches(['\n', '\r'])));
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml(content: &str) -> tempfile_path::TempToml {
        tempfile_path::TempToml::new(content)
    }

    /// A TOML file in the temp dir, removed on drop (no tempfile dependency for one test helper).
    mod tempfile_path {
        pub struct TempToml(pub std::path::PathBuf);
        impl TempToml {
            pub fn new(content: &str) -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "sj-config-test-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&path, content).unwrap();
                Self(path)
            }
        }
        impl Drop for TempToml {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    /// An environment provider that sees only variables with a prefix unique to the test.
    fn env(prefix: &str, vars: &[(&str, &str)]) -> Env {
        for (k, v) in vars {
            std::env::set_var(format!("{prefix}{k}"), v);
        }
        Env::prefixed(prefix)
    }

    #[test]
    fn defaults_are_valid() {
        let settings = Settings::load_from(None, env("SJT_NONE_", &[])).unwrap();
        assert_eq!(settings.parser.max_bytes, 16 * 1024 * 1024);
        assert_eq!(settings.sanity.max_unit_price, Some("100000.00".parse().unwrap()));
    }

    #[test]
    fn file_then_environment_override() {
        let file = toml(
            "namespace = \"from-file\"\n[parser]\nmax_depth = 20\n[sanity]\nmax_unit_price = \"5000\"\n",
        );
        let settings =
            Settings::load_from(Some(&file.0), env("SJT_OVR_", &[("PARSER__MAX_DEPTH", "40")])).unwrap();
        assert_eq!(settings.namespace, "from-file");
        assert_eq!(settings.parser.max_depth, 40);
        assert_eq!(settings.sanity.max_unit_price, Some("5000".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_key() {
        let file = toml("[parser]\nmax_depth = \"deep\"\n");
        let err = Settings::load_from(Some(&file.0), env("SJT_BAD_", &[])).unwrap_err();
        assert!(err.to_string().contains("parser.max_depth"), "{err}");

        let file = toml("[parser]\nmax_depht = 3\n");
        let err = Settings::load_from(Some(&file.0), env("SJT_TYPO_", &[])).unwrap_err();
        assert!(err.to_string().contains("max_depht"), "{err}");

        let err = Settings::load_from(None, env("SJT_RANGE_", &[("PARSER__MAX_DEPTH", "2")])).unwrap_err();
        assert!(err.to_string().contains("parser.max_depth: 2 must be between"), "{err}");
        assert!(err.to_string().contains("SJT_RANGE_") || err.to_string().contains("parser.max_depth"));
    }

    #[test]
    fn secrets_are_refused_in_the_file_and_never_printed() {
        let file = toml("[jobber]\nclient_secret = \"hunter2\"\n");
        let err = Settings::load_from(Some(&file.0), env("SJT_SEC1_", &[])).unwrap_err();
        assert!(err.to_string().contains("SJ_JOBBER__CLIENT_SECRET"), "{err}");
        assert!(!err.to_string().contains("hunter2"));

        let settings =
            Settings::load_from(None, env("SJT_SEC2_", &[("JOBBER__CLIENT_SECRET", "hunter2")])).unwrap();
        assert_eq!(settings.jobber.client_secret.as_ref().map(Secret::expose), Some("hunter2"));
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("***"));
    }

    #[test]
    fn urls_are_parsed_at_load_and_printed_without_their_password() {
        let vars = [
            ("AMQP__URL", "amqp://bridge:amqp-pw-XYZ@mq:5672/prod"),
            ("REDIS__URL", "redis://:redis-pw-XYZ@db:6379/2"),
        ];
        let settings = Settings::load_from(None, env("SJT_URL1_", &vars)).unwrap();
        assert_eq!(settings.amqp.url.expose(), "amqp://bridge:amqp-pw-XYZ@mq:5672/prod");
        assert_eq!(settings.amqp.endpoint(), "mq:5672/prod");
        assert_eq!(settings.redis.url.password().unwrap().expose(), "redis-pw-XYZ");
        let printed = format!("{settings:?}");
        assert!(!printed.contains("pw-XYZ"), "{printed}");
        assert!(printed.contains("amqp://bridge:***@mq:5672/prod"), "{printed}");
        assert!(printed.contains("redis://:***@db:6379/2"), "{printed}");

        let vars = [("AMQP__URL", "amqp://bridge:amqp-pw-XYZ@mq:port/prod")];
        let err = Settings::load_from(None, env("SJT_URL2_", &vars)).unwrap_err().to_string();
        assert!(err.contains("amqp.url: not a URL") && err.contains("invalid port"), "{err}");
        assert!(!err.contains("pw-XYZ"), "{err}");

        let vars = [("REDIS__URL", "http://:redis-pw-XYZ@db:6379/2")];
        let err = Settings::load_from(None, env("SJT_URL3_", &vars)).unwrap_err().to_string();
        assert!(err.contains("redis.url: must start with redis:// or rediss://"), "{err}");
        assert!(err.contains("http://:***@db:6379/2") && !err.contains("pw-XYZ"), "{err}");
    }

    #[test]
    fn secrets_can_come_from_a_file() {
        let secret = toml("s3cret\n");
        let file = toml(&format!("[jobber]\nclient_secret_file = {:?}\n", secret.0));
        let settings = Settings::load_from(Some(&file.0), env("SJT_SEC3_", &[])).unwrap();
        assert_eq!(settings.jobber.client_secret.unwrap().expose(), "s3cret");
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err =
            Settings::load_from(Some(Path::new("/nonexistent/sj.toml")), env("SJT_MISS_", &[])).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/sj.toml"), "{err}");
    }
}
