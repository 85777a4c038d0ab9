//! OAuth: authorization code flow, refresh-token rotation (and its race), revocation, expiry.

use std::time::Duration;

use serde_json::json;

use super::{frozen, gql, reply, start, Reply};
use sj_sandbox::Sandbox;

const ROTATION_ERROR: &str =
    r#"{"error":"invalid_grant","error_description":"The provided refresh token is not valid."}"#;

async fn refresh(sandbox: &Sandbox, refresh_token: &str) -> Reply {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "sandbox-client-secret"),
        ("refresh_token", refresh_token),
    ];
    reply(reqwest::Client::new().post(sandbox.url("/api/oauth/token")).form(&form).send().await.unwrap())
        .await
}

#[tokio::test]
async fn authorization_code_flow_issues_working_tokens_once() {
    let sandbox = start(frozen()).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = http
        .get(sandbox.url("/api/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "sandbox-client-id"),
            ("redirect_uri", "http://localhost:9999/callback"),
            ("state", "xyz 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/callback");
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "xyz 1");
    let code = params["code"].clone();

    let exchange = |secret: &'static str| {
        let form = [
            ("grant_type", "authorization_code".to_string()),
            ("client_id", "sandbox-client-id".to_string()),
            ("client_secret", secret.to_string()),
            ("code", code.clone()),
            ("redirect_uri", "http://localhost:9999/callback".to_string()),
        ];
        http.post(sandbox.url("/api/oauth/token")).form(&form).send()
    };
    let r = reply(exchange("wrong-secret").await.unwrap()).await;
    assert_eq!((r.status, r.json["error"].as_str()), (401, Some("invalid_client")));
    let r = reply(exchange("sandbox-client-secret").await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let access = r.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(r.json["refresh_token"].as_str().unwrap().len(), 64);
    // `expires_at` as Jobber formats it: "2024-04-09 21:04:31 UTC".
    assert!(r.json["expires_at"].as_str().unwrap().ends_with(" UTC"));
    assert_eq!(gql(&sandbox, &access, "{ clients { totalCount } }", json!({})).await.status, 200);

    // A code works once.
    let r = reply(exchange("sandbox-client-secret").await.unwrap()).await;
    assert_eq!((r.status, r.json["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn access_token_is_a_jwt_with_exp_one_hour_ahead() {
    let sandbox = start(frozen()).await;
    let access = sandbox.issue_tokens().access_token;
    let payload = access.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap();
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 3600);
    assert_eq!(claims["account_id"], 1);
}

#[tokio::test]
async fn rotation_invalidates_the_old_refresh_token_at_once() {
    let sandbox = start(frozen()).await;
    let first = sandbox.issue_tokens();
    let r = refresh(&sandbox, &first.refresh_token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let second = r.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first.refresh_token);
    assert_eq!(
        gql(&sandbox, r.json["access_token"].as_str().unwrap(), "{ clients { totalCount } }", json!({}))
            .await
            .status,
        200
    );

    let r = refresh(&sandbox, &first.refresh_token).await;
    assert_eq!((r.status, r.text.as_str()), (401, ROTATION_ERROR));
    // The new one still works (a failed reuse does not kill the grant).
    assert_eq!(refresh(&sandbox, &second).await.status, 200);
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_exactly_one_wins() {
    let sandbox = start(frozen()).await;
    for _ in 0..20 {
        let token = sandbox.issue_tokens().refresh_token;
        let (a, b) = tokio::join!(refresh(&sandbox, &token), refresh(&sandbox, &token));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 401]);
        let loser = if a.status == 401 { &a } else { &b };
        assert_eq!(loser.text, ROTATION_ERROR);
    }
}

#[tokio::test]
async fn revoking_a_grant_kills_its_access_and_refresh_tokens() {
    let sandbox = start(frozen()).await;
    let kept = sandbox.issue_tokens();
    let http = reqwest::Client::new();
    let grant: serde_json::Value =
        http.post(sandbox.url("/_admin/oauth/grants")).send().await.unwrap().json().await.unwrap();
    let access = grant["access_token"].as_str().unwrap();
    assert_eq!(gql(&sandbox, access, "{ clients { totalCount } }", json!({})).await.status, 200);

    let r = http
        .post(sandbox.url("/_admin/oauth/revoke"))
        .json(&json!({"grant_id": grant["grant_id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["revoked"], 1);
    assert_eq!(gql(&sandbox, access, "{ clients { totalCount } }", json!({})).await.status, 401);
    let r = refresh(&sandbox, grant["refresh_token"].as_str().unwrap()).await;
    assert_eq!((r.status, r.text.as_str()), (401, ROTATION_ERROR));
    // Other grants are untouched.
    assert_eq!(gql(&sandbox, &kept.access_token, "{ clients { totalCount } }", json!({})).await.status, 200);
}

#[tokio::test]
async fn forced_expiry_and_real_expiry_need_a_refresh() {
    let sandbox = start(frozen()).await;
    let tokens = sandbox.issue_tokens();
    reqwest::Client::new().post(sandbox.url("/_admin/oauth/expire")).send().await.unwrap();
    assert_eq!(
        gql(&sandbox, &tokens.access_token, "{ clients { totalCount } }", json!({})).await.status,
        401
    );
    let r = refresh(&sandbox, &tokens.refresh_token).await;
    let access = r.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(gql(&sandbox, &access, "{ clients { totalCount } }", json!({})).await.status, 200);

    sandbox.advance_clock(Duration::from_secs(3599));
    assert_eq!(gql(&sandbox, &access, "{ clients { totalCount } }", json!({})).await.status, 200);
    sandbox.advance_clock(Duration::from_secs(1));
    assert_eq!(gql(&sandbox, &access, "{ clients { totalCount } }", json!({})).await.status, 401);
}
