//! Telling the operators that Jobber refuses the bridge's connection (a token refresh refused,
//! the tokens revoked, the app disconnected): no quote can be written until someone connects
//! Jobber again, in the console (Connections) or with `sjctl jobber connect`. One notice per
//! disconnection among all workers and restarts: it is claimed in Redis
//! ([`TokenStore::claim_refusal_notice`], keyed by [`TokenStore::connection_id`]) before it is
//! published to `sj.alerts`, marked `sj-alert: jobber-unauthorized`, and the claim is given back
//! when the publish is not confirmed, so a later look sends it. The alerter emails it as it does
//! the outage notice ([`crate::outage_notice`]).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use lapin::types::ShortString;
use lapin::BasicProperties;
use sj_shared::amqp::{header, text, AmqpError, Publisher, Session, Topology};
use sj_shared::config::Settings;
use sj_shared::jobber::TokenStore;
use sj_shared::message::JobberUnauthorized;

/// The connection this process knows is told of: no Redis round trip per refused document once
/// it is.
static TOLD: Mutex<String> = Mutex::new(String::new());

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// After Jobber refused the bridge's tokens (`reason`): tells the operators, once per
/// disconnection among all workers.
pub async fn tell(tokens: &TokenStore, publisher: &Publisher, topology: &Topology, reason: &str) {
    let connection = match tokens.connection_id().await {
        Ok(connection) => connection,
        Err(e) => {
            tracing::debug!(error = %e, "cannot name the refused connection (Redis); looking again later");
            return;
        }
    };
    if *TOLD.lock().expect("not poisoned") == connection {
        return;
    }
    match tokens.claim_refusal_notice(&connection).await {
        Ok(true) => {}
        Ok(false) => {
            // Told already (another worker, or before a restart).
            *TOLD.lock().expect("not poisoned") = connection;
            return;
        }
        Err(e) => {
            tracing::debug!(error = %e, "cannot claim the notice that Jobber refuses the tokens (Redis)");
            return;
        }
    }
    let notice = JobberUnauthorized::new(&connection, now_ms(), reason);
    match publish(publisher, topology, &notice).await {
        Ok(()) => {
            *TOLD.lock().expect("not poisoned") = connection;
            tracing::warn!(%reason,
                "Jobber refuses the bridge's connection: the operators are told (sj.alerts); reconnect it in \
                 the console (Connections) or with sjctl jobber connect");
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not publish the notice that Jobber refuses the tokens; trying again later");
            if let Err(e) = tokens.release_refusal_notice(&connection).await {
                tracing::warn!(error = %e, "could not give back the notice's claim (Redis): no notice for this one");
            }
        }
    }
}

/// [`tell`] from a worker that has not started consuming (it waits for Jobber, not ready): on a
/// broker session of its own, closed after.
pub async fn tell_at_start(settings: &Settings, topology: &Topology, tokens: &TokenStore, reason: &str) {
    match tokens.connection_id().await {
        Ok(connection) if *TOLD.lock().expect("not poisoned") == connection => return,
        Ok(_) => {}
        Err(_) => return,
    }
    match Session::open(&settings.amqp, topology).await {
        Ok(Session { connection, publisher }) => {
            tell(tokens, &publisher, topology, reason).await;
            let _ = connection.close(200, "sj-worker notice sent".into()).await;
        }
        Err(e) => tracing::debug!(error = %e, "no broker for the notice that Jobber refuses the tokens"),
    }
}

/// Publishes the notice straight to `sj.alerts` (through the default exchange: no dead letter,
/// nothing to replay).
async fn publish(
    publisher: &Publisher,
    topology: &Topology,
    notice: &JobberUnauthorized,
) -> Result<(), AmqpError> {
    let body = serde_json::to_vec(notice).expect("a notice serializes");
    let properties = BasicProperties::default()
        .with_message_id(ShortString::from(format!("jobber-unauthorized:{}", notice.connection)))
        .with_content_type("application/json".into())
        .with_type(JobberUnauthorized::SCHEMA.into())
        .with_delivery_mode(2);
    let alert = [(header::ALERT, text(JobberUnauthorized::ALERT))];
    publisher
        .republish("", topology.alerts_queue().as_str(), &body, &properties, &alert)
        .await?
        .confirmed()
        .await
}
