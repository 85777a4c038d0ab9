//! `sjctl verify`: is this installation able to work? One check per dependency (configuration,
//! RabbitMQ and its topology, Redis, Jobber, SaberisConnect, SMTP, the mapping and catalog
//! tables' store), each printed as one line, and notes on what works but may surprise:
//!
//! ```text
//! ✓ what (detail)
//! ✗ what: problem — the fix
//! - what skipped (why)
//! ! what: note — what to do
//! ```
//!
//! Every check has its own time limit, so an unreachable host costs a few seconds and never hangs
//! the command; a failed check does not stop the others. Exit 1 if any check failed (a note
//! does not count).
//!
//! The helpers shared with `sjctl status` (a short AMQP connection, passive queue declares, the
//! Jobber budget and tokens as Redis holds them) live here too.

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::ExchangeKind;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde::Serialize;
use sj_shared::amqp::{self, Topology};
use sj_shared::config::{HumanDuration, MappingStoreKind, Settings, SmtpTls};
use sj_shared::jobber::{JobberClient, TokenSet, TokenState, TokenStore};
use sj_shared::mapping::{Catalogs, Mapping};
use sj_shared::pricing::CatalogTable;
use sj_shared::store::{self, Keys};

/// How long one check may take (an unreachable host, a server that never answers).
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct Args {
    /// Print the checks as JSON (an array of {check, outcome, detail, fix}).
    #[arg(long)]
    json: bool,
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Ok,
    Failed,
    Skipped,
    /// Works, but deserves a look (rows that price nothing, settings the table overrides).
    Note,
}

/// One line of the report.
#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    outcome: Outcome,
    /// What was found (ok), the problem (failed) or why it was not checked (skipped).
    detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Self { check, outcome: Outcome::Ok, detail: detail.into(), fix: None }
    }

    fn failed(check: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check, outcome: Outcome::Failed, detail: problem.into(), fix: Some(fix.into()) }
    }

    fn skipped(check: &'static str, why: impl Into<String>) -> Self {
        Self { check, outcome: Outcome::Skipped, detail: why.into(), fix: None }
    }

    fn note(check: &'static str, detail: impl Into<String>, fix: Option<String>) -> Self {
        Self { check, outcome: Outcome::Note, detail: detail.into(), fix }
    }

    fn line(&self) -> String {
        match self.outcome {
            Outcome::Ok => format!("✓ {} ({})", self.check, self.detail),
            Outcome::Failed => {
                format!("✗ {}: {} — {}", self.check, self.detail, self.fix.as_deref().unwrap_or(""))
            }
            Outcome::Skipped => format!("- {} skipped ({})", self.check, self.detail),
            Outcome::Note => match &self.fix {
                Some(fix) => format!("! {}: {} — {fix}", self.check, self.detail),
                None => format!("! {}: {}", self.check, self.detail),
            },
        }
    }
}

pub fn run(settings: &Settings, args: &Args) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let checks = runtime.block_on(checks(settings));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks).expect("checks serialize"));
    } else {
        for check in &checks {
            println!("{}", check.line());
        }
    }
    if checks.iter().any(|c| c.outcome == Outcome::Failed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs every check, in order; later checks that need an earlier one's connection are skipped
/// (not failed again) when it is missing.
async fn checks(settings: &Settings) -> Vec<Check> {
    let mut checks = vec![Check::ok(
        "configuration",
        match settings.namespace.as_str() {
            "" => "loaded and valid".to_owned(),
            ns => format!("loaded and valid, namespace {ns}"),
        },
    )];

    // RabbitMQ, then what the connection can see.
    let topology = settings.amqp.topology(&settings.namespace);
    let endpoint = settings.amqp.endpoint();
    match connect_amqp(settings).await {
        Ok(connection) => {
            checks.push(Check::ok("RabbitMQ reachable", endpoint));
            checks.push(check_topology(&connection, &topology).await);
            checks.push(check_dead_letter_exchange(&connection, &topology).await);
            let _ = connection.close(200, "sjctl verify done".into()).await;
        }
        Err(problem) => {
            checks.push(Check::failed(
                "RabbitMQ reachable",
                format!("{endpoint}: {problem}"),
                "start RabbitMQ, or fix amqp.url (SJ_AMQP__URL: host, port, vhost, user and password)",
            ));
            checks.push(Check::skipped("RabbitMQ topology", "RabbitMQ not reachable"));
            checks.push(Check::skipped("dead-letter exchange", "RabbitMQ not reachable"));
        }
    }

    // Redis, then Jobber (whose tokens and budget live in Redis).
    let redis_ok = match check_redis(settings).await {
        Ok(detail) => {
            checks.push(Check::ok("Redis reachable", detail));
            true
        }
        Err(problem) => {
            checks.push(Check::failed(
                "Redis reachable",
                format!("{}: {problem}", settings.redis.url.endpoint()),
                "start Redis, or fix redis.url (SJ_REDIS__URL)",
            ));
            false
        }
    };
    if redis_ok {
        checks.push(check_jobber(settings).await);
    } else {
        checks.push(Check::skipped("Jobber", "its tokens live in Redis, which is not reachable"));
    }

    checks.push(check_saberis_connect(settings).await);
    checks.push(check_smtp(settings).await);
    checks.push(check_mapping_store(settings).await);
    checks.extend(check_catalog_table(settings).await);
    checks
}

/// Runs `work` under [`CHECK_TIMEOUT`], turning both kinds of failure into one message.
async fn limited<T, E: std::fmt::Display>(work: impl Future<Output = Result<T, E>>) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}", humantime::format_duration(CHECK_TIMEOUT))),
    }
}

