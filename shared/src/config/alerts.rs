//! `[alerts]`: the alerter's email digests of dead letters (docs/operations.md, "Alerts
//! (sj-alerter)").

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{secs, HumanDuration, Secret};

/// `[alerts]`: the alerter's email digests of dead letters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// The mail server the digests are sent through.
    pub smtp: SmtpSettings,
    /// Sender address.
    pub from: String,
    /// Recipients (operators): `SJ_ALERTS__TO='["a@example.com","b@example.com"]'`.
    pub to: Vec<String>,
    /// Failures arriving within this window go out as one email.
    pub window: HumanDuration,
    /// At most this many documents per email.
    pub max_per_mail: usize,
    /// The RabbitMQ management UI, for links in the emails.
    pub rabbitmq_ui_url: String,
    /// When Jobber has been failing for every document this long (the workers' shared circuit
    /// breaker open), a worker sends the alerter one notice per outage, emailed as "Jobber has been
    /// failing for every document for N min", and another when Jobber answers again. Read by the
    /// workers.
    pub outage_after: HumanDuration,
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
            outage_after: secs(10 * 60),
        }
    }
}

/// `[alerts.smtp]`: the SMTP server (a relay).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// The SMTP server (relay).
    pub host: String,
    /// Its port (usually 587 for STARTTLS and 465 for implicit TLS).
    pub port: u16,
    /// `none`, `starttls` or `tls` (implicit TLS, usually port 465); certificates are checked
    /// against the system's store.
    pub tls: SmtpTls,
    /// With the password, for SMTP AUTH.
    pub username: Option<String>,
    /// The SMTP password: `SJ_ALERTS__SMTP__PASSWORD` or `alerts.smtp.password_file`.
    #[serde(skip_serializing)]
    pub password: Option<Secret>,
    /// A file holding `alerts.smtp.password` (trailing line breaks are dropped).
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

impl AlertSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if self.to.is_empty() {
            problems.push("alerts.to: at least one recipient is needed".to_owned());
        }
        if self.max_per_mail == 0 {
            problems.push("alerts.max_per_mail: must be at least 1".to_owned());
        }
    }
}
