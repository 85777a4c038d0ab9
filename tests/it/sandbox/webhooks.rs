//! Webhooks: Jobber's body and a verifiable X-Jobber-Hmac-SHA256.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sj_sandbox::config::WebhooksConfig;
use sj_sandbox::Config;

use super::{client_with_property, frozen, gql, start};

type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver on a free port that records (signature, raw body).
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hooks",
        post(move |headers: HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let signature = headers
                    .get("x-jobber-hmac-sha256")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                sink.lock().unwrap().push((signature, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

async fn wait_for(received: &Received, n: usize) -> Vec<(String, String)> {
    for _ in 0..200 {
        if received.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    received.lock().unwrap().clone()
}

#[tokio::test]
async fn events_are_posted_with_jobbers_body_and_a_valid_signature() {
    let (url, received) = receiver().await;
    let config = Config {
        webhooks: WebhooksConfig { target_url: Some(url), ..WebhooksConfig::default() },
        ..frozen()
    };
    let sandbox = start(config).await;
    let token = sandbox.issue_tokens().access_token;
    let (client, property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;
    let r = gql(
        &sandbox,
        &token,
        "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { id } } }",
        json!({"a": {"clientId": client, "propertyId": property, "lineItems": [{"name": "Visit", "quantity": 1, "unitPrice": 100, "saveToProductsAndServices": false}]}}),
    )
    .await;
    let quote = r.json["data"]["quoteCreate"]["quote"]["id"].as_str().unwrap().to_string();
    assert_eq!(super::approve_quote(&sandbox, &quote).await.status, 200);

    let events = wait_for(&received, 3).await;
    assert_eq!(events.len(), 3, "{events:?}");
    let mut topics = Vec::new();
    for (signature, body) in &events {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"sandbox-client-secret").unwrap();
        mac.update(body.as_bytes());
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(signature, &expected);
        let event: Value = serde_json::from_str(body).unwrap();
        let e = &event["data"]["webHookEvent"];
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5);
        assert_eq!(e["appId"], "sandbox-app-id");
        assert_eq!(e["accountId"], "Z2lkOi8vSm9iYmVyL0FjY291bnQvMQ==");
        topics.push((e["topic"].as_str().unwrap().to_string(), e["itemId"].as_str().unwrap().to_string()));
        assert!(body.starts_with(r#"{"data":{"webHookEvent":{"topic":""#), "{body}");
    }
    topics.sort();
    assert_eq!(
        topics,
        [
            ("CLIENT_CREATE".to_string(), client),
            ("QUOTE_APPROVED".to_string(), quote.clone()),
            ("QUOTE_CREATE".to_string(), quote)
        ]
    );
}
