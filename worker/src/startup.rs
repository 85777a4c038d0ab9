//! From the settings to a consuming worker: the Jobber client, the mapping table, the writer
//! (once Jobber answers the marker field query), then one broker session after another until
//! shutdown.

use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use lapin::options::BasicCancelOptions;
use sj_shared::amqp::{self, Session, Topology};
use sj_shared::config::Settings;
use sj_shared::jobber::JobberClient;
use sj_shared::mapping::Mapping;
use sj_shared::observe;
use sj_shared::runtime::{Reconnect, Shutdown};
use sj_shared::store::{self, Crosswalk, History, Keys};

use crate::client_cache::ClientCache;
use crate::consume::Handler;
use crate::effects::Effects;
use crate::resolve::Resolver;
use crate::scan_cache::ScanCache;
use crate::write::{self, Writer};

/// How this worker runs, beyond the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Log the Jobber writes instead of sending them; change nothing anywhere (`--dry-run`).
    pub dry_run: bool,
}

/// The worker's own requirements of the settings.
pub fn check(settings: &Settings) -> Result<(), String> {
    // Every token refresh sends it; without it the worker would start, then fail at the first
    // refresh (within the hour) with every document it holds.
    if settings.jobber.client_secret.is_none() {
        return Err("jobber.client_secret is not set: every Jobber token refresh sends it \
                    (SJ_JOBBER__CLIENT_SECRET or jobber.client_secret_file)"
            .to_owned());
    }
    Ok(())
}

/// Runs the worker until `shutdown`: Ok then, Err only for what configuration or a restart
/// cannot fix by waiting.
pub async fn run(settings: &Settings, options: Options, shutdown: Shutdown) -> anyhow::Result<()> {
    let pool = store::pool(&settings.redis)?;
    observe::serve("sj-worker", &settings.health, &[observe::BROKER, observe::CONSUMING]).await?;
    observe::readiness().require_redis(pool.clone());
    let keys = Keys::new(&settings.namespace);
    let jobber = JobberClient::from_settings(settings, pool.clone()).context("building the HTTP client")?;
    let crosswalk = Crosswalk::new(pool.clone(), keys.clone());
    let cache = ClientCache::new(pool.clone(), keys.clone());
    let topology = settings.amqp.topology(&settings.namespace);
    let mapping = Mapping::new(&settings.mapping, pool.clone(), keys.clone())
        .map_err(|e| anyhow::anyhow!("mapping table: {e}"))?;
    tracing::info!(mapping = %mapping.describe(), "mapping table");
    mapping.export_metrics();
    let catalogs = sj_shared::mapping::Catalogs::new(&settings.mapping, pool.clone(), keys.clone())
        .map_err(|e| anyhow::anyhow!("catalog table: {e}"))?;
    tracing::info!(catalogs = %catalogs.describe(), "catalog table");
    // --dry-run is decided here, once: Jobber's mutations withheld by the client, every other
    // change logged by the effects (crate::effects).
    let (jobber, effects) = if options.dry_run {
        (jobber.dry_run(), Effects::dry_run(crosswalk.clone(), cache.clone(), mapping.clone()))
    } else {
        (jobber, Effects::live(crosswalk.clone(), cache.clone(), mapping.clone()))
    };
    let quote_rules = crate::quote::QuoteRules::new(&settings.pricing, &settings.quote)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let routing = write::Routing::new(&settings.quote, &settings.jobs)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;

    let mut reconnect = Reconnect::new("sj-worker", &shutdown);
    // The marker field is looked up once Jobber answers (it may be down at start).
    let marker_field = loop {
        reconnect.round_starts();
        match marker_field(&jobber, &settings.jobber.marker_field).await {
            Ok(field) => break field,
            Err(e) => {
                observe::not_consuming(&topology.quotes_queue(), format!("waiting for Jobber: {e}"));
                if e.kind == sj_shared::jobber::JobberErrorKind::Unauthorized {
                    let tokens = jobber.tokens();
                    crate::unauthorized_notice::tell_at_start(settings, &topology, tokens, &e.message).await;
                }
                if !reconnect.after_failure("Jobber not usable yet", &e).await {
                    return Ok(());
                }
            }
        }
    };
    let writer = Writer {
        jobber: jobber.clone(),
        crosswalk,
        settings: settings.worker.clone(),
        resolver: Resolver {
            jobber: jobber.clone(),
            mapping: mapping.clone(),
            settings: settings.mapping.clone(),
            pool: pool.clone(),
            keys: keys.clone(),
            // Up to five Jobber calls under the lock (client, searches, creations), each bounded
            // by the request timeout.
            customer_lease: (settings.jobber.request_timeout.0 * 5).max(Duration::from_secs(60)),
            cache,
            effects: effects.clone(),
        },
        marker_field,
        scans: ScanCache::new(pool.clone(), keys.clone(), settings.worker.recheck_after_redis_reset.0),
        quote_rules,
        catalogs,
        routing,
        effects,
        shutdown: shutdown.clone(),
        gate: crate::review::Gate::new(&settings.review),
        breaker: sj_shared::jobber::Breaker::new(
            pool.clone(),
            &keys,
            sj_shared::jobber::BreakerRules {
                threshold: settings.worker.breaker_failures,
                window: settings.worker.breaker_window.0,
                probe_interval: settings.worker.breaker_probe_interval.0,
            },
        ),
    };
    loop {
        reconnect.round_starts();
        match consume(settings, &topology, &writer, &shutdown).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                if !reconnect.after_failure("lost the broker", &e).await {
                    return Ok(());
                }
            }
        }
    }
}

