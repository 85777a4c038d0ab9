//! Configuration: one typed [`Settings`], layered from defaults, one TOML file (`--config` or
//! `SJ_CONFIG`) and the environment (`SJ_` + the key path in upper case, `__` between levels:
//! `SJ_PARSER__MAX_DEPTH=40`), then validated at start with errors that name the key.
//!
//! Secrets (tokens, passwords, client secrets) come only from the environment or from a file
//! named in the configuration (`<key>_file`); a secret written in the TOML file is refused, and
//! a [`Secret`] never prints its value.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::intake::SanityRules;
use crate::saberis::Limits;

mod alerts;
mod amqp;
mod console;
mod duration;
mod health;
mod jobber;
mod jobs;
mod log;
mod mapping;
mod poller;
mod quote;
mod redis;
mod review;
mod secret;
mod telemetry;
mod worker;

pub use self::redis::RedisSettings;
pub use alerts::{AlertSettings, SmtpSettings, SmtpTls};
pub use amqp::AmqpSettings;
pub use console::ConsoleSettings;
use duration::secs;
pub use duration::HumanDuration;
pub use health::HealthSettings;
pub use jobber::JobberSettings;
pub use jobs::{JobLinePrice, JobsSettings};
pub use log::{LogFormat, LogSettings};
pub use mapping::{
    AddressAgreement, CsvStoreSettings, MappingSettings, MappingStoreKind, NoMatch, SheetsStoreSettings,
    Strategy, UnnamedCustomer,
};
pub use poller::{parse_day, FolderSettings, PollerSettings, SaberisConnectSettings, StartFrom};
pub use quote::{
    MsrpLines, PoQuoteMissing, Presentation, PriceField, PricingSettings, QuoteSettings, Rounding,
    UnpricedCatalog,
};
pub use review::{ReviewRule, ReviewSettings};
pub use secret::{Secret, SecretUrl, HIDDEN};
pub use telemetry::{TelemetrySettings, OTLP_ENDPOINT_ENV};
pub use worker::WorkerSettings;

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "SJ_CONFIG";

/// Every setting of the bridge. Defaults serve the local demo.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Prefix of every exchange, queue and Redis key (empty: none), so several installations or
    /// test runs share one broker and one Redis without meeting.
    pub namespace: String,
    /// What the processes log, and how.
    pub log: LogSettings,
    /// Span export over OTLP (off unless an endpoint is given).
    pub telemetry: TelemetrySettings,
    /// What the parser refuses before reading a document whole.
    pub parser: Limits,
    /// The dealer's rules for a plausible order.
    pub sanity: SanityRules,
    /// The Jobber account the workers write to.
    pub jobber: JobberSettings,
    /// RabbitMQ.
    pub amqp: AmqpSettings,
    /// Redis.
    pub redis: RedisSettings,
    /// Where Saberis documents come from.
    pub poller: PollerSettings,
    /// How workers write quotes to Jobber.
    pub worker: WorkerSettings,
    /// Who each Saberis customer is in Jobber.
    pub mapping: MappingSettings,
    /// From the document's prices to the quote's.
    pub pricing: PricingSettings,
    /// What the quote says, and where its lines go.
    pub quote: QuoteSettings,
    /// How a document's lines are written to the Jobber job its PO names.
    pub jobs: JobsSettings,
    /// The alerter's email digests of dead letters.
    pub alerts: AlertSettings,
    /// `/healthz`, `/readyz` and `/metrics` of the long-running processes.
    pub health: HealthSettings,
    /// `sj-console`, the dealer's web console.
    pub console: ConsoleSettings,
    /// Which documents wait for a person's approval in the console.
    pub review: ReviewSettings,
}

