//! `sjctl status`: how the bridge is doing right now. Queue depths and consumers (AMQP passive
//! declares, always available), unacknowledged messages and rates (RabbitMQ's management API,
//! when reachable), Jobber's cost budget and the access token's expiry (Redis), the last hour's
//! outcomes (the history), and the mapping table in use.

use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;
use sj_shared::config::{Secret, SecretUrl, Settings};
use sj_shared::jobber::{recorded_notice, TokenState, VersionNotice};
use sj_shared::store::{self, Keys};

use crate::verify::{self, connect_amqp, inspect_queue, queue_names, read_budget, Budget, CHECK_TIMEOUT};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Status {
    rabbitmq: String,
    /// `available`, or why the management API could not be used.
    management_api: String,
    queues: Vec<QueueStatus>,
    jobber: JobberStatus,
    /// Totals of the last hour from the history (or why it could not be read).
    documents_last_hour: String,
    /// The mapping table the workers use: rows in use, where from, when read, rows skipped.
    mapping: String,
    /// Since when Redis holds the bridge's records, and whether every document is still looked
    /// up in Jobber because of it (`worker.recheck_after_redis_reset`).
    exactly_once: String,
}

#[derive(Debug, Default, Serialize)]
struct QueueStatus {
    name: String,
    /// False when the queue is not declared (then every count is absent).
    exists: bool,
    ready: Option<u32>,
    consumers: Option<u32>,
    /// From the management API only.
    unacked: Option<u64>,
    /// Messages per second published into / delivered from the queue (management API).
    publish_rate: Option<f64>,
    deliver_rate: Option<f64>,
    /// Why the queue could not be inspected.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct JobberStatus {
    cost_budget: Option<Budget>,
    /// Unix seconds.
    token_expires_at: Option<u64>,
    /// Human text: "in 55m (…)", "no tokens stored", or what went wrong.
    token: String,
    /// What went wrong reading the budget, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    budget_error: Option<String>,
    /// The version warning a process saw from Jobber in the last day (`extensions.versioning`).
    version_warning: Option<VersionNotice>,
    /// The workers' shared circuit breaker: `closed`, `open since …` (Jobber failing for every
    /// document: documents held in sj.quotes, Jobber probed), or why it cannot be read.
    breaker: String,
}

pub fn run(settings: &Settings, args: &Args) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let status = runtime.block_on(collect(settings));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status).expect("status serializes"));
    } else {
        print_text(&status);
    }
    // The command ran; a broker it cannot reach is a problem found (exit 2, as elsewhere).
    if status.queues.iter().all(|q| q.error.is_some()) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

async fn collect(settings: &Settings) -> Status {
    let topology = settings.amqp.topology(&settings.namespace);
    let names = queue_names(&topology);
    let mut queues: Vec<QueueStatus> =
        names.iter().map(|name| QueueStatus { name: name.to_string(), ..QueueStatus::default() }).collect();

    let rabbitmq = match connect_amqp(settings).await {
        Ok(connection) => {
            for queue in &mut queues {
                match inspect_queue(&connection, &queue.name).await {
                    Ok(Some(counts)) => {
                        queue.exists = true;
                        queue.ready = Some(counts.ready);
                        queue.consumers = Some(counts.consumers);
                    }
                    Ok(None) => {}
                    Err(e) => queue.error = Some(e),
                }
            }
            let _ = connection.close(200, "sjctl status done".into()).await;
            settings.amqp.endpoint()
        }
        Err(e) => {
            for queue in &mut queues {
                queue.error = Some("RabbitMQ not reachable".to_owned());
            }
            format!("{}: not reachable ({e})", settings.amqp.endpoint())
        }
    };

    let management_api = match management(settings, &mut queues).await {
        Ok(()) => "available".to_owned(),
        Err(e) => format!("unavailable ({e}): no unacked counts or rates"),
    };

    Status {
        rabbitmq,
        management_api,
        queues,
        jobber: jobber(settings).await,
        documents_last_hour: match crate::history::read(settings, std::time::Duration::from_secs(3600)).await
        {
            Ok(entries) => crate::history::summary(
                &sj_shared::store::Totals::of(&entries),
                std::time::Duration::from_secs(3600),
            ),
            Err(e) => format!("unavailable (Redis: {e})"),
        },
        mapping: mapping(settings).await,
        exactly_once: exactly_once(settings).await,
    }
}

