//! The sandbox's settings: every value has a default that the tests and the demo use as is.
//!
//! Facts that ../shared/reference/jobber-api.md and saberis.md mark as unconfirmed are settings
//! here (with the likeliest value as default), so a dealer or a test can rehearse the other case.
//! Loaded from a TOML file and `SJ_SANDBOX_`-prefixed environment variables by the binary
//! (see `main.rs`); tests build it in code with struct-update syntax.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The sandbox-only RSA public key matching `keys/sheets-service-account.SANDBOX-ONLY.key.pem`.
/// Both files are committed on purpose: they protect nothing and exist so that tests and the demo
/// can sign service-account assertions. Never use them anywhere else.
pub const SANDBOX_SHEETS_PUBLIC_KEY_PEM: &str =
    include_str!("../keys/sheets-service-account.SANDBOX-ONLY.pub.pem");
/// The private half of [`SANDBOX_SHEETS_PUBLIC_KEY_PEM`] (sandbox-only, see there).
pub const SANDBOX_SHEETS_PRIVATE_KEY_PEM: &str =
    include_str!("../keys/sheets-service-account.SANDBOX-ONLY.key.pem");

/// All settings of one sandbox instance.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// TCP port; 0 picks a free one.
    pub port: u16,
    /// Address to listen on: 127.0.0.1 unless set (`0.0.0.0` in a container, so the bridge's other
    /// containers reach it).
    pub bind: Option<std::net::IpAddr>,
    /// Where all data (clients, quotes, grants, documents, sheets…) is kept between runs, as JSON.
    /// `None`: in memory only.
    pub state_file: Option<PathBuf>,
    /// The clock every expiry, bucket and window is measured with.
    pub clock: ClockConfig,
    pub oauth: OAuthConfig,
    pub graphql: GraphqlConfig,
    pub limits: LimitsConfig,
    pub account: AccountConfig,
    pub webhooks: WebhooksConfig,
    pub saberis: SaberisConfig,
    pub sheets: SheetsConfig,
    pub health: HealthConfig,
}

/// `[health]`: `/healthz`, `/readyz` and `/metrics` on a port of their own, as the bridge's
/// processes serve theirs (`SJ_SANDBOX_HEALTH__LISTEN`, `SJ_SANDBOX_HEALTH__ADDRESS_FILE`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// `IP:port`; port 0 takes any free port. None (the default): not served.
    pub listen: Option<std::net::SocketAddr>,
    /// Where the bound address is written (`IP:port` and a newline), for `sjctl probe`.
    pub address_file: Option<PathBuf>,
}

/// Tests freeze the clock so that expiries and bucket refills happen only when they advance it
/// (`Sandbox::advance_clock` or `POST /_admin/clock/advance`): nothing depends on how fast the
/// machine is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// `true`: time stands still except when advanced explicitly.
    pub frozen: bool,
}

/// Jobber's OAuth app: the credentials the sandbox accepts and how it issues tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    pub client_id: String,
    /// Also the key of the webhooks' `X-Jobber-Hmac-SHA256`, as in Jobber.
    pub client_secret: String,
    /// HS256 key the sandbox signs its access tokens with. Jobber's own key is private; clients
    /// must treat the token as opaque apart from reading `exp`.
    pub jwt_signing_key: String,
    /// Access-token lifetime; Jobber documents 60 minutes.
    pub access_token_lifetime_secs: u64,
    /// Lifetime of an authorization code between the redirect and its exchange.
    pub authorization_code_lifetime_secs: u64,
    /// Jobber sometimes adds `"expires_at": "2024-04-09 21:04:31 UTC"` to the token response.
    pub include_expires_at: bool,
    /// HTTP status for a refresh with a rotated, revoked or unknown refresh token. Unconfirmed:
    /// the message is documented ("The provided refresh token is not valid."), the status is not.
    pub invalid_refresh_token_status: u16,
    /// `true`: `/api/oauth/authorize` redirects at once; `false`: it shows an approve page.
    pub auto_approve: bool,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            client_id: "sandbox-client-id".into(),
            client_secret: "sandbox-client-secret".into(),
            jwt_signing_key: "sandbox-jwt-signing-key-not-a-secret".into(),
            access_token_lifetime_secs: 3600,
            authorization_code_lifetime_secs: 600,
            include_expires_at: true,
            invalid_refresh_token_status: 401,
            auto_approve: true,
        }
    }
}

