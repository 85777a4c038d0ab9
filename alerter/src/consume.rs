//! One connection's life: consume `sj.alerts`, gather digests, email them, ack. No alert is lost:
//! a delivery is acked only once the SMTP server accepted the email that tells of it.

use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions};
use sj_shared::amqp::{self, Publisher, Session, Topology};
use sj_shared::config::Settings;
use sj_shared::observe;
use sj_shared::runtime::Shutdown;
use tokio::time::Instant;

use crate::alert::Alert;
use crate::digest::{Digest, Digests};
use crate::mail::{self, Context, Mailer, SendError};
use crate::told::{fingerprint, Told};

/// The first wait after the mail server failed; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The header that says why an alert was parked instead of emailed.
const ALERT_ERROR_HEADER: &str = "sj-alert-error";

type Sending = Pin<Box<dyn std::future::Future<Output = (Digest<Delivery>, Result<(), SendError>)>>>;

/// One connection's life: consume, digest, email, ack. Ok at shutdown, Err when the connection
/// failed (the caller reconnects; unacked deliveries come back).
pub async fn consume(
    settings: &Settings,
    topology: &Topology,
    mailer: &Mailer,
    context: &Context,
    shutdown: &Shutdown,
    told: &mut Told,
) -> anyhow::Result<()> {
    let alerts = &settings.alerts;
    let mut shutdown = shutdown.clone();
    let Session { connection, publisher } = Session::open(&settings.amqp, topology).await?;

    // Room for a full digest while the previous one waits for the mail server; beyond that the
    // broker keeps the rest, which is as safe.
    let prefetch = u16::try_from(alerts.max_per_mail.saturating_mul(2)).unwrap_or(u16::MAX);
    let (channel, mut consumer, consumer_tag) =
        amqp::consume(&connection, &topology.alerts_queue(), prefetch, "sj-alerter").await?;
    let _consuming = observe::consuming(&topology.alerts_queue(), &channel);
    tracing::info!(queue = %topology.alerts_queue(), endpoint = %settings.amqp.endpoint(),
        smtp = %format!("{}:{}", alerts.smtp.host, alerts.smtp.port), window = ?alerts.window.0,
        max_per_mail = alerts.max_per_mail, "sj-alerter consuming");

    let mut digests: Digests<Delivery> = Digests::new(alerts.window.0, alerts.max_per_mail);
    let mut sending: Option<Sending> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut retry_at: Option<Instant> = None;
    loop {
        if sending.is_none() && retry_at.is_none() {
            if let Some(digest) = digests.take_ready() {
                let email = mail::render(&digest, context);
                let mailer = mailer.clone();
                sending = Some(Box::pin(async move {
                    let result = mailer.send(&email).await;
                    (digest, result)
                }));
            }
        }
        let now = Instant::now();
        let close_at = digests.next_close().map(Instant::from_std);
        tokio::select! {
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    let alert = Alert::from_delivery(&delivery.data, &delivery.properties);
                    if delivery.redelivered
                        && told.contains(&fingerprint(&delivery.data, &delivery.properties), now.into_std())
                    {
                        tracing::info!(source = %alert.key.source, kind = %alert.kind,
                            "emailed already (the ack was lost): acked, not emailed again");
                        ack(&delivery).await;
                    } else {
                        tracing::info!(source = %alert.key.source, kind = %alert.kind, reason = %alert.reason,
                            redelivered = delivery.redelivered, "alert received");
                        observe::metrics().alert_received(alert.kind.name());
                        digests.add(alert, delivery, now.into_std());
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("the consumer stream ended (cancelled by the broker?)"),
            },
            _ = tokio::time::sleep_until(close_at.unwrap_or(now)), if close_at.is_some() => {
                digests.close_due(Instant::now().into_std());
            }
            _ = tokio::time::sleep_until(retry_at.unwrap_or(now)), if retry_at.is_some() => {
                retry_at = None;
            }
            (digest, result) = async { sending.as_mut().expect("guarded").await }, if sending.is_some() => {
                sending = None;
                match result {
                    Ok(()) => {
                        backoff = FIRST_BACKOFF;
                        emailed(digest, told).await;
                    }
                    Err(SendError::Transient(e)) => {
                        observe::metrics().alert_email_failed("transient");
                        tracing::warn!(error = %e, retry_in = ?backoff, held = digests.held() + digest.entries().len(),
                            "the mail server is not taking the email; alerts wait, unacked");
                        digests.put_back(vec![digest]);
                        retry_at = Some(Instant::now() + backoff);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    Err(SendError::Permanent(e)) if digest.entries().len() > 1 => {
                        observe::metrics().alert_email_failed("permanent");
                        // One document may be what the server refuses: try each alone.
                        tracing::warn!(error = %e, documents = digest.entries().len(),
                            "the mail server refused the digest; sending one email per document");
                        digests.put_back(digest.split());
                    }
                    Err(SendError::Permanent(e)) => {
                        observe::metrics().alert_email_failed("permanent");
                        park(&publisher, topology, digest, &e).await?
                    }
                }
            }
            _ = shutdown.wait() => {
                tracing::info!(held = digests.held(), "stopping: alerts not yet emailed return to the queue");
                let _ = channel.basic_cancel(consumer_tag.as_str().into(), BasicCancelOptions::default()).await;
                // An email already handed to the server finishes, so its alerts are not sent twice.
                if let Some(sending) = sending.take() {
                    if let (digest, Ok(())) = sending.await {
                        emailed(digest, told).await;
                    }
                }
                let _ = connection.close(200, "sj-alerter stopping".into()).await;
                return Ok(());
            }
        }
    }
}

/// The server accepted the email: ack every message it told of (and remember them, for a
/// redelivery after a lost ack).
async fn emailed(digest: Digest<Delivery>, told: &mut Told) {
    let documents = digest.entries().len();
    let sources: Vec<&str> = digest.entries().iter().map(|e| e.alert.key.source.as_str()).collect();
    tracing::info!(documents, sources = ?sources, "digest emailed");
    observe::metrics().alert_emails_sent.inc();
    let tokens: Vec<Delivery> = digest.into_tokens().collect();
    told.emailed(tokens.iter().map(|d| fingerprint(&d.data, &d.properties)), std::time::Instant::now());
    for delivery in tokens {
        ack(&delivery).await;
    }
}

/// The server refused this one document's email for good: retrying would block every later alert
/// behind it, so it is logged in full and parked in `sj.alerts.undeliverable` with the reason, and
/// the original acked once the park copy was confirmed.
async fn park(
    publisher: &Publisher,
    topology: &Topology,
    digest: Digest<Delivery>,
    error: &str,
) -> anyhow::Result<()> {
    let queue = topology.undeliverable_alerts_queue();
    for entry in digest.entries() {
        let a = &entry.alert;
        tracing::error!(source = %a.key.source, kind = %a.kind, reason = %a.reason, smtp_error = %error,
            %queue, "the mail server refused this alert for good; parked, not emailed");
    }
    for delivery in digest.into_tokens() {
        let reason = [(ALERT_ERROR_HEADER, sj_shared::amqp::text(error))];
        publisher
            .republish("", &queue, &delivery.data, &delivery.properties, &reason)
            .await?
            .confirmed()
            .await?;
        observe::metrics().alerts_undeliverable.inc();
        ack(&delivery).await;
    }
    Ok(())
}

async fn ack(delivery: &Delivery) {
    // A lost ack means a redelivery and a second email: at least once, never lost.
    match delivery.acker.ack(BasicAckOptions::default()).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!("ack not taken (channel gone): the alert will come again"),
        Err(e) => tracing::warn!(error = %e, "ack failed: the alert will come again"),
    }
}
