//! `sj-poller`: takes Saberis exports from the watched folder and/or the SaberisConnect API and
//! publishes one quote message per document to RabbitMQ, never losing a document (README, "How it
//! fits together"). One module per source: `folder`, `saberis_connect`.

mod folder;
mod place;
mod saberis_connect;
mod shutdown;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use notify::Watcher as _;
use sj_shared::amqp::{self, Publisher};
use sj_shared::config::Settings;
use sj_shared::intake::DocumentReader;
use sj_shared::process;
use sj_shared::store::{self, History, Keys, PublishedDocuments};

use folder::{FolderSource, PassReport};
use saberis_connect::{PollReport, SaberisConnectSource, SessionCache, TakenGuids};
use shutdown::Shutdown;

#[derive(Parser)]
#[command(
    name = "sj-poller",
    version,
    about = "Publish Saberis exports as quote messages.",
    long_about = "Publish Saberis exports as quote messages.\n\n\
        Watches poller.folder.incoming (default exports/incoming) for *.xml and *.json Saberis \
        documents. Each complete document is parsed, checked against the sanity rules and published \
        to RabbitMQ; once the broker confirmed it, the file moves to archive/YYYY-MM-DD/. A document \
        that cannot become a quote moves to rejected/ with NAME.error.txt beside it, and a dead letter \
        tells the operators.\n\n\
        With poller.saberis_connect.enabled, also polls the SaberisConnect API every poll_interval: \
        each new GUID is fetched and published the same way, and recorded in Redis as taken once \
        the broker confirmed it (refused ones are kept as rejected/GUID.json).\n\n\
        Settings: --config FILE or $SJ_CONFIG, then SJ_* variables (docs/configuration.md)."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Process what is in the folder now, wait for files still being written, poll SaberisConnect
    /// once (when enabled), then exit (for cron-style use and tests). Exit code 0; 2 when the
    /// broker could not be used; 3 when SaberisConnect or Redis failed before the poll was done.
    #[arg(long)]
    once: bool,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match process::start("sj-poller", cli.config.as_deref(), cli.check_config, |_| Ok(())) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    process::exit_code("sj-poller", run(&settings, cli.once).await)
}

