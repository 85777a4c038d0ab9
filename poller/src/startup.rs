//! From the settings to the running sources: Redis stores, the SaberisConnect client, then one
//! broker round after another (each round one connection shared by both sources) until
//! shutdown, or one pass with `--once`.

use std::process::ExitCode;

use anyhow::Context as _;
use sj_shared::amqp::Session;
use sj_shared::config::Settings;
use sj_shared::runtime::{Reconnect, Shutdown};
use sj_shared::saberis::DocumentReader;
use sj_shared::store::{self, History, Keys, PublishedDocuments};

use crate::folder::{self, FolderSource, PassReport};
use crate::publish::Publishing;
use crate::saberis_connect::{self, PollReport, SaberisConnectSource, SessionCache, TakenGuids};

/// How this poller runs, beyond the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// One pass, then exit (`--once`).
    pub once: bool,
}

/// Runs the poller until `shutdown` (or one pass with `--once`) and returns its exit code.
pub async fn run(settings: &Settings, options: Options, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let once = options.once;
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

    let mut reconnect = Reconnect::new("sj-poller", &shutdown);
    let (mut folder_total, mut connect_total) = (PassReport::default(), PollReport::default());
    loop {
        // One connection per round; after a broker failure the next round reconnects.
        reconnect.round_starts();
        let session = match Session::open(&settings.amqp, &topology).await {
            Ok(session) => session,
            Err(e) if once => return Err(e.into()),
            Err(e) => match reconnect.after_failure("cannot open the broker session", &e).await {
                true => continue,
                false => break,
            },
        };
        let publisher = &session.publisher;
        tracing::info!(
            endpoint = %settings.amqp.endpoint(),
            incoming = folder.enabled.then(|| folder.incoming.display().to_string()),
            saberis_connect = connect.enabled.then_some(connect.base_url.as_str()),
            "sj-poller ready"
        );
        let publishing = || Publishing {
            settings: &settings.poller,
            reader: &reader,
            publisher,
            published: published.as_ref(),
            history: history.as_ref(),
        };
        let folder_source = folder.enabled.then(|| FolderSource { publishing: publishing() });
        let connect_source = saberis_connect.as_ref().map(|(client, taken)| SaberisConnectSource {
            client,
            taken,
            publishing: publishing(),
        });

        let result = if once {
            // The folder first, then one poll of the API.
            let folder_pass = async {
                match &folder_source {
                    Some(source) => folder::drain(source, &mut folder_total).await,
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
                    Some(source) => folder::watch(source, &mut folder_total, &shutdown).await,
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
        session.close("sj-poller done").await;
        match result {
            Ok(()) => break,
            Err(e) if once => return Err(e),
            Err(e) => {
                if !reconnect.after_failure("round failed", &e).await {
                    break;
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
