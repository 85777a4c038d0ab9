//! What a person does in Jobber Online and the public API cannot (approve, archive, delete a
//! quote), through the admin API.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use sj_sandbox::config::WebhooksConfig;
use sj_sandbox::{Config, Sandbox};

use super::{admin, approve_quote, client_with_property, frozen, gql, start};

/// Two quotes (#1, #2) of one client; returns their ids.
async fn two_quotes(sandbox: &Sandbox, token: &str) -> (String, String) {
    let (client, property) = client_with_property(sandbox, token, "Ann", "1 Main St").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = gql(
            sandbox,
            token,
            "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { id } } }",
            json!({"a": {"clientId": client, "propertyId": property, "lineItems": [{"name": "Visit", "quantity": 1, "unitPrice": 100, "saveToProductsAndServices": false}]}}),
        )
        .await;
        ids.push(r.json["data"]["quoteCreate"]["quote"]["id"].as_str().unwrap().to_owned());
    }
    (ids[0].clone(), ids[1].clone())
}

async fn status(sandbox: &Sandbox, token: &str, quote: &str) -> Value {
    let r =
        gql(sandbox, token, "query($q: EncodedId!) { quote(id: $q) { quoteStatus } }", json!({"q": quote}))
            .await;
    r.json["data"]["quote"]["quoteStatus"].clone()
}

#[tokio::test]
async fn approve_by_id_or_number_once() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (first, second) = two_quotes(&sandbox, &token).await;

    let r = approve_quote(&sandbox, &first).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((&r.json["encoded_id"], &r.json["status"]), (&json!(first), &json!("approved")));
    assert_eq!(status(&sandbox, &token, &first).await, "approved");
    // Approved already: refused, and said why.
    let r = approve_quote(&sandbox, &first).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("approved"), "{}", r.text);

    // By number (in the default account, or the one named).
    assert_eq!(approve_quote(&sandbox, "2").await.status, 200);
    assert_eq!(status(&sandbox, &token, &second).await, "approved");
    assert_eq!(approve_quote(&sandbox, "3").await.status, 404);
    assert_eq!(admin(&sandbox, Method::POST, "/jobber/quotes/1/approve?account=2").await.status, 404);
    assert_eq!(approve_quote(&sandbox, "bm90IGFuIGlk").await.status, 404);
}

#[tokio::test]
async fn a_number_given_to_two_quotes_must_be_named_by_id() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (_, second) = two_quotes(&sandbox, &token).await;
    gql(
        &sandbox,
        &token,
        "mutation($q: EncodedId!) { quoteEdit(quoteId: $q, attributes: {quoteNumber: \"1\"}) { userErrors { message } } }",
        json!({"q": second}),
    )
    .await;
    let r = approve_quote(&sandbox, "1").await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("by its id"), "{}", r.text);
}

#[tokio::test]
async fn archive_then_the_status_filter_finds_it() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (first, _) = two_quotes(&sandbox, &token).await;
    let r = admin(&sandbox, Method::POST, &format!("/jobber/quotes/{first}/archive")).await;
    assert_eq!((r.status, &r.json["status"]), (200, &json!("archived")), "{}", r.text);
    let r = gql(
        &sandbox,
        &token,
        "{ quotes(filter: {status: archived}) { nodes { id quoteStatus } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r.json["data"]["quotes"]["nodes"],
        json!([{"id": first, "quoteStatus": "archived"}]),
        "{}",
        r.text
    );
    // An archived quote cannot be approved.
    assert_eq!(approve_quote(&sandbox, &first).await.status, 409);
}

#[tokio::test]
async fn delete_removes_the_quote_as_the_web_ui_does() {
    // A target nobody listens on: the attempt is still logged with its topic.
    let config = Config {
        webhooks: WebhooksConfig {
            target_url: Some("http://127.0.0.1:9/hook".into()),
            ..WebhooksConfig::default()
        },
        ..frozen()
    };
    let sandbox = start(config).await;
    let token = sandbox.issue_tokens().access_token;
    let (first, second) = two_quotes(&sandbox, &token).await;

    let r = admin(&sandbox, Method::DELETE, &format!("/jobber/quotes/{first}")).await;
    assert_eq!((r.status, &r.json["encoded_id"]), (200, &json!(first)), "{}", r.text);
    let r =
        gql(&sandbox, &token, "query($q: EncodedId!) { quote(id: $q) { id } }", json!({"q": first})).await;
    assert_eq!(r.json["data"]["quote"], json!(null), "{}", r.text);
    let r = gql(&sandbox, &token, "{ quotes { totalCount nodes { id } } }", json!({})).await;
    assert_eq!(r.json["data"]["quotes"], json!({"totalCount": 1, "nodes": [{"id": second}]}), "{}", r.text);
    let listed = admin(&sandbox, Method::GET, "/jobber/quotes").await;
    assert_eq!(listed.json.as_array().map(Vec::len), Some(1));
    // Gone: a second delete finds nothing; its number is not given out again.
    assert_eq!(admin(&sandbox, Method::DELETE, &format!("/jobber/quotes/{first}")).await.status, 404);
    let (_, third) = two_quotes(&sandbox, &token).await;
    let r =
        gql(&sandbox, &token, "query($q: EncodedId!) { quote(id: $q) { quoteNumber } }", json!({"q": third}))
            .await;
    assert_eq!(r.json["data"]["quote"]["quoteNumber"], "4");

    let mut topics = Vec::new();
    for _ in 0..100 {
        let deliveries = admin(&sandbox, Method::GET, "/webhooks").await.json;
        topics =
            deliveries.as_array().unwrap().iter().map(|d| d["topic"].as_str().unwrap().to_owned()).collect();
        if topics.contains(&"QUOTE_DESTROY".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(topics.contains(&"QUOTE_DESTROY".to_owned()), "{topics:?}");
}

#[tokio::test]
async fn the_removed_mutations_are_graphql_errors() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (first, _) = two_quotes(&sandbox, &token).await;
    for mutation in ["quoteDelete(quoteId: $q)", "quoteArchive(id: $q)", "quoteApprove(id: $q)"] {
        let query = format!("mutation($q: EncodedId!) {{ {mutation} {{ userErrors {{ message }} }} }}");
        let r = gql(&sandbox, &token, &query, json!({"q": first})).await;
        assert_eq!(r.status, 200);
        let message = r.json["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("Unknown field"), "{mutation}: {}", r.text);
    }
    assert_eq!(status(&sandbox, &token, &first).await, "draft");
}