/// A connection to RabbitMQ that gives up after a few seconds (the services' own connect keeps
/// trying for `amqp.connect_timeout`, 30 s by default).
pub(crate) async fn connect_amqp(settings: &Settings) -> Result<lapin::Connection, String> {
    let mut amqp_settings = settings.amqp.clone();
    amqp_settings.connect_timeout = HumanDuration(CHECK_TIMEOUT - Duration::from_secs(1));
    limited(amqp::connect(&amqp_settings)).await
}

/// What a passive declare tells about a queue.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct QueueCounts {
    /// Messages ready for delivery (not those delivered and not yet acknowledged).
    pub ready: u32,
    pub consumers: u32,
}

/// The queue's counts, or `None` if it does not exist. Each declare gets a fresh channel: the
/// broker closes the channel of a failed passive declare.
pub(crate) async fn inspect_queue(
    connection: &lapin::Connection,
    name: &str,
) -> Result<Option<QueueCounts>, String> {
    let channel = limited(connection.create_channel()).await?;
    let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    let result = limited(channel.queue_declare(name.into(), passive, FieldTable::default())).await;
    let _ = channel.close(200, "done".into()).await;
    match result {
        Ok(queue) => {
            Ok(Some(QueueCounts { ready: queue.message_count(), consumers: queue.consumer_count() }))
        }
        // 404 NOT_FOUND is the answer for a missing queue; anything else is a real problem.
        Err(e) if e.contains("NOT_FOUND") || e.contains("no queue") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the exchange exists (passive declare on its own channel).
async fn exchange_exists(
    connection: &lapin::Connection,
    name: &str,
    kind: ExchangeKind,
) -> Result<bool, String> {
    let channel = limited(connection.create_channel()).await?;
    let passive = ExchangeDeclareOptions { passive: true, ..ExchangeDeclareOptions::default() };
    let result = limited(channel.exchange_declare(name.into(), kind, passive, FieldTable::default())).await;
    let _ = channel.close(200, "done".into()).await;
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.contains("NOT_FOUND") || e.contains("no exchange") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every queue of the topology, the work queue first.
pub(crate) fn queue_names(topology: &Topology) -> Vec<sj_shared::amqp::QueueName> {
    let mut names = vec![topology.quotes_queue()];
    names.extend(topology.retry_delays.iter().map(|d| topology.retry_queue(*d)));
    names.extend([topology.parked_queue(), topology.alerts_queue(), topology.undeliverable_alerts_queue()]);
    names
}

const DECLARE_FIX: &str = "start sj-worker or sj-poller once (they declare it), or import \
                           deploy/rabbitmq/definitions.json in the RabbitMQ UI";

async fn check_topology(connection: &lapin::Connection, topology: &Topology) -> Check {
    const WHAT: &str = "RabbitMQ topology";
    let mut missing = Vec::new();
    for (name, kind) in [(topology.quotes_exchange(), ExchangeKind::Direct)] {
        match exchange_exists(connection, &name, kind).await {
            Ok(true) => {}
            Ok(false) => missing.push(format!("exchange {name}")),
            Err(e) => return Check::failed(WHAT, format!("checking exchange {name}: {e}"), DECLARE_FIX),
        }
    }
    let queues = queue_names(topology);
    for name in &queues {
        match inspect_queue(connection, name).await {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(format!("queue {name}")),
            Err(e) => return Check::failed(WHAT, format!("checking queue {name}: {e}"), DECLARE_FIX),
        }
    }
    if missing.is_empty() {
        Check::ok(
            WHAT,
            format!("exchange {} and {} queues present", topology.quotes_exchange(), queues.len()),
        )
    } else if missing.len() == queues.len() + 1 {
        // Nothing at all: a fresh installation, or a namespace nobody started a service in.
        Check::failed(
            WHAT,
            format!(
                "not declared (neither exchange {} nor its {} queues exist)",
                topology.quotes_exchange(),
                queues.len()
            ),
            DECLARE_FIX,
        )
    } else {
        Check::failed(WHAT, format!("missing {}", missing.join(", ")), DECLARE_FIX)
    }
}

async fn check_dead_letter_exchange(connection: &lapin::Connection, topology: &Topology) -> Check {
    const WHAT: &str = "dead-letter exchange";
    let channel = match limited(connection.create_channel()).await {
        Ok(channel) => channel,
        Err(e) => return Check::failed(WHAT, e, "check the RabbitMQ server's logs"),
    };
    let result = limited(topology.check_dead_letter_exchange(&channel)).await;
    let _ = channel.close(200, "done".into()).await;
    match result {
        Ok(()) => Check::ok(WHAT, topology.dead_exchange().to_string()),
        Err(_) => Check::failed(
            WHAT,
            format!("{} does not exist (RabbitMQ would drop dead letters)", topology.dead_exchange()),
            DECLARE_FIX,
        ),
    }
}

async fn check_redis(settings: &Settings) -> Result<String, String> {
    let pool = store::pool(&settings.redis).map_err(|e| e.to_string())?;
    let answer: String = limited(async {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.map_err(|e| e.to_string())
    })
    .await?;
    Ok(format!("{}, PING → {answer}", settings.redis.url.endpoint()))
}

/// The Jobber cost bucket as last reported by Jobber (the workers' shared estimate).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Budget {
    pub available: f64,
    pub max: f64,
    /// Points restored per second.
    pub rate: f64,
    /// When Jobber reported it (Unix milliseconds, Redis' clock).
    pub at_ms: u64,
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cost budget {:.0}/{:.0} points, restoring {:.0}/s", self.available, self.max, self.rate)
    }
}

/// The cost bucket's Redis hash (`CostBudget`), if any process recorded it (it expires after an
/// hour without requests).
pub(crate) async fn read_budget(pool: &deadpool_redis::Pool, keys: &Keys) -> Result<Option<Budget>, String> {
    limited(async {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(keys.key("jobber", "cost-bucket"))
            .arg(&["available", "max", "rate", "at"])
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let number = |i: usize| fields.get(i).cloned().flatten().and_then(|v| v.parse::<f64>().ok());
        Ok::<_, String>(match (number(0), number(1), number(2), number(3)) {
            (Some(available), Some(max), Some(rate), Some(at)) => {
                Some(Budget { available, max, rate, at_ms: at as u64 })
            }
            _ => None,
        })
    })
    .await
}

/// "in 55m (2026-11-22T02:20:00Z)" or "expired 3m ago (…)".
pub(crate) fn expiry(tokens: &TokenSet) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(tokens.expires_at);
    let stamp = humantime::format_rfc3339_seconds(at);
    let now = SystemTime::now();
    match at.duration_since(now) {
        Ok(left) => format!("in {} ({stamp})", rounded(left)),
        Err(e) => format!("expired {} ago ({stamp})", rounded(e.duration())),
    }
}

