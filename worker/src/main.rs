//! `sj-worker`: consumes quote messages and writes each one to Jobber exactly once (README, "How
//! it fits together"). Run as many as needed: they share the queue, Redis and Jobber's budget.

mod client_cache;
mod consume;
mod failure;
mod lookup;
mod quote;
mod resolve;
mod write;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use futures_util::StreamExt as _;
use lapin::options::BasicCancelOptions;
use sj_shared::amqp::{self, Publisher};
use sj_shared::config::Settings;
use sj_shared::jobber::{CostBudget, JobberClient, TokenStore};
use sj_shared::process;
use sj_shared::store::{self, Crosswalk, History, Keys};

use consume::Handler;
use resolve::Resolver;
use sj_shared::mapping::Mapping;
use write::Writer;

#[derive(Parser)]
#[command(
    name = "sj-worker",
    version,
    about = "Write quote messages to Jobber, exactly once.",
    long_about = "Write quote messages to Jobber, exactly once.\n\n\
        Consumes the sj.quotes queue; for each Saberis document finds or creates the Jobber client \
        and property, and creates the quote with its line items. Transient failures (Jobber down, \
        throttled, Redis away) wait in retry queues; what cannot succeed is dead-lettered with its \
        reason. Stops cleanly on SIGTERM/SIGINT. Settings: --config FILE or $SJ_CONFIG, then SJ_* \
        variables (docs/configuration.md)."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,

    /// Do everything up to the Jobber writes, which are logged (the exact GraphQL document and
    /// variables) instead of sent. Messages are not acknowledged: up to `amqp.prefetch` documents
    /// are shown, and they return to the queue when the worker stops.
    #[arg(long)]
    dry_run: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match process::start("sj-worker", cli.config.as_deref(), cli.check_config, check) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    process::exit_code("sj-worker", run(&settings, cli.dry_run).await.map(|()| ExitCode::SUCCESS))
}

/// The worker's own requirements of the settings.
fn check(settings: &Settings) -> Result<(), String> {
    // Every token refresh sends it; without it the worker would start, then fail at the first
    // refresh (within the hour) with every document it holds.
    if settings.jobber.client_secret.is_none() {
        return Err("jobber.client_secret is not set: every Jobber token refresh sends it \
                    (SJ_JOBBER__CLIENT_SECRET or jobber.client_secret_file)"
            .to_owned());
    }
    Ok(())
}

async fn run(settings: &Settings, dry_run: bool) -> anyhow::Result<()> {
    let pool = store::pool(&settings.redis)?;
    let keys = Keys::new(&settings.namespace);
    let http = reqwest::Client::builder()
        .timeout(settings.jobber.request_timeout.0)
        .build()
        .context("building the HTTP client")?;
    let tokens = TokenStore::new(
        pool.clone(),
        keys.clone(),
        http.clone(),
        &settings.jobber.api_url,
        &settings.jobber.client_id,
        settings.jobber.client_secret.clone(),
        settings.jobber.refresh_token.clone(),
    );
    let budget = CostBudget::new(pool.clone(), &keys);
    let jobber = JobberClient::new(&settings.jobber, http, tokens, budget);
    let jobber = if dry_run { jobber.dry_run() } else { jobber };
    let topology = settings.amqp.topology(&settings.namespace);
    let mapping = Mapping::new(&settings.mapping, pool.clone(), keys.clone())
        .map_err(|e| anyhow::anyhow!("mapping table: {e}"))?;
    tracing::info!(mapping = %mapping.describe(), "mapping table");
    let mut shutdown = Box::pin(process::shutdown_signal());

    let mut writer: Option<Writer> = None;
    loop {
        // The marker field is looked up once Jobber answers (it may be down at start).
        if writer.is_none() {
            match marker_field(&jobber, &settings.jobber.marker_field).await {
                Ok(field) => {
                    writer = Some(Writer {
                        jobber: jobber.clone(),
                        crosswalk: Crosswalk::new(pool.clone(), keys.clone()),
                        settings: settings.worker.clone(),
                        resolver: Resolver {
                            jobber: jobber.clone(),
                            mapping: mapping.clone(),
                            settings: settings.mapping.clone(),
                            pool: pool.clone(),
                            keys: keys.clone(),
                            // Up to five Jobber calls under the lock (client, searches, creations),
                            // each bounded by the request timeout.
                            customer_lease: (settings.jobber.request_timeout.0 * 5)
                                .max(Duration::from_secs(60)),
                            cache: client_cache::ClientCache::new(pool.clone(), keys.clone()),
                        },
                        marker_field: field,
                        quote_rules: quote::QuoteRules::new(&settings.pricing, &settings.quote)
                            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?,
                        routing: write::Routing::new(&settings.quote)
                            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?,
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "Jobber not usable yet; trying again in 5 s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                        _ = &mut shutdown => return Ok(()),
                    }
                }
            }
        }
        let writer = writer.as_ref().expect("set above");
        match consume(settings, &topology, writer, &mut shutdown).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "lost the broker; reconnecting in 2 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = &mut shutdown => return Ok(()),
                }
            }
        }
    }
}

