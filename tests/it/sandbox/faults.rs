//! Fault injection through the admin API: each kind, determinism, counters.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{frozen, gql, start};
use sj_sandbox::Sandbox;

const ROUTE: &str = "/api/graphql";

async fn set_fault(sandbox: &Sandbox, spec: Value) {
    let r = reqwest::Client::new().post(sandbox.url("/_admin/faults")).json(&spec).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

async fn status_of(sandbox: &Sandbox, token: &str) -> u16 {
    gql(sandbox, token, "{ clients { totalCount } }", json!({})).await.status
}

#[tokio::test]
async fn fail_next_answers_the_chosen_status_then_recovers() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    set_fault(&sandbox, json!({"route": ROUTE, "fail_next": 2, "status": 502})).await;
    let statuses = [
        status_of(&sandbox, &token).await,
        status_of(&sandbox, &token).await,
        status_of(&sandbox, &token).await,
    ];
    assert_eq!(statuses, [502, 502, 200]);
    let counters = sandbox.shared().counters.snapshot();
    assert_eq!(counters.requests[ROUTE], 3);
    assert_eq!(counters.faults_served[ROUTE], 2);
}

#[tokio::test]
async fn error_rate_is_reproducible_for_a_seed() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let mut runs = Vec::new();
    for _ in 0..2 {
        set_fault(&sandbox, json!({"route": "*", "seed": 42, "error_rate": 0.5, "status": 500})).await;
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(status_of(&sandbox, &token).await);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&500) && runs[0].contains(&200), "{:?}", runs[0]);
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    set_fault(&sandbox, json!({"route": ROUTE, "latency_ms": 300})).await;
    let started = Instant::now();
    assert_eq!(status_of(&sandbox, &token).await, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn timeout_holds_the_connection_past_the_client_deadline() {
    let sandbox = start(frozen()).await;
    set_fault(&sandbox, json!({"route": ROUTE, "timeout_next": 1, "hold_ms": 60000})).await;
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let error = client
        .post(sandbox.url(ROUTE))
        .json(&json!({"query": "{ clients { totalCount } }"}))
        .send()
        .await
        .expect_err("held");
    assert!(error.is_timeout(), "{error}");
    // Shutdown releases the held request instead of waiting a minute.
    tokio::time::timeout(Duration::from_secs(20), sandbox.shutdown()).await.expect("shutdown is not blocked");
}

#[tokio::test]
async fn reset_breaks_the_response() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    set_fault(&sandbox, json!({"route": ROUTE, "reset_next": 1})).await;
    let outcome = async {
        let response = reqwest::Client::new()
            .post(sandbox.url(ROUTE))
            .bearer_auth(&token)
            .header("X-JOBBER-GRAPHQL-VERSION", super::VERSION)
            .json(&json!({"query": "{ clients { totalCount } }"}))
            .send()
            .await?;
        response.bytes().await
    }
    .await;
    assert!(outcome.is_err(), "a reset must not produce a complete response: {outcome:?}");
    assert_eq!(status_of(&sandbox, &token).await, 200);
}

#[tokio::test]
async fn forced_throttle_and_forced_429() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    set_fault(&sandbox, json!({"route": ROUTE, "throttle_next": 1, "too_many_next": 1})).await;
    // 429 first (see FaultSpec order), then THROTTLED, then normal.
    let r = gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (429, "Retry later\n"));
    let r = gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(r.json["extensions"]["cost"]["requestedQueryCost"], 2);
    assert_eq!(status_of(&sandbox, &token).await, 200);
    let counters = sandbox.shared().counters.snapshot();
    assert_eq!((counters.throttled, counters.too_many_requests), (1, 1));
}

#[tokio::test]
async fn faults_and_counters_are_listed_and_cleared() {
    let sandbox = start(frozen()).await;
    let http = reqwest::Client::new();
    set_fault(&sandbox, json!({"route": "/saberis/api/v1/export", "fail_next": 3})).await;
    let listed: Value = http.get(sandbox.url("/_admin/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["route"], "/saberis/api/v1/export");
    assert_eq!(listed[0]["fail_next"], 3);
    let r = http.get(sandbox.url("/saberis/api/v1/export")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let counters: Value =
        http.get(sandbox.url("/_admin/counters")).send().await.unwrap().json().await.unwrap();
    assert_eq!(counters["faults_served"]["/saberis/api/v1/export"], 1);
    http.delete(sandbox.url("/_admin/faults")).send().await.unwrap();
    http.delete(sandbox.url("/_admin/counters")).send().await.unwrap();
    assert_eq!(http.get(sandbox.url("/saberis/api/v1/export")).send().await.unwrap().status(), 401);
    let counters: Value =
        http.get(sandbox.url("/_admin/counters")).send().await.unwrap().json().await.unwrap();
    assert_eq!(counters["requests"]["/saberis/api/v1/export"], 1);
    assert_eq!(counters["faults_served"], json!({}));
}

#[tokio::test]
async fn graphql_error_answers_one_query_as_a_refusing_graphql_server_does() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    set_fault(
        &sandbox,
        json!({"route": ROUTE, "graphql_error_next": 1, "body_contains": "customFieldConfigurations",
               "graphql_error_message": "Field 'customFieldConfigurations' doesn't exist on type 'Query'",
               "graphql_error_code": "undefinedField"}),
    )
    .await;
    // Another query passes untouched.
    let r = gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r.json["data"]["clients"]["totalCount"], 0, "{}", r.text);
    let query = "{ customFieldConfigurations { nodes { ... on CustomFieldConfigurationText { id } } } }";
    let r = gql(&sandbox, &token, query, json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json,
        json!({"data": null, "errors": [{"message": "Field 'customFieldConfigurations' doesn't exist on type 'Query'",
                                         "extensions": {"code": "undefinedField"}}]})
    );
    // Once: the next one is answered.
    let r = gql(&sandbox, &token, query, json!({})).await;
    assert!(r.json["data"]["customFieldConfigurations"]["nodes"].is_array(), "{}", r.text);
    assert_eq!(sandbox.shared().counters.snapshot().faults_served[ROUTE], 1);

    // Without a code: only a message.
    set_fault(&sandbox, json!({"route": ROUTE, "graphql_error_next": 1})).await;
    let r = gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r.json, json!({"data": null, "errors": [{"message": "Sandbox: injected GraphQL error"}]}));
}