fn rounded(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}

async fn check_jobber(settings: &Settings) -> Check {
    const WHAT: &str = "Jobber";
    const CONNECT_FIX: &str = "connect the bridge to Jobber (sjctl jobber connect), or set a refresh \
                               token (SJ_JOBBER__REFRESH_TOKEN or jobber.refresh_token_file)";
    let pool = match store::pool(&settings.redis) {
        Ok(pool) => pool,
        Err(e) => return Check::failed(WHAT, e.to_string(), "fix redis.url"),
    };
    let http = match reqwest::Client::builder().timeout(CHECK_TIMEOUT).build() {
        Ok(http) => http,
        Err(e) => return Check::failed(WHAT, format!("HTTP client: {e}"), "report this as a bug"),
    };
    let tokens = TokenStore::from_settings(settings, pool.clone(), http.clone());
    match limited(tokens.state()).await {
        Ok(TokenState::Connected(_)) => {}
        Ok(TokenState::Disconnected { .. }) => {
            return Check::failed(
                WHAT,
                "disconnected (sjctl jobber disconnect): workers write nothing",
                "sjctl jobber connect",
            )
        }
        Ok(TokenState::NotStored) if settings.jobber.refresh_token.is_none() => {
            return Check::failed(WHAT, "no tokens in Redis and no refresh token configured", CONNECT_FIX)
        }
        Ok(TokenState::NotStored) => {}
        Err(e) => return Check::failed(WHAT, format!("reading the tokens from Redis: {e}"), "check Redis"),
    }

    // A cheap query, through the same client the workers use (it refreshes an expired token,
    // and records the cost budget Jobber reports).
    let keys = Keys::new(&settings.namespace);
    let client = JobberClient::with_http(settings, pool.clone(), http);
    let account = match limited(client.account()).await {
        Ok((_, name)) => name,
        Err(e) => {
            let fix = if e.contains("401") || e.to_lowercase().contains("refresh") || e.contains("token") {
                CONNECT_FIX.to_owned()
            } else {
                format!("check that Jobber answers at jobber.api_url ({})", settings.jobber.api_url)
            };
            return Check::failed(WHAT, format!("a query failed: {e}"), fix);
        }
    };
    let mut detail = vec![format!("account {account}")];
    // The marker field: the app needs the custom field configurations (read) scope to see it.
    match tokio::time::timeout(CHECK_TIMEOUT, client.quote_custom_field(&settings.jobber.marker_field)).await
    {
        Ok(Ok(Some(_))) => {
            detail.push(format!("markers in the quote custom field {:?}", settings.jobber.marker_field))
        }
        Ok(Ok(None)) => detail.push(format!(
            "no quote custom field {:?}: markers go in quote titles",
            settings.jobber.marker_field
        )),
        Ok(Err(e)) if !e.is_transient() => return Check::failed(
            WHAT,
            format!(
                "Jobber refused the custom field query ({}): the app lacks the scope \
                     \"Custom field configurations: read\"; workers put markers in quote titles meanwhile",
                e.message
            ),
            "add that scope to the app in Jobber's Developer Center, then reconnect (sjctl jobber connect)",
        ),
        Ok(Err(e)) => return Check::failed(WHAT, format!("the custom field query failed: {e}"), "try again"),
        Err(_) => return Check::failed(WHAT, "the custom field query did not answer in time", "try again"),
    }
    if let Some(notice) = client.version_notice() {
        detail.push(format!(
            "WARNING {notice}: set jobber.graphql_version to a supported version (docs/operations.md: \
             Jobber API version)"
        ));
    }
    match read_budget(&pool, &keys).await {
        Ok(Some(budget)) => detail.push(budget.to_string()),
        Ok(None) => detail.push("cost budget not reported".to_owned()),
        Err(e) => detail.push(format!("cost budget unreadable: {e}")),
    }
    match limited(tokens.load()).await {
        Ok(Some(tokens)) => detail.push(format!("access token expires {}", expiry(&tokens))),
        Ok(None) => detail.push("no tokens stored".to_owned()),
        Err(e) => detail.push(format!("tokens unreadable: {e}")),
    }
    Check::ok(WHAT, detail.join("; "))
}