async fn run(settings: &Settings, once: bool) -> anyhow::Result<ExitCode> {
    let folder = &settings.poller.folder;
    let connect = &settings.poller.saberis_connect;
    anyhow::ensure!(
        folder.enabled || connect.enabled,
        "no source is enabled (poller.folder.enabled and poller.saberis_connect.enabled are both false)"
    );
    if folder.enabled {
        std::fs::create_dir_all(&folder.incoming)
            .with_context(|| format!("creating the incoming folder {}", folder.incoming.display()))?;
    }
    let reader = DocumentReader::new(settings.parser.clone(), settings.sanity.clone());
    let keys = Keys::new(&settings.namespace);
    let pool = store::pool(&settings.redis);
    let history = pool.as_ref().ok().map(|pool| History::new(pool.clone(), &keys));
    let published = match &pool {
        Ok(pool) => Some(PublishedDocuments::new(pool.clone(), keys.clone())),
        Err(e) => {
            tracing::warn!(error = %e, "Redis not configured: re-exports will be published again");
            None
        }
    };
    // SaberisConnect needs Redis to remember what it took: without it, no API source at all.
    let saberis_connect = if connect.enabled {
        let pool = pool.as_ref().map_err(|e| anyhow::anyhow!("SaberisConnect needs Redis: {e}"))?;
        let token = connect.auth_token.as_ref().map(|t| t.expose()).unwrap_or_default();
        let sessions = SessionCache::new(pool.clone(), &keys, &connect.base_url, token);
        let client = saberis_connect::Client::new(connect, Some(sessions))?;
        Some((client, TakenGuids::new(pool.clone(), keys.clone())))
    } else {
        None
    };
    let topology = settings.amqp.topology(&settings.namespace);

    let mut shutdown = Shutdown::listen();
    let (mut folder_total, mut connect_total) = (PassReport::default(), PollReport::default());
    loop {
        // One connection per round; after a broker failure the next round reconnects.
        let connection = amqp::connect(&settings.amqp).await?;
        let publisher = Publisher::open(&connection, topology.clone()).await?;
        topology.declare(publisher.channel()).await?;
        tracing::info!(
            endpoint = %settings.amqp.endpoint(),
            incoming = folder.enabled.then(|| folder.incoming.display().to_string()),
            saberis_connect = connect.enabled.then_some(connect.base_url.as_str()),
            "sj-poller ready"
        );
        let folder_source = folder.enabled.then_some(FolderSource {
            settings: &settings.poller,
            reader: &reader,
            publisher: &publisher,
            published: published.as_ref(),
            history: history.as_ref(),
        });
        let connect_source = saberis_connect.as_ref().map(|(client, taken)| SaberisConnectSource {
            settings: &settings.poller,
            client,
            taken,
            reader: &reader,
            publisher: &publisher,
            published: published.as_ref(),
            history: history.as_ref(),
        });

        let result = if once {
            // The folder first, then one poll of the API.
            let folder_pass = async {
                match &folder_source {
                    Some(source) => drain(source, &mut folder_total).await,
                    None => Ok(()),
                }
            };
            match folder_pass.await {
                Ok(()) => match &connect_source {
                    Some(source) => source.poll(&shutdown).await.map(|report| connect_total += report),
                    None => Ok(()),
                },
                Err(e) => Err(e),
            }
        } else {
            // Both sources side by side; the first broker error ends the round for both.
            let folder_watch = async {
                match &folder_source {
                    Some(source) => watch(source, &mut folder_total, &shutdown).await,
                    None => Ok(()),
                }
            };
            let connect_watch = async {
                match &connect_source {
                    Some(source) => source.watch(&mut connect_total, &shutdown).await,
                    None => Ok(()),
                }
            };
            tokio::try_join!(folder_watch, connect_watch).map(|_| ())
        };
        let _ = connection.close(200, "sj-poller done".into()).await;
        match result {
            Ok(()) => break,
            Err(e) if once => return Err(e),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "round failed; reconnecting in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = shutdown.wait() => break,
                }
            }
        }
    }
    if folder.enabled {
        tracing::info!(
            published = folder_total.published,
            duplicates = folder_total.duplicates,
            rejected = folder_total.rejected,
            "folder source stopped"
        );
    }
    if connect.enabled {
        tracing::info!(
            published = connect_total.published,
            duplicates = connect_total.duplicates,
            rejected = connect_total.rejected,
            failed = connect_total.failed,
            "SaberisConnect source stopped"
        );
    }
    tracing::info!("sj-poller stopped");
    if !once {
        return Ok(ExitCode::SUCCESS);
    }
    if folder.enabled {
        println!(
            "sj-poller: {} published, {} already published (archived), {} rejected",
            folder_total.published, folder_total.duplicates, folder_total.rejected
        );
    }
    if connect.enabled {
        let t = &connect_total;
        println!(
            "sj-poller: SaberisConnect: {} listed, {} new, {} published, {} already published, {} rejected, {} left for the next poll",
            t.listed, t.new, t.published, t.duplicates, t.rejected, t.failed
        );
        if let Some(why) = &t.incomplete {
            // Exit code 3: cron (or the operator) learns that the API could not be polled fully.
            eprintln!("sj-poller: SaberisConnect poll incomplete: {why}");
            return Ok(ExitCode::from(3));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One document's span, from reading it to the broker's confirmation: the root of its trace. The
/// message's `traceparent` names it, and its `trace_id` field (logged) is set when it is published.
fn document_span(source: &str) -> tracing::Span {
    tracing::info_span!("document", source, trace_id = tracing::field::Empty)
}

/// `--once`: passes until no file is left waiting to settle.
async fn drain(source: &FolderSource<'_>, total: &mut PassReport) -> anyhow::Result<()> {
    loop {
        let report = source.pass().await?;
        *total += report;
        if report.waiting == 0 {
            return Ok(());
        }
        tokio::time::sleep(source.settings.folder.settle.0).await;
    }
}

/// Runs a pass whenever the folder changes (inotify), after files settle, and every
/// `rescan_interval` as a safety net; returns on shutdown.
async fn watch(source: &FolderSource<'_>, total: &mut PassReport, shutdown: &Shutdown) -> anyhow::Result<()> {
    let mut shutdown = shutdown.clone();
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    })
    .context("starting the file watcher")?;
    watcher
        .watch(&source.settings.folder.incoming, notify::RecursiveMode::NonRecursive)
        .context("watching the incoming folder")?;

    let settle = source.settings.folder.settle.0;
    let mut rescan = tokio::time::interval(source.settings.folder.rescan_interval.0);
    loop {
        let report = source.pass().await?;
        *total += report;
        // Files still being written: look again once they could have settled.
        let next_look = if report.waiting > 0 { settle } else { Duration::from_secs(24 * 3600) };
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = rescan.tick() => {}
            _ = tokio::time::sleep(next_look) => {}
            Some(()) = changes.recv() => {
                // Let a burst of events (a copy in progress) pass before looking.
                tokio::time::sleep(settle.min(Duration::from_millis(200))).await;
                while changes.try_recv().is_ok() {}
            }
        }
    }
}
