//! From the settings to the running sources: Redis stores, the SaberisConnect client, then one
//! broker round after another (each round one connection shared by both sources) until
//! shutdown, or one pass with `--once`.

use std::process::ExitCode;

use anyhow::Context as _;
use sj_shared::amqp::Session;
use sj_shared::config::Settings;
use sj_shared::intake::DocumentReader;
use sj_shared::observe;
use sj_shared::runtime::{Reconnect, Shutdown};
use sj_shared::store::{self, History, Keys, PublishedDocuments};

use crate::backfill::{self, Candidate, Window};
use crate::folder::{self, FolderSource, PassReport};
use crate::publish::Publishing;
use crate::saberis_connect::{
    self, Baseline, BaselineState, PollReport, SaberisConnectSource, SessionCache, TakenGuids,
};

/// How this poller runs, beyond the settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One pass, then exit (`--once`).
    pub once: bool,
    /// Instead of a pass, take documents before the bridge (`--once --since …`).
    pub backfill: Option<Window>,
}

/// Runs the poller until `shutdown` (or one pass with `--once`) and returns its exit code.
pub async fn run(settings: &Settings, options: Options, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let once = options.once || options.backfill.is_some();
    let dry_run = options.backfill.as_ref().is_some_and(|w| w.dry_run);
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
    // The folder source's first start in this installation holds back what is in incoming/
    // (a dry run changes nothing).
    let held_back = match folder.enabled && !dry_run {
        true => folder::first_start(folder, &reader)?,
        false => 0,
    };
    let keys = Keys::new(&settings.namespace);
    let pool = store::pool(&settings.redis);
    // A long-running poller serves its health endpoints; one pass (`--once`) does not.
    if !once {
        observe::serve("sj-poller", &settings.health, &[observe::BROKER]).await?;
        if let Ok(pool) = &pool {
            observe::readiness().require_redis(pool.clone());
        }
    }
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
        Some((client, TakenGuids::new(pool.clone(), keys.clone()), Baseline::new(pool.clone(), &keys)))
    } else {
        None
    };
    let topology = settings.amqp.topology(&settings.namespace);
    if let Some(window) = &options.backfill {
        let connect = saberis_connect.as_ref().map(|(client, taken, baseline)| (client, taken, baseline));
        let records = (published.as_ref(), history.as_ref());
        return run_backfill(settings, window, &reader, connect, records, &shutdown).await;
    }

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
            review_sanity: settings.review.sanity(),
        };
        let folder_source = folder.enabled.then(|| FolderSource { publishing: publishing() });
        let connect_source = saberis_connect.as_ref().map(|(client, taken, baseline)| SaberisConnectSource {
            client,
            taken,
            baseline,
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
        if held_back > 0 {
            println!(
                "sj-poller: first start: {held_back} files already in incoming/ held back as made before the bridge, \
                 moved to {} (to send some: {})",
                folder.before_bridge_dir().display(),
                backfill::HOW_TO_TAKE
            );
        }
    }
    if connect.enabled {
        let t = &connect_total;
        println!(
            "sj-poller: SaberisConnect: {} listed, {} new, {} published, {} already published, {} rejected, {} left for the next poll",
            t.listed, t.new, t.published, t.duplicates, t.rejected, t.failed
        );
        if t.before_bridge > 0 {
            println!(
                "sj-poller: SaberisConnect: first poll: {} exports held back as made before the bridge (to send some: {})",
                t.before_bridge,
                backfill::HOW_TO_TAKE
            );
        }
        if let Some(why) = &t.incomplete {
            // Exit code 3: cron (or the operator) learns that the API could not be polled fully.
            eprintln!("sj-poller: SaberisConnect poll incomplete: {why}");
            return Ok(ExitCode::from(3));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A document the backfill chose, from either source.
enum Chosen {
    File(std::path::PathBuf),
    Guid(String, Vec<u8>),
}

/// `--once --since …`: the documents before the bridge in the window, from every enabled source,
/// the oldest first (at most `--limit`); printed with `--dry-run`, else published exactly once
/// (files archived, GUIDs recorded as taken). Exit code 3 when SaberisConnect or Redis failed
/// before every document was looked at or taken.
async fn run_backfill<'a>(
    settings: &'a Settings,
    window: &Window,
    reader: &'a DocumentReader,
    connect: Option<(&'a saberis_connect::Client, &'a TakenGuids, &'a Baseline)>,
    (published, history): (Option<&'a PublishedDocuments>, Option<&'a History>),
    shutdown: &Shutdown,
) -> anyhow::Result<ExitCode> {
    let folder = &settings.poller.folder;
    let topology = settings.amqp.topology(&settings.namespace);
    // A dry run needs no broker.
    let session = match window.dry_run {
        true => None,
        false => Some(Session::open(&settings.amqp, &topology).await?),
    };
    let session = session.as_ref();
    let publishing = |publisher| Publishing {
        settings: &settings.poller,
        reader,
        publisher,
        published,
        history,
        review_sanity: settings.review.sanity(),
    };
    let mut connect_report = PollReport::default();
    let mut incomplete = None;
    let mut chosen: Vec<(Candidate, Chosen)> = Vec::new();
    let mut folder_before = 0;
    if folder.enabled {
        let (files, total) = folder::candidates(folder, reader, window)?;
        folder_before = total;
        chosen.extend(files.into_iter().map(|(c, path)| (c, Chosen::File(path))));
    }
    if let Some((client, taken, baseline)) = connect {
        // Before the first poll, nothing is recorded as before the bridge yet: the backfill makes
        // it first (a dry run only counts what it would hold back).
        let mut first_poll_over = match baseline.state().await {
            Ok(state) => Some(state == BaselineState::Done),
            Err(e) => {
                incomplete = Some(format!("Redis unavailable: {e:#}"));
                None
            }
        };
        if let (Some(false), Some(session)) = (first_poll_over, session) {
            let source =
                SaberisConnectSource { client, taken, baseline, publishing: publishing(&session.publisher) };
            let report = source.poll(shutdown).await?;
            first_poll_over = match report.incomplete {
                Some(why) => {
                    incomplete = Some(why);
                    None
                }
                None => Some(true),
            };
            println!(
                "sj-poller: SaberisConnect: first poll: {} published, {} held back as made before the bridge",
                report.published, report.before_bridge
            );
        }
        if let Some(over) = first_poll_over {
            let start_from = settings.poller.saberis_connect.start_from();
            match saberis_connect::candidates(
                client,
                taken,
                over,
                &start_from,
                reader,
                window,
                &mut connect_report,
            )
            .await
            {
                Some(guids) => {
                    chosen.extend(guids.into_iter().map(|(c, (g, bytes))| (c, Chosen::Guid(g, bytes))))
                }
                None => incomplete = connect_report.incomplete.clone(),
            }
        }
    }
    let found = chosen.len();
    backfill::oldest_first(&mut chosen, window.limit);
    let what = format!("documents before the bridge {}", window.describe());
    let before = match connect.is_some() {
        true => format!("folder {folder_before}, SaberisConnect {}", connect_report.before_bridge),
        false => format!("folder {folder_before}"),
    };
    let Some(session) = session else {
        println!(
            "sj-poller: backfill dry run, nothing published or recorded: {} of {found} {what} would be published \
             (before the bridge in all: {before})",
            chosen.len()
        );
        for (candidate, _) in &chosen {
            println!("{}", candidate.line());
        }
        if connect_report.failed > 0 {
            println!("sj-poller: {} SaberisConnect documents could not be fetched", connect_report.failed);
        }
        return Ok(exit_code(&incomplete));
    };

    println!("sj-poller: backfill: {} of {found} {what} (before the bridge in all: {before})", chosen.len());
    let (mut files, mut guids) = (Vec::new(), Vec::new());
    for (candidate, item) in chosen {
        tracing::info!(source = candidate.source, document = %candidate.id, date = candidate.date, "backfill");
        match item {
            Chosen::File(path) => files.push(path),
            Chosen::Guid(guid, bytes) => guids.push((guid, bytes)),
        }
    }
    let result = async {
        if folder.enabled {
            let source = FolderSource { publishing: publishing(&session.publisher) };
            let t = source.publish_chosen(files).await?;
            println!(
                "sj-poller: backfill: folder: {} published, {} already published (archived), {} rejected",
                t.published, t.duplicates, t.rejected
            );
        }
        if let Some((client, taken, baseline)) = connect {
            let source = SaberisConnectSource { client, taken, baseline, publishing: publishing(&session.publisher) };
            let t = source.publish_before_bridge(guids, shutdown).await?;
            println!(
                "sj-poller: backfill: SaberisConnect: {} published, {} already published, {} rejected, {} left for another run",
                t.published,
                t.duplicates,
                t.rejected,
                t.failed + connect_report.failed
            );
            if let Some(why) = t.incomplete {
                incomplete.get_or_insert(why);
            }
        }
        anyhow::Ok(())
    }
    .await;
    session.close("sj-poller backfill done").await;
    result?;
    Ok(exit_code(&incomplete))
}

/// 0, or 3 when the backfill could not look at or take every document.
fn exit_code(incomplete: &Option<String>) -> ExitCode {
    match incomplete {
        Some(why) => {
            eprintln!("sj-poller: backfill incomplete: {why}");
            ExitCode::from(3)
        }
        None => ExitCode::SUCCESS,
    }
}