async fn check_saberis_connect(settings: &Settings) -> Check {
    const WHAT: &str = "SaberisConnect";
    let connect = &settings.poller.saberis_connect;
    if !connect.enabled {
        return Check::skipped(WHAT, "poller.saberis_connect.enabled = false");
    }
    const TOKEN_FIX: &str = "set the auth token from SaberisConnect's settings page \
                             (SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN or poller.saberis_connect.auth_token_file)";
    let Some(token) = &connect.auth_token else {
        return Check::failed(WHAT, "no auth token configured", TOKEN_FIX);
    };
    let url = format!("{}/api/v1/token", connect.base_url.trim_end_matches('/'));
    let request = async {
        let http = reqwest::Client::builder().timeout(CHECK_TIMEOUT).build()?;
        http.get(&url).query(&[("authToken", token.expose())]).send().await
    };
    // The request's URL holds the token: errors are reported without it.
    match limited(async { request.await.map_err(|e| e.without_url()) }).await {
        Ok(response) if response.status().is_success() => {
            Check::ok(WHAT, format!("{}: the auth token gives a session", connect.base_url))
        }
        Ok(response) if matches!(response.status().as_u16(), 401 | 403) => Check::failed(
            WHAT,
            format!("{} refused the auth token (HTTP {})", connect.base_url, response.status().as_u16()),
            TOKEN_FIX,
        ),
        Ok(response) => Check::failed(
            WHAT,
            format!("{} answered HTTP {}", connect.base_url, response.status().as_u16()),
            "check poller.saberis_connect.base_url and SaberisConnect's status",
        ),
        Err(e) => Check::failed(
            WHAT,
            format!("{}: {e}", connect.base_url),
            "check poller.saberis_connect.base_url and the network",
        ),
    }
}

