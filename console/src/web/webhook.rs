//! `POST /webhooks/jobber`: Jobber's webhook events. The signature (`X-Jobber-Hmac-SHA256`,
//! base64 of HMAC-SHA256 over the raw body with the app's client secret) is checked in constant
//! time before anything is parsed; a valid event is stored once (delivery is at least once) and
//! answered at once. Nothing in the request calls Jobber.
//!
//! `APP_DISCONNECT`: the bridge's Jobber tokens are dropped (a disconnect's tombstone in Redis,
//! as `sjctl jobber disconnect` leaves) and every page shows a banner until the bridge is
//! connected again.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sj_shared::jobber::TokenState;

use super::{Shared, MAX_WEBHOOK};
use crate::db::FLAG_JOBBER_DISCONNECTED;

pub const SIGNATURE_HEADER: &str = "x-jobber-hmac-sha256";

/// Whether `signature` (base64) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time.
pub fn signature_valid(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(sent) = STANDARD.decode(signature.trim()) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&sent).is_ok()
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    web_hook_event: Event,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    topic: String,
    #[serde(default)]
    account_id: String,
    item_id: String,
    /// Apps created before 2023-12-08 receive the misspelled `occuredAt`.
    #[serde(alias = "occuredAt")]
    occurred_at: String,
}

/// The console's record of a disconnect by Jobber (the flag's value).
#[derive(Serialize, Deserialize)]
pub struct Disconnection {
    pub occurred_at: String,
    /// Set once the tokens in Redis were replaced by the disconnect's tombstone.
    pub tokens_dropped: bool,
}

pub async fn receive(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = app.settings.jobber.client_secret.as_ref() else {
        tracing::error!("a Jobber webhook arrived but jobber.client_secret is not set: it cannot be checked");
        return (StatusCode::SERVICE_UNAVAILABLE, "not configured").into_response();
    };
    if body.len() > MAX_WEBHOOK {
        return (StatusCode::PAYLOAD_TOO_LARGE, "too large").into_response();
    }
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !signature_valid(secret.expose().as_bytes(), &body, signature) {
        tracing::warn!(present = !signature.is_empty(), "Jobber webhook refused: bad signature");
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "not UTF-8").into_response();
    };
    let event = match serde_json::from_str::<Envelope>(text) {
        Ok(envelope) => envelope.data.web_hook_event,
        Err(e) => {
            tracing::warn!(error = %e, "a signed Jobber webhook is not a webHookEvent");
            return (StatusCode::BAD_REQUEST, "not a webHookEvent").into_response();
        }
    };
    let key = format!("{}|{}|{}", event.topic, event.item_id, event.occurred_at);
    let stored = app.db.store_webhook_event(
        &key,
        &event.topic,
        &event.item_id,
        &event.account_id,
        &event.occurred_at,
        text,
    );
    let new = match stored {
        Ok(new) => new,
        Err(e) => {
            // Jobber delivers again later: better than an event lost.
            tracing::error!(error = %e, topic = %event.topic, "cannot store a Jobber webhook");
            return (StatusCode::INTERNAL_SERVER_ERROR, "not stored").into_response();
        }
    };
    tracing::info!(topic = %event.topic, item = %event.item_id, duplicate = !new, "Jobber webhook received");
    if new && event.topic == "APP_DISCONNECT" {
        app_disconnect(&app, &event.occurred_at);
    }
    (StatusCode::OK, "ok").into_response()
}

/// Flags the disconnect (the banner shows from now on), then drops the tokens in the background:
/// the token lock may be held by a refresh for seconds, and Jobber wants its answer within one.
fn app_disconnect(app: &Shared, occurred_at: &str) {
    let flag = |dropped: bool| {
        serde_json::to_string(&Disconnection { occurred_at: occurred_at.to_owned(), tokens_dropped: dropped })
            .expect("serializes")
    };
    if let Err(e) = app.db.set_flag(FLAG_JOBBER_DISCONNECTED, &flag(false)) {
        tracing::error!(error = %e, "cannot record Jobber's disconnect");
    }
    let _ = app.db.audit("jobber", "jobber.app-disconnect", &format!("occurred at {occurred_at}"));
    let app = app.clone();
    let dropped = flag(true);
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(500);
        loop {
            match app.tokens.disconnect().await {
                Ok(()) => {
                    tracing::warn!(
                        "Jobber disconnected the bridge (APP_DISCONNECT): its tokens were dropped"
                    );
                    if let Err(e) = app.db.set_flag(FLAG_JOBBER_DISCONNECTED, &dropped) {
                        tracing::error!(error = %e, "cannot record that the Jobber tokens were dropped");
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, retry_in = ?wait, "cannot drop the Jobber tokens after APP_DISCONNECT");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        }
    });
}

/// Jobber's disconnect, while it stands. Once the tokens were dropped and the bridge is connected
/// again (new tokens in Redis, e.g. by `sjctl jobber connect`), the flag is cleared.
pub async fn disconnection(app: &Shared) -> Option<Disconnection> {
    let value = app.db.flag(FLAG_JOBBER_DISCONNECTED).ok().flatten()?;
    let disconnection: Disconnection = serde_json::from_str(&value).ok()?;
    if disconnection.tokens_dropped {
        let state = tokio::time::timeout(Duration::from_secs(2), app.tokens.state()).await;
        if let Ok(Ok(TokenState::Connected(_))) = state {
            if app.db.clear_flag(FLAG_JOBBER_DISCONNECTED).is_ok() {
                let _ = app.db.audit("jobber", "jobber.reconnected", "new tokens found in Redis");
            }
            return None;
        }
    }
    Some(disconnection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn only_the_exact_signature_of_the_raw_body_passes() {
        let body = br#"{"data":{"webHookEvent":{"topic":"QUOTE_CREATE"}}}"#;
        let good = sign(b"secret", body);
        assert!(signature_valid(b"secret", body, &good));
        assert!(!signature_valid(b"other", body, &good));
        assert!(!signature_valid(
            b"secret",
            br#"{"data": {"webHookEvent":{"topic":"QUOTE_CREATE"}}}"#,
            &good
        ));
        assert!(!signature_valid(b"secret", body, ""));
        assert!(!signature_valid(b"secret", body, "not base64!"));
        assert!(!signature_valid(b"secret", body, &good[..good.len() - 4]));
    }

    #[test]
    fn both_spellings_of_occurred_at_are_read() {
        for key in ["occurredAt", "occuredAt"] {
            let body = format!(
                r#"{{"data":{{"webHookEvent":{{"topic":"APP_DISCONNECT","appId":"a","accountId":"b","itemId":"c","{key}":"2021-08-12T16:31:36-06:00"}}}}}}"#
            );
            let event = serde_json::from_str::<Envelope>(&body).unwrap().data.web_hook_event;
            assert_eq!(event.occurred_at, "2021-08-12T16:31:36-06:00");
            assert_eq!((event.topic.as_str(), event.item_id.as_str()), ("APP_DISCONNECT", "c"));
        }
    }
}
