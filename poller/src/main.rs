//! `sj-poller`: takes Saberis exports from the watched folder and publishes one quote message per
//! document to RabbitMQ, never losing a document (README, "How it fits together").
//!
//! The SaberisConnect API source is not built yet (issue #4): the folder is the only source.

mod folder;
mod place;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use notify::Watcher as _;
use sj_shared::amqp::{self, Publisher};
use sj_shared::config::Settings;
use sj_shared::saberis::DocumentReader;
use sj_shared::store::{self, Keys, PublishedDocuments};

use folder::{FolderSource, PassReport};

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
        tells the operators. Settings: --config FILE or $SJ_CONFIG, then SJ_* variables (README)."
)]
struct Cli {
    /// The configuration file (TOML). Defaults to $SJ_CONFIG, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Process what is in the folder now, wait for files still being written, then exit
    /// (for cron-style use and tests). Exit code 0 unless the broker could not be used.
    #[arg(long)]
    once: bool,

    /// Load and validate the configuration, print it (secrets hidden) and exit.
    #[arg(long)]
    check_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("sj-poller: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.check_config {
        println!("{settings:#?}");
        return ExitCode::SUCCESS;
    }
    sj_shared::telemetry::init(&settings.log);
    match run(&settings, cli.once).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sj-poller stopped");
            eprintln!("sj-poller: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(settings: &Settings, once: bool) -> anyhow::Result<()> {
    let folder = &settings.poller.folder;
    anyhow::ensure!(folder.enabled, "no source is enabled (poller.folder.enabled = false)");
    std::fs::create_dir_all(&folder.incoming)
        .with_context(|| format!("creating the incoming folder {}", folder.incoming.display()))?;
    let reader = DocumentReader::new(settings.parser.clone(), settings.sanity.clone());
    let published = store::pool(&settings.redis)
        .map(|pool| PublishedDocuments::new(pool, Keys::new(&settings.namespace)))
        .map_err(|e| tracing::warn!(error = %e, "Redis not configured: re-exports will be published again"))
        .ok();
    let topology = settings.amqp.topology(&settings.namespace);

    let mut shutdown = Box::pin(shutdown_signal());
    let mut total = PassReport::default();
    loop {
        // One connection per round; after a broker failure the next round reconnects.
        let connection = amqp::connect(&settings.amqp).await?;
        let publisher = Publisher::open(&connection, topology.clone()).await?;
        topology.declare(publisher.channel()).await?;
        tracing::info!(endpoint = %settings.amqp.endpoint(), incoming = %folder.incoming.display(), "sj-poller ready");
        let source = FolderSource {
            settings: &settings.poller,
            reader: &reader,
            publisher: &publisher,
            published: published.as_ref(),
        };

        let result = if once {
            drain(&source, &mut total).await
        } else {
            watch(&source, &mut total, &mut shutdown).await
        };
        let _ = connection.close(200, "sj-poller done".into()).await;
        match result {
            Ok(()) => break,
            Err(e) if once => return Err(e),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "pass failed; reconnecting in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = &mut shutdown => break,
                }
            }
        }
    }
    tracing::info!(
        published = total.published,
        duplicates = total.duplicates,
        rejected = total.rejected,
        "sj-poller stopped"
    );
    if once {
        println!(
            "sj-poller: {} published, {} already published (archived), {} rejected",
            total.published, total.duplicates, total.rejected
        );
    }
    Ok(())
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
async fn watch(
    source: &FolderSource<'_>,
    total: &mut PassReport,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> anyhow::Result<()> {
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
            _ = &mut *shutdown => return Ok(()),
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

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested: finishing the current pass");
}