/// Consumes until shutdown (Ok) or until the connection fails (Err: the caller reconnects).
async fn consume(
    settings: &Settings,
    topology: &amqp::Topology,
    writer: &Writer,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> anyhow::Result<()> {
    let connection = amqp::connect(&settings.amqp).await?;
    let publisher = Publisher::open(&connection, topology.clone()).await?;
    topology.declare(publisher.channel()).await?;
    topology.check_dead_letter_exchange(publisher.channel()).await?;
    let (channel, consumer, consumer_tag) =
        amqp::consume(&connection, &topology.quotes_queue(), settings.amqp.prefetch, "sj-worker").await?;
    tracing::info!(queue = %topology.quotes_queue(), endpoint = %settings.amqp.endpoint(),
        concurrency = settings.worker.concurrency, "sj-worker consuming");

    let history = History::new(writer.crosswalk.pool().clone(), writer.crosswalk.keys());
    let handler = Handler {
        writer,
        history: &history,
        publisher: &publisher,
        topology,
        publisher_failed: tokio::sync::Notify::new(),
    };
    let deliveries = consumer.for_each_concurrent(settings.worker.concurrency, |delivery| {
        let handler = &handler;
        async move {
            match delivery {
                Ok(delivery) => handler.handle(delivery).await,
                Err(e) => tracing::error!(error = %e, "consumer error"),
            }
        }
    });
    tokio::pin!(deliveries);
    tokio::select! {
        _ = &mut deliveries => {
            // The stream ended: the broker cancelled us or the connection dropped.
            anyhow::bail!("the consumer stream ended")
        }
        _ = handler.publisher_failed.notified() => {
            // Documents in hand return to the queue when the connection closes.
            let _ = connection.close(200, "sj-worker reconnecting".into()).await;
            anyhow::bail!("a failed document could not be republished: reconnecting, declaring the topology again")
        }
        _ = &mut *shutdown => {
            tracing::info!("stopping: no new deliveries; finishing those in hand");
            let _ = channel.basic_cancel(consumer_tag.as_str().into(), BasicCancelOptions::default()).await;
            // In-flight documents finish (or their deliveries return to the queue at close).
            let _ = tokio::time::timeout(Duration::from_secs(25), &mut deliveries).await;
            let _ = connection.close(200, "sj-worker stopping".into()).await;
            Ok(())
        }
    }
}

/// The quote custom field that holds the marker. `None` (markers at the end of quote titles)
/// when the account has no such field, or when Jobber refuses the query itself (the app lacks
/// the "custom field configurations" read scope): the worker still writes quotes, it does not
/// wait for a scope that may never come. `Err` only for what may pass (Jobber down, throttled,
/// not connected).
async fn marker_field(
    jobber: &sj_shared::jobber::JobberClient,
    name: &str,
) -> Result<Option<String>, sj_shared::jobber::JobberError> {
    match jobber.quote_custom_field(name).await {
        Ok(Some(id)) => Ok(Some(id)),
        Ok(None) => {
            tracing::warn!(field = %name,
                "no such quote custom field in Jobber: the marker goes at the end of quote titles");
            Ok(None)
        }
        Err(e) if !e.is_transient() => {
            tracing::warn!(field = %name, error = %e,
                "Jobber refused the custom field query: the Jobber app probably lacks the custom field \
                 configurations (read) scope; the marker goes at the end of quote titles (sjctl verify \
                 names the missing scope)");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
