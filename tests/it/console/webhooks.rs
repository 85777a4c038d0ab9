//! `POST /webhooks/jobber`: signed, stored once, APP_DISCONNECT drops the tokens and raises the
//! banner.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::json;
use sj_shared::config::RedisSettings;
use sj_shared::jobber::{TokenSet, TokenState, TokenStore};
use sj_shared::store::Keys;

use super::{Console, CLIENT_SECRET};

fn sign(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn deliver(console: &Console, body: &str, signature: Option<&str>) -> (StatusCode, Duration) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/webhooks/jobber", console.url))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("X-Jobber-Hmac-SHA256", signature);
    }
    let started = std::time::Instant::now();
    let status = request.send().await.unwrap().status();
    (status, started.elapsed())
}

async fn events_received(console: &Console) -> String {
    let mut ann = console.browser();
    ann.sign_in("ann", "ann's long password").await;
    let home = ann.get("/").await;
    let at = home.body.find(" events received").unwrap_or_else(|| panic!("{}", home.body));
    let start = home.body[..at].rfind('>').unwrap() + 1;
    home.body[start..at].trim().to_owned()
}

#[tokio::test]
async fn webhooks_are_checked_before_anything_and_stored_once() {
    let console = Console::start("console-hooks").await;
    console.add_user("ann", "admin", "ann's long password").await;
    let body = r#"{"data":{"webHookEvent":{"topic":"QUOTE_APPROVED","appId":"app","accountId":"acc","itemId":"Z2lkOi8vSm9iYmVyL1F1b3RlLzE=","occurredAt":"2026-05-01T16:31:36-06:00"}}}"#;

    // Wrong secret, a re-serialized body, no header, rubbish: 401, nothing stored.
    assert_eq!(
        deliver(&console, body, Some(&sign("another secret", body))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(body).unwrap()).unwrap();
    assert_eq!(
        deliver(&console, &reformatted, Some(&sign(CLIENT_SECRET, body))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(deliver(&console, body, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(deliver(&console, "not json", Some("bm90IGl0")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(events_received(&console).await, "0");

    // The same valid event twice (Jobber delivers at least once): both 200, stored once.
    for _ in 0..2 {
        let (status, took) = deliver(&console, body, Some(&sign(CLIENT_SECRET, body))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    assert_eq!(events_received(&console).await, "1");
    // The misspelled key of older apps is read too; another event is another row.
    let old = body.replace("occurredAt", "occuredAt").replace("16:31:36", "16:31:37");
    assert_eq!(deliver(&console, &old, Some(&sign(CLIENT_SECRET, &old))).await.0, StatusCode::OK);
    assert_eq!(events_received(&console).await, "2");
    console.stop().await;
}

#[tokio::test]
async fn app_disconnect_from_the_sandbox_drops_the_tokens_and_shows_a_banner() {
    let console = Console::start("console-disconnect").await;
    console.add_user("ann", "admin", "ann's long password").await;
    let config = sj_sandbox::Config {
        webhooks: sj_sandbox::config::WebhooksConfig {
            target_url: Some(format!("{}/webhooks/jobber", console.url)),
            ..Default::default()
        },
        ..Default::default()
    };
    let sandbox = sj_sandbox::spawn(config).await.unwrap();
    let issued = sandbox.issue_tokens();
    let pool = sj_shared::store::pool(&RedisSettings::default()).unwrap();
    let tokens = TokenStore::new(
        pool,
        Keys::new(&console.ns.name),
        reqwest::Client::new(),
        &sandbox.base_url(),
        "sandbox-client-id",
        None,
        None,
    );
    let set = TokenSet {
        access_token: issued.access_token.clone(),
        refresh_token: issued.refresh_token.clone(),
        expires_at: 4_000_000_000,
    };
    tokens.store(&set).await.unwrap();

    let mut ann = console.browser();
    ann.sign_in("ann", "ann's long password").await;
    let home = ann.get("/").await;
    assert!(
        home.body.contains("connected (access token valid until") && !home.body.contains("class=\"banner\""),
        "{}",
        home.body
    );

    // The dealer disconnects the app in Jobber: Jobber sends APP_DISCONNECT.
    let reply = reqwest::Client::new()
        .post(sandbox.url("/api/graphql"))
        .bearer_auth(&issued.access_token)
        .header("X-JOBBER-GRAPHQL-VERSION", "2025-04-16")
        .json(&json!({"query": "mutation { appDisconnect { userErrors { message } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);

    let mut state = TokenState::NotStored;
    for _ in 0..100 {
        state = tokens.state().await.unwrap();
        if matches!(state, TokenState::Disconnected { .. }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(state, TokenState::Disconnected { .. }), "tokens still there: {state:?}");
    let delivered: serde_json::Value =
        reqwest::get(sandbox.url("/_admin/webhooks")).await.unwrap().json().await.unwrap();
    let answered =
        delivered.as_array().unwrap().iter().any(|d| d["topic"] == "APP_DISCONNECT" && d["status"] == 200);
    assert!(answered, "{delivered:#}");

    for path in ["/", "/history", "/users"] {
        let page = ann.get(path).await;
        assert!(
            page.body.contains("class=\"banner\"") && page.body.contains("Jobber disconnected the bridge"),
            "{path}: {}",
            page.body
        );
    }
    // Connected again (as `sjctl jobber connect` does): the banner goes.
    tokens.store_initial(&set).await.unwrap();
    assert!(!ann.get("/").await.body.contains("class=\"banner\""));
    console.stop().await;
}