async fn check_smtp(settings: &Settings) -> Check {
    const WHAT: &str = "SMTP";
    const FIX: &str = "start the mail server, or fix alerts.smtp (host, port, tls, username, password)";
    let smtp = &settings.alerts.smtp;
    let place = format!("{}:{} ({})", smtp.host, smtp.port, tls_name(smtp.tls));
    type Transport = AsyncSmtpTransport<Tokio1Executor>;
    let builder = match smtp.tls {
        SmtpTls::None => Ok(Transport::builder_dangerous(&smtp.host)),
        SmtpTls::Starttls => Transport::starttls_relay(&smtp.host),
        SmtpTls::Tls => Transport::relay(&smtp.host),
    };
    let mut builder = match builder {
        Ok(builder) => builder.port(smtp.port).timeout(Some(CHECK_TIMEOUT)),
        Err(e) => return Check::failed(WHAT, format!("{place}: {e}"), FIX),
    };
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    let transport: Transport = builder.build();
    match limited(transport.test_connection()).await {
        Ok(true) => Check::ok(WHAT, format!("{place} accepts connections")),
        Ok(false) => Check::failed(WHAT, format!("{place} did not answer NOOP"), FIX),
        Err(e) => Check::failed(WHAT, format!("{place}: {e}"), FIX),
    }
}

/// The mapping table's store: read it (header and rows); for a CSV file, the file (or its
/// folder) must be writable; for a Google Sheet, the access token must carry the spreadsheets
/// scope (no row is written to find out more).
async fn check_mapping_store(settings: &Settings) -> Check {
    const WHAT: &str = "mapping store readable and writable";
    let fix = match settings.mapping.store {
        MappingStoreKind::Csv => "fix mapping.csv.path, or the file's and its folder's permissions".to_owned(),
        MappingStoreKind::Sheets => "share the sheet with the service account's client_email as editor, and \
                                     check mapping.sheets (api_url, spreadsheet_id, tab, service_account_file)"
            .to_owned(),
    };
    let pool = match store::pool(&settings.redis) {
        Ok(pool) => pool,
        Err(e) => return Check::failed(WHAT, e.to_string(), "fix redis.url"),
    };
    let mapping = match Mapping::new(&settings.mapping, pool, Keys::new(&settings.namespace)) {
        Ok(mapping) => mapping,
        Err(e) => return Check::failed(WHAT, e.to_string(), fix),
    };
    match limited(mapping.check_store()).await {
        Ok(detail) => Check::ok(WHAT, detail),
        Err(e) => Check::failed(WHAT, format!("{}: {e}", mapping.describe()), fix),
    }
}

/// The catalog table's store (as the mapping's: read, and writable), then notes: its rows that
/// price nothing, and the catalogs `pricing.catalog_markups` names that the table has rows for
/// (the table wins).
async fn check_catalog_table(settings: &Settings) -> Vec<Check> {
    const WHAT: &str = "catalog table readable and writable";
    let fix = match settings.mapping.store {
        MappingStoreKind::Csv => {
            "fix mapping.csv.catalogs_path (or mapping.csv.path: the table is catalogs.csv \
                                  beside it), or the file's and its folder's permissions"
                .to_owned()
        }
        MappingStoreKind::Sheets => format!(
            "add a tab {:?} to the mapping's sheet (or set mapping.sheets.catalog_tab), shared with the \
             service account as editor",
            settings.mapping.sheets.catalog_tab
        ),
    };
    let pool = match store::pool(&settings.redis) {
        Ok(pool) => pool,
        Err(e) => return vec![Check::failed(WHAT, e.to_string(), "fix redis.url")],
    };
    let catalogs = match Catalogs::new(&settings.mapping, pool, Keys::new(&settings.namespace)) {
        Ok(catalogs) => catalogs,
        Err(e) => return vec![Check::failed(WHAT, e.to_string(), fix)],
    };
    let mut checks = match limited(catalogs.check_store()).await {
        Ok(detail) => vec![Check::ok(WHAT, detail)],
        Err(e) => return vec![Check::failed(WHAT, format!("{}: {e}", catalogs.describe()), fix)],
    };
    // The rows themselves (a CSV file not created yet has none; reading it would create it).
    let missing_file =
        settings.mapping.store == MappingStoreKind::Csv && !settings.mapping.csv.catalogs().exists();
    let table = if missing_file {
        CatalogTable::default()
    } else {
        match limited(catalogs.read_store()).await {
            Ok(table) => table,
            Err(e) => {
                checks.push(Check::note("catalog table rows", format!("not read: {e}"), None));
                return checks;
            }
        }
    };
    if !table.problems.is_empty() {
        checks.push(Check::note(
            "catalog table rows",
            format!("{} price nothing: {}", table.problems.len(), table.problems.join("; ")),
            Some(format!(
                "correct them in {} (documents of their catalogs are parked, or priced by \
                 pricing.catalog_markups or the default markup, until then), then sjctl catalogs refresh",
                catalogs.describe()
            )),
        ));
    }
    if let Some(note) = markups_the_table_overrides(settings, &table) {
        checks.push(note);
    }
    checks
}