/// Consumes until shutdown (Ok) or until the connection fails (Err: the caller reconnects).
async fn consume(
    settings: &Settings,
    topology: &Topology,
    writer: &Writer,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let mut shutdown = shutdown.clone();
    let Session { connection, publisher } = Session::open(&settings.amqp, topology).await?;
    topology.check_dead_letter_exchange(publisher.channel()).await?;
    let history = History::new(writer.crosswalk.pool().clone(), writer.crosswalk.keys());
    let handler = Handler {
        writer,
        history: &history,
        parked: sj_shared::store::ParkedDocuments::new(
            writer.crosswalk.pool().clone(),
            writer.crosswalk.keys().clone(),
        ),
        publisher: &publisher,
        topology,
        publisher_failed: tokio::sync::Notify::new(),
        shutdown: shutdown.clone(),
        outage_after: settings.alerts.outage_after.0,
        pause: tokio::sync::Notify::new(),
        paused: std::sync::Mutex::new(None),
    };
    let mut resumed = false;
    loop {
        let (channel, consumer, consumer_tag) =
            amqp::consume(&connection, &topology.quotes_queue(), settings.amqp.prefetch, "sj-worker").await?;
        let _consuming = observe::consuming(&topology.quotes_queue(), &channel);
        if resumed {
            tracing::info!(queue = %topology.quotes_queue(), "sj-worker consuming again");
        } else {
            tracing::info!(queue = %topology.quotes_queue(), endpoint = %settings.amqp.endpoint(),
                concurrency = settings.worker.concurrency, "sj-worker consuming");
        }
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
            _ = handler.pause.notified() => {
                // Jobber failing for everyone, or Redis away: take no more documents; those in
                // hand finish or are given back too (each checks before writing).
                let _ = channel.basic_cancel(consumer_tag.as_str().into(), BasicCancelOptions::default()).await;
                let _ = tokio::time::timeout(Duration::from_secs(25), &mut deliveries).await;
                let _ = channel.close(200, "sj-worker pausing".into()).await;
                let pause = handler.paused.lock().expect("pause lock").take();
                tracing::warn!(reason = pause.map(|p| p.why()).unwrap_or("?"),
                    "paused: documents wait in sj.quotes, none taken until it passes");
                if !wait_out(&handler, &shutdown).await {
                    let _ = connection.close(200, "sj-worker stopping".into()).await;
                    return Ok(());
                }
                resumed = true;
            }
            _ = shutdown.wait() => {
                tracing::info!("stopping: no new deliveries; finishing those in hand");
                let _ = channel.basic_cancel(consumer_tag.as_str().into(), BasicCancelOptions::default()).await;
                // In-flight documents finish (or their deliveries return to the queue at close).
                let _ = tokio::time::timeout(Duration::from_secs(25), &mut deliveries).await;
                let _ = connection.close(200, "sj-worker stopping".into()).await;
                return Ok(());
            }
        }
    }
}

/// While paused: until Redis answers and the circuit breaker is closed (this worker probing
/// Jobber when it is its turn). `false`: shutdown first.
async fn wait_out(handler: &Handler<'_>, shutdown: &Shutdown) -> bool {
    loop {
        match crate::outage::hold_until_redis_answers(handler.writer.crosswalk.pool(), shutdown, None).await {
            crate::outage::Hold::Shutdown => return false,
            _ => {}
        }
        match handler.outage().hold_while_open(shutdown, None).await {
            crate::outage::Hold::Shutdown => return false,
            crate::outage::Hold::Closed => {}
            crate::outage::Hold::TooLong => continue,
        }
        // Redis may have gone meanwhile: look once more before taking documents again.
        if handler.writer.crosswalk.pool().get().await.is_ok() {
            tracing::info!("resuming: Jobber and Redis answer");
            return true;
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