/// Keys that hold secrets: refused in the TOML file, each read from the environment or its
/// `<key>_file`. `shared/tests/config_table.rs` checks that this lists exactly the `Option<Secret>`
/// settings.
pub const SECRET_KEYS: &[&str] = &[
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
        // `SJ_SANDBOX_*` are the sandbox's own settings (sj-sandbox shares the image and often the
        // environment): not the bridge's, so not refused as unknown keys.
        let env = env.filter(|key| !key.as_str().to_ascii_lowercase().starts_with("sandbox_"));
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

    /// Checks what types alone cannot: each section checks itself, and every problem names its
    /// key.
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
        self.log.validate(&mut problems);
        self.telemetry.validate(&mut problems);
        self.parser.validate(&mut problems);
        self.sanity.validate(&mut problems);
        self.jobber.validate(&mut problems);
        self.amqp.validate(&mut problems);
        self.redis.validate(&mut problems);
        self.poller.validate(&mut problems);
        self.worker.validate(&self.amqp.retry_delays, &mut problems);
        self.mapping.validate(&mut problems);
        self.pricing.validate(&mut problems);
        self.quote.validate(&mut problems);
        self.jobs.validate(&mut problems);
        self.alerts.validate(&mut problems);
        self.health.validate(&mut problems);
        self.console.validate(&mut problems);
        self.review.validate(&mut problems);
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
    fn the_sandboxs_own_variables_are_not_the_bridges_settings() {
        let vars = [("SANDBOX_HEALTH__LISTEN", "0.0.0.0:9600"), ("PARSER__MAX_DEPTH", "40")];
        let settings = Settings::load_from(None, env("SJT_SBX_", &vars)).unwrap();
        assert_eq!(settings.parser.max_depth, 40);
        let err = Settings::load_from(None, env("SJT_SBX2_", &[("SANDBOXY", "1")])).unwrap_err();
        assert!(err.to_string().contains("sandboxy"), "{err}");
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

    /// `Settings::validate` asks every section: one bad value in each, and each problem names
    /// its key.
    #[test]
    fn every_section_validates_itself_and_names_its_keys() {
        let mut settings = Settings { namespace: "a b".to_owned(), ..Settings::default() };
        settings.log.level = "[".to_owned();
        settings.telemetry.sample_ratio = 2.0;
        settings.parser.max_depth = 2;
        settings.sanity.max_unit_price = Some(rust_decimal::Decimal::ZERO);
        settings.jobber.graphql_version = "latest".to_owned();
        settings.amqp.prefetch = 0;
        settings.redis.url = SecretUrl::parse("http://db:6379").unwrap();
        settings.poller.max_in_flight = 0;
        settings.worker.concurrency = 0;
        settings.mapping.strategies.clear();
        settings.pricing.round_to = rust_decimal::Decimal::ZERO;
        settings.quote.title = " ".to_owned();
        settings.alerts.to.clear();
        settings.console.sign_in_attempts = 0;
        settings.review.when = vec!["sometimes".to_owned()];
        let problems = settings.validate().unwrap_err().problems;
        let keys = [
            "namespace:",
            "log.level:",
            "telemetry.sample_ratio:",
            "parser.max_depth:",
            "sanity.max_unit_price:",
            "jobber.graphql_version:",
            "amqp.prefetch:",
            "redis.url:",
            "poller.max_in_flight:",
            "worker.concurrency:",
            "mapping.strategies:",
            "pricing.round_to:",
            "quote.title:",
            "alerts.to:",
            "console.sign_in_attempts:",
            "review.when:",
        ];
        for key in keys {
            assert!(problems.iter().any(|p| p.starts_with(key)), "no problem names {key}: {problems:#?}");
        }
        assert_eq!(problems.len(), keys.len(), "{problems:#?}");
    }

    #[test]
    fn the_intent_lease_is_checked_against_the_retry_tiers() {
        let mut settings = Settings::default();
        settings.amqp.retry_delays = vec![secs(5), secs(20)];
        let problems = settings.validate().unwrap_err().problems;
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0]
            .starts_with("worker.intent_lease: 30s must be shorter than the retry tiers together (25s)"));
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err =
            Settings::load_from(Some(Path::new("/nonexistent/sj.toml")), env("SJT_MISS_", &[])).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/sj.toml"), "{err}");
    }
}