/// `Redis holds the records since … (every document looked up in Jobber until …)`.
async fn exactly_once(settings: &Settings) -> String {
    let pool = match store::pool(&settings.redis) {
        Ok(pool) => pool,
        Err(e) => return format!("unknown: {e}"),
    };
    let keys = Keys::new(&settings.namespace);
    let stamp = |secs: u64| {
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .to_string()
    };
    match tokio::time::timeout(CHECK_TIMEOUT, sj_shared::store::RedisEpoch::read(&pool, &keys)).await {
        Ok(Ok(Some(epoch))) => {
            let recheck = settings.worker.recheck_after_redis_reset.0;
            if epoch.age() < recheck {
                format!(
                    "Redis holds the bridge's records since {}: every document is looked up in Jobber before it is \
                     written until {}",
                    stamp(epoch.since),
                    stamp(epoch.since + recheck.as_secs())
                )
            } else {
                format!(
                    "Redis holds the bridge's records since {}: documents are looked up in Jobber only after a sign \
                     of an earlier attempt",
                    stamp(epoch.since)
                )
            }
        }
        Ok(Ok(None)) => "no records in Redis yet: the first worker starts them".to_owned(),
        Ok(Err(e)) => format!("unknown: {e}"),
        Err(_) => "unknown: Redis did not answer".to_owned(),
    }
}

/// `3 rows in use from csv mapping.csv (read …); 0 rows skipped`, or why it is not known.
async fn mapping(settings: &Settings) -> String {
    let mapping = match crate::mapping::open(settings) {
        Ok(mapping) => mapping,
        Err(e) => return format!("unusable: {e}"),
    };
    match tokio::time::timeout(CHECK_TIMEOUT, mapping.in_use()).await {
        Ok(Ok(in_use)) => format!(
            "{} rows in use from {} (read {}); {} rows skipped{}",
            in_use.rows.len(),
            in_use.store,
            in_use.loaded_at.as_deref().unwrap_or("?"),
            in_use.problems.len(),
            if in_use.problems.is_empty() { "" } else { " (sjctl mapping list shows them)" }
        ),
        Ok(Err(e)) => format!("unavailable: {e}"),
        Err(_) => {
            format!("no answer within {} ({})", humantime::format_duration(CHECK_TIMEOUT), mapping.describe())
        }
    }
}

/// Adds the management API's counts and rates to the queues it knows.
async fn management(settings: &Settings, queues: &mut [QueueStatus]) -> Result<(), String> {
    let (user, password, vhost) = amqp_credentials(&settings.amqp.url);
    let base = settings.alerts.rabbitmq_ui_url.trim_end_matches('/');
    let http = reqwest::Client::builder().timeout(CHECK_TIMEOUT).build().map_err(|e| e.to_string())?;
    for queue in queues.iter_mut().filter(|q| q.exists) {
        let url = format!("{base}/api/queues/{vhost}/{}", encode(&queue.name));
        let response = http
            .get(&url)
            .basic_auth(&user, Some(password.expose()))
            .send()
            .await
            .map_err(|e| format!("{base}: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("{base} answered HTTP {}", response.status().as_u16()));
        }
        let body: Value = response.json().await.map_err(|e| format!("{base}: {}", e.without_url()))?;
        queue.unacked = body.get("messages_unacknowledged").and_then(Value::as_u64);
        let rate = |path: &str| body.pointer(path).and_then(Value::as_f64);
        queue.publish_rate = rate("/message_stats/publish_details/rate").or(Some(0.0));
        queue.deliver_rate = rate("/message_stats/deliver_get_details/rate").or(Some(0.0));
    }
    Ok(())
}

/// The user, password and (URL-encoded) vhost of the AMQP URL; RabbitMQ's defaults where absent
/// (as the AMQP client takes them).
fn amqp_credentials(url: &SecretUrl) -> (String, Secret, String) {
    let user = Some(url.username()).filter(|u| !u.is_empty()).unwrap_or_else(|| "guest".to_owned());
    let password = url.password().unwrap_or_else(|| Secret::new("guest"));
    let vhost = match url.path() {
        "" => "%2F".to_owned(),
        vhost => vhost.to_owned(),
    };
    (user, password, vhost)
}

/// Percent-encodes a queue name for a URL path (names are plain ASCII, but may hold anything).
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn jobber(settings: &Settings) -> JobberStatus {
    let mut status = JobberStatus::default();
    let pool = match store::pool(&settings.redis) {
        Ok(pool) => pool,
        Err(e) => {
            status.token = format!("unknown: {e}");
            status.budget_error = Some(e.to_string());
            return status;
        }
    };
    let keys = Keys::new(&settings.namespace);
    match read_budget(&pool, &keys).await {
        Ok(budget) => status.cost_budget = budget,
        Err(e) => status.budget_error = Some(format!("Redis: {e}")),
    }
    if let Ok(Ok(notice)) = tokio::time::timeout(CHECK_TIMEOUT, recorded_notice(&pool, &keys)).await {
        status.version_warning = notice;
    }
    let breaker = sj_shared::jobber::Breaker::new(
        pool.clone(),
        &keys,
        sj_shared::jobber::BreakerRules {
            threshold: settings.worker.breaker_failures,
            window: settings.worker.breaker_window.0,
            probe_interval: settings.worker.breaker_probe_interval.0,
        },
    );
    status.breaker = match tokio::time::timeout(CHECK_TIMEOUT, breaker.open_since()).await {
        Ok(Ok(None)) => "closed".to_owned(),
        Ok(Ok(Some(since))) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let open_for = now.saturating_sub(std::time::Duration::from_millis(since));
            format!(
                "OPEN for {} (Jobber failing for every document: documents held in sj.quotes, Jobber probed every {})",
                humantime::format_duration(std::time::Duration::from_secs(open_for.as_secs())),
                humantime::format_duration(settings.worker.breaker_probe_interval.0)
            )
        }
        Ok(Err(e)) => format!("unknown: {e}"),
        Err(_) => "unknown: Redis did not answer".to_owned(),
    };
    let http = reqwest::Client::new();
    let tokens = sj_shared::jobber::TokenStore::from_settings(settings, pool, http);
    status.token = match tokio::time::timeout(CHECK_TIMEOUT, tokens.state()).await {
        Ok(Ok(TokenState::Connected(tokens))) => {
            status.token_expires_at = Some(tokens.expires_at);
            format!("expires {}", verify::expiry(&tokens))
        }
        Ok(Ok(TokenState::Disconnected { .. })) => "disconnected (sjctl jobber connect)".to_owned(),
        Ok(Ok(TokenState::NotStored)) => "no tokens stored".to_owned(),
        Ok(Err(e)) => format!("unknown: {e}"),
        Err(_) => "unknown: Redis did not answer".to_owned(),
    };
    status
}

