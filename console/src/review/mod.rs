//! Reviewing documents before they are written (`review.when`; docs/console.md, "Reviewing
//! documents"):
//!
//! - the consumer of `sj.review`: each held document is committed to the console's SQLite file
//!   ([`store`]) and only then acked, so nothing is lost while the console is down or crashes;
//! - the outbox publisher: an approval commits the approved document (the `sj.quote-request.v1`
//!   message with the decision) to `review_outbox` in the same transaction as the decision; this
//!   task publishes it to `sj.quotes` with a publisher confirm and only then marks it sent. On
//!   every (re)start it publishes what is still unsent, so a crash between the commit and the
//!   publish republishes it; a second copy is harmless (the workers write a document once).

pub mod store;

use std::sync::OnceLock;
use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use sj_shared::amqp::{header, headers, Publisher, Session, Topology};
use sj_shared::config::Settings;
use sj_shared::message::{QuoteRequest, ReviewItem};
use sj_shared::runtime::Shutdown;
use tokio::sync::Notify;

use crate::db::Db;

/// How often the outbox is looked at even when nobody said so.
const OUTBOX_EVERY: Duration = Duration::from_secs(5);

/// Told by an approval: the outbox has a row to publish.
pub fn outbox_ready() -> &'static Notify {
    static READY: OnceLock<Notify> = OnceLock::new();
    READY.get_or_init(Notify::new)
}

/// Consumes `sj.review` and publishes the outbox until shutdown, connecting again after a
/// failure (pages are served meanwhile: the broker down stops only this task).
pub async fn run(db: Db, settings: Settings, shutdown: Shutdown) {
    let topology = settings.amqp.topology(&settings.namespace);
    loop {
        if shutdown.requested() {
            return;
        }
        match session(&db, &settings, &topology, shutdown.clone()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "review queue: lost the broker; connecting again");
                let mut wait = shutdown.clone();
                tokio::select! {
                    _ = wait.wait() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    }
}

async fn session(
    db: &Db,
    settings: &Settings,
    topology: &Topology,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let session = tokio::select! {
        session = Session::open(&settings.amqp, topology) => session?,
        _ = shutdown.wait() => return Ok(()),
    };
    publish_outbox(db, &session.publisher).await?;
    let queue = topology.review_queue();
    let (_channel, mut consumer, _tag) =
        sj_shared::amqp::consume(&session.connection, &queue, 16, "sj-console").await?;
    tracing::info!(%queue, "review queue: consuming");
    let mut tick = tokio::time::interval(OUTBOX_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.wait() => {
                session.close("sj-console stopping").await;
                return Ok(());
            }
            _ = outbox_ready().notified() => publish_outbox(db, &session.publisher).await?,
            _ = tick.tick() => publish_outbox(db, &session.publisher).await?,
            delivery = consumer.next() => {
                let Some(delivery) = delivery else { anyhow::bail!("the review queue's consumer was cancelled") };
                take(db, delivery?).await?;
            }
        }
    }
}

/// One held document: committed, then acked.
async fn take(db: &Db, delivery: lapin::message::Delivery) -> anyhow::Result<()> {
    let item: ReviewItem = match serde_json::from_slice(&delivery.data) {
        Ok(item) => item,
        Err(e) => {
            tracing::error!(error = %e, "review queue: an unreadable item, dropped");
            delivery.acker.reject(BasicRejectOptions { requeue: false }).await?;
            return Ok(());
        }
    };
    let traceparent = headers::text(delivery.properties.headers(), header::TRACEPARENT);
    match store::insert(db, &item, traceparent.as_deref()) {
        Ok((id, new)) => {
            tracing::info!(review = id, source = %item.request.source.id, new, "held for review: kept");
            delivery.acker.ack(BasicAckOptions::default()).await?;
        }
        Err(e) => {
            // Not acked: the broker keeps it (redelivered when the console connects again).
            anyhow::bail!("cannot keep a document for review in the database: {e}");
        }
    }
    Ok(())
}

/// Publishes every unsent approved document, each confirmed before it is marked sent.
async fn publish_outbox(db: &Db, publisher: &Publisher) -> anyhow::Result<()> {
    for outgoing in store::unsent(db)? {
        let request = match QuoteRequest::from_json(outgoing.body.as_bytes()) {
            Ok(request) => request,
            Err(e) => {
                tracing::error!(review = outgoing.review_id, error = %e, "outbox: an unreadable document, skipped");
                continue;
            }
        };
        publisher.publish_approved(&request, outgoing.traceparent.as_deref()).await?.confirmed().await?;
        store::mark_sent(db, outgoing.id)?;
        tracing::info!(review = outgoing.review_id, source = %request.source.id,
            "approved document handed to the workers (sj.quotes)");
    }
    Ok(())
}