/// API versions (`X-JOBBER-GRAPHQL-VERSION`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlConfig {
    /// Versions served without a warning.
    pub supported_versions: Vec<String>,
    /// Versions past their 12 supported months but still reachable (up to 18): served, with a
    /// deprecation warning in `extensions.versioning.warning`.
    pub deprecated_versions: Vec<String>,
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            supported_versions: ["2025-04-16", "2025-01-20", "2024-06-10", "2023-11-15", "2023-08-18"]
                .map(String::from)
                .to_vec(),
            deprecated_versions: Vec::new(),
        }
    }
}

/// Jobber's two rate limiters, each of which a test or benchmark may shrink or switch off.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub query_cost: QueryCostLimit,
    pub requests: RequestLimit,
}

/// The leaky bucket of query-cost points, per app and account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryCostLimit {
    pub enabled: bool,
    pub maximum_available: u64,
    /// Points restored per second.
    pub restore_rate: u64,
}

impl Default for QueryCostLimit {
    fn default() -> Self {
        Self { enabled: true, maximum_available: 10_000, restore_rate: 500 }
    }
}

/// Jobber's DDoS guard (Rack::Attack): requests per fixed window, per app and account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestLimit {
    pub enabled: bool,
    pub max_requests: u64,
    pub period_secs: u64,
}

impl Default for RequestLimit {
    fn default() -> Self {
        Self { enabled: true, max_requests: 2500, period_secs: 300 }
    }
}

/// The default account every new grant belongs to, and how it is set up.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    /// Custom field configurations created with the account.
    pub custom_fields: Vec<CustomFieldSetup>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            name: "Sandbox Cabinets Ltd.".into(),
            custom_fields: vec![CustomFieldSetup {
                name: "Saberis reference".into(),
                value_type: CustomFieldValueType::Text,
                applies_to: CustomFieldTarget::AllQuotes,
                default_value: String::new(),
            }],
        }
    }
}

/// One custom field configuration of the account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldSetup {
    pub name: String,
    pub value_type: CustomFieldValueType,
    pub applies_to: CustomFieldTarget,
    /// As text; parsed according to `value_type` (`"0"` for a number).
    #[serde(default)]
    pub default_value: String,
}

/// The value types the sandbox implements (of Jobber's `CustomFieldConfigurationValueType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustomFieldValueType {
    Text,
    Numeric,
}

/// Jobber's `CustomFieldAppliesTo`, minus `TEAM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustomFieldTarget {
    AllClients,
    AllProperties,
    AllQuotes,
    AllJobs,
    AllInvoices,
}

/// Where webhooks go. Signed with `oauth.client_secret`, as Jobber does.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// `None`: no webhooks are sent.
    pub target_url: Option<String>,
    /// The `appId` field of every event.
    pub app_id: String,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self { target_url: None, app_id: "sandbox-app-id".into() }
    }
}

/// SaberisConnect.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaberisConfig {
    /// The long-lived token a dealer copies from Saberis' settings page.
    pub auth_token: String,
    /// Session lifetime: unconfirmed for the real service.
    pub session_lifetime_secs: u64,
    /// The real service sometimes wraps the session token in double quotes; `true` always does.
    pub quote_session_token: bool,
    /// Folder of documents loaded at start (`*.json` in SaberisConnect's JSON form, `*.xml`).
    pub docs_dir: Option<PathBuf>,
}

impl Default for SaberisConfig {
    fn default() -> Self {
        Self {
            auth_token: "sandbox-saberis-auth-token".into(),
            session_lifetime_secs: 3600,
            quote_session_token: true,
            docs_dir: None,
        }
    }
}

/// Google Sheets v4 and its service-account token endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SheetsConfig {
    /// PEM public key of the service account whose RS256 assertions are accepted.
    pub service_account_public_key_pem: String,
    /// The scope an assertion must request (space-separated list may contain others).
    pub required_scope: String,
    /// Accepted `aud` values. Empty: Google's token URI or this sandbox's own token URL.
    pub accepted_audiences: Vec<String>,
    pub access_token_lifetime_secs: u64,
    /// Spreadsheets that exist at start: id → sheet (tab) names.
    pub spreadsheets: Vec<SpreadsheetSetup>,
}

impl Default for SheetsConfig {
    fn default() -> Self {
        Self {
            service_account_public_key_pem: SANDBOX_SHEETS_PUBLIC_KEY_PEM.into(),
            required_scope: "https://www.googleapis.com/auth/spreadsheets".into(),
            accepted_audiences: Vec::new(),
            access_token_lifetime_secs: 3600,
            spreadsheets: vec![SpreadsheetSetup {
                id: "sandbox-mapping".into(),
                sheets: vec!["Sheet1".into()],
            }],
        }
    }
}

/// A spreadsheet that exists from the start.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpreadsheetSetup {
    pub id: String,
    pub sheets: Vec<String>,
}