/// The note naming `pricing.catalog_markups` keys that the catalog table has rows for (by the
/// same key): the table's usable row wins; while its rows of that name price nothing, the setting
/// still prices it.
fn markups_the_table_overrides(settings: &Settings, table: &CatalogTable) -> Option<Check> {
    let mut wins = Vec::new();
    let mut not_yet = Vec::new();
    for key in settings.pricing.catalog_markups.keys() {
        // By the same key (`catalog_key`): a row of another name may win for some catalogs only.
        let rows: Vec<_> = table.rows_named(key).collect();
        if rows.is_empty() {
            continue;
        }
        if rows.iter().any(|r| matches!(r.rule(), Ok(Some(_)))) {
            wins.push(key.as_str());
        } else {
            not_yet.push(key.as_str());
        }
    }
    if wins.is_empty() && not_yet.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !wins.is_empty() {
        parts.push(format!("{}: the table wins", wins.join(", ")));
    }
    if !not_yet.is_empty() {
        parts.push(format!(
            "{}: the table's rows price nothing yet, so the setting prices them until a row is filled in",
            not_yet.join(", ")
        ));
    }
    Some(Check::note(
        "pricing.catalog_markups and the catalog table",
        format!("catalogs named in both: {}", parts.join("; ")),
        Some(
            "keep one of them: remove the catalog from pricing.catalog_markups, or its rows from the table"
                .to_owned(),
        ),
    ))
}

fn tls_name(tls: SmtpTls) -> &'static str {
    match tls {
        SmtpTls::None => "no TLS",
        SmtpTls::Starttls => "STARTTLS",
        SmtpTls::Tls => "TLS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_the_way_the_readme_says() {
        assert_eq!(Check::ok("Redis reachable", "x").line(), "✓ Redis reachable (x)");
        assert_eq!(Check::failed("SMTP", "refused", "start it").line(), "✗ SMTP: refused — start it");
        assert_eq!(Check::skipped("SaberisConnect", "off").line(), "- SaberisConnect skipped (off)");
        assert_eq!(Check::note("rows", "2 price nothing", None).line(), "! rows: 2 price nothing");
        assert_eq!(Check::note("rows", "x", Some("fix it".into())).line(), "! rows: x — fix it");
    }

    #[test]
    fn settings_the_table_overrides_are_named() {
        let cells: Vec<(usize, Vec<String>)> = [
            vec!["catalog", "multiplier", "margin", "markup"],
            vec!["KWP_*", "0.42", "35%", ""],
            vec!["shaker", "", "", ""],
            vec!["FWA0724B", "", "", "20"],
        ]
        .iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r.iter().map(|c| c.to_string()).collect()))
        .collect();
        let table = CatalogTable::from_cells(&cells).unwrap();
        let mut settings = Settings::default();
        assert!(markups_the_table_overrides(&settings, &table).is_none());
        for (key, markup) in [("kwp_*", 30), ("Shaker", 10), ("Decorative", 5), ("FWA0724B (Galaxy)", 5)] {
            settings.pricing.catalog_markups.insert(key.to_owned(), markup.into());
        }
        let note = markups_the_table_overrides(&settings, &table).unwrap();
        assert_eq!(note.outcome, Outcome::Note);
        assert_eq!(
            note.detail,
            "catalogs named in both: kwp_*: the table wins; Shaker: the table's rows price nothing yet, \
             so the setting prices them until a row is filled in"
        );
    }
}
