//! From the settings to a consuming alerter, reconnecting whenever the broker goes away.

use sj_shared::config::Settings;
use sj_shared::observe;
use sj_shared::runtime::{Reconnect, Shutdown};

use crate::mail::{Context, Mailer};

/// The alerter's own requirements of the settings: addresses and credentials are configuration
/// too, refused at start (and by `--check-config`), not at the first alert.
pub fn check(settings: &Settings) -> Result<(), String> {
    Mailer::new(&settings.alerts).map(|_| ()).map_err(|e| e.to_string())
}

/// Consumes until `shutdown`, reconnecting whenever the broker goes away.
pub async fn run(settings: &Settings, shutdown: Shutdown) -> anyhow::Result<()> {
    let mailer = Mailer::new(&settings.alerts).map_err(|e| anyhow::anyhow!("{e}"))?;
    observe::serve("sj-alerter", &settings.health, &[observe::BROKER, observe::CONSUMING]).await?;
    let topology = settings.amqp.topology(&settings.namespace);
    let vhost = settings.amqp.url.path();
    let context = Context::new(&settings.alerts, &settings.namespace, vhost, &topology.parked_queue());
    let mut reconnect = Reconnect::new("sj-alerter", &shutdown);
    // What was emailed outlives a connection: a lost ack redelivers on the next one.
    let mut told = crate::told::Told::new();
    loop {
        reconnect.round_starts();
        match crate::consume::consume(settings, &topology, &mailer, &context, &shutdown, &mut told).await {
            Ok(()) => return Ok(()),
            // Every delivery held goes back to the queue with the connection: nothing is lost.
            Err(e) => {
                if !reconnect.after_failure("lost the broker", &e).await {
                    return Ok(());
                }
            }
        }
    }
}
