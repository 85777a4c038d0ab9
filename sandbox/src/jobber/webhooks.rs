//! Jobber webhooks: `POST` to the configured target with Jobber's body and signature.
//!
//! Body: `{"data":{"webHookEvent":{"topic","appId","accountId","itemId","occurredAt"}}}` (ids only);
//! header `X-Jobber-Hmac-SHA256` = base64(HMAC-SHA256(key = OAuth client secret, raw body)).
//! Delivery is fire-and-forget, one attempt, like a first delivery by Jobber; every attempt is
//! logged for `GET /_admin/webhooks`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::clock::iso8601;
use crate::context::Shared;
use crate::jobber::ids::encode;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Jobber-Hmac-SHA256";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    ClientCreate,
    QuoteCreate,
    QuoteApproved,
    /// A quote deleted in the web UI (`DELETE /_admin/jobber/quotes/{quote}`).
    QuoteDestroy,
    /// `appDisconnect` (the sandbox's `itemId` is the account's id).
    AppDisconnect,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::ClientCreate => "CLIENT_CREATE",
            Topic::QuoteCreate => "QUOTE_CREATE",
            Topic::QuoteApproved => "QUOTE_APPROVED",
            Topic::QuoteDestroy => "QUOTE_DESTROY",
            Topic::AppDisconnect => "APP_DISCONNECT",
        }
    }
}

/// One delivery attempt, for inspection.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub topic: &'static str,
    pub url: String,
    pub body: String,
    pub signature: String,
    /// The target's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// `base64(HMAC-SHA256(secret, body))`.
pub fn sign(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[derive(Default)]
pub struct Webhooks {
    client: reqwest::Client,
    log: Arc<Mutex<Vec<Delivery>>>,
}

impl Webhooks {
    /// Sends one event in the background (mutations never wait for the receiver).
    pub fn emit(&self, shared: &Arc<Shared>, topic: Topic, account_id: u64, kind: &str, item: u64) {
        let Some(url) = shared.config.webhooks.target_url.clone() else { return };
        // Field order and form as in Jobber's documentation; the time with an explicit offset.
        let occurred_at = iso8601(shared.clock.now_ms()).replace('Z', "+00:00");
        let body = format!(
            r#"{{"data":{{"webHookEvent":{{"topic":"{}","appId":"{}","accountId":"{}","itemId":"{}","occurredAt":"{}"}}}}}}"#,
            topic.as_str(),
            shared.config.webhooks.app_id.replace('"', ""),
            encode("Account", account_id),
            encode(kind, item),
            occurred_at,
        );
        let signature = sign(&shared.config.oauth.client_secret, &body);
        let client = self.client.clone();
        let log = self.log.clone();
        tokio::spawn(async move {
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .timeout(Duration::from_secs(5))
                .body(body.clone())
                .send()
                .await;
            let (status, error) = match sent {
                Ok(response) => (Some(response.status().as_u16()), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let delivery = Delivery { topic: topic.as_str(), url, body, signature, status, error };
            log.lock().unwrap_or_else(|p| p.into_inner()).push(delivery);
        });
    }

    /// Every delivery attempt so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