fn print_text(status: &Status) {
    println!("RabbitMQ {}; management API {}", status.rabbitmq, status.management_api);
    let count = |n: Option<u32>| n.map_or("-".to_owned(), |n| n.to_string());
    println!(
        "{:<44} {:>7} {:>7} {:>9} {:>9} {:>9}",
        "queue", "ready", "unacked", "consumers", "in/s", "out/s"
    );
    for q in &status.queues {
        if let Some(e) = &q.error {
            println!("{:<44} {e}", q.name);
            continue;
        }
        if !q.exists {
            println!("{:<44} not declared", q.name);
            continue;
        }
        let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.1}"));
        println!(
            "{:<44} {:>7} {:>7} {:>9} {:>9} {:>9}",
            q.name,
            count(q.ready),
            q.unacked.map_or("-".to_owned(), |n| n.to_string()),
            count(q.consumers),
            rate(q.publish_rate),
            rate(q.deliver_rate),
        );
    }
    println!("documents processed/failed, last hour: {}", status.documents_last_hour);
    match (&status.jobber.cost_budget, &status.jobber.budget_error) {
        (Some(budget), _) => println!("Jobber {budget}"),
        (None, Some(e)) => println!("Jobber cost budget unknown: {e}"),
        (None, None) => println!("Jobber cost budget: not reported (no request in the last hour)"),
    }
    println!("Jobber access token {}", status.jobber.token);
    println!("Jobber circuit breaker {}", status.jobber.breaker);
    if let Some(notice) = &status.jobber.version_warning {
        println!("WARNING {notice}: move jobber.graphql_version to a supported version (docs/operations.md: Jobber API version)");
    }
    println!("mapping table: {}", status.mapping);
    println!("exactly once: {}", status.exactly_once);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_vhost_come_from_the_amqp_url() {
        let url = |text: &str| SecretUrl::parse(text).unwrap();
        let (user, password, vhost) = amqp_credentials(&url("amqp://bridge:p%40ss@mq:5672/%2f"));
        assert_eq!((user.as_str(), password.expose(), vhost.as_str()), ("bridge", "p@ss", "%2f"));
        let (user, password, vhost) = amqp_credentials(&url("amqp://mq:5672"));
        assert_eq!((user.as_str(), password.expose(), vhost.as_str()), ("guest", "guest", "%2F"));
        assert_eq!(encode("t1.sj.quotes retry"), "t1.sj.quotes%20retry");
    }
}
