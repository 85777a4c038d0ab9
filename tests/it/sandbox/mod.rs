//! Fidelity tests of sj-sandbox, over real HTTP against an in-process sandbox on a free port.
//!
//! Time-dependent behaviour (expiry, bucket refill, rate windows) runs on the sandbox's frozen
//! clock, advanced explicitly: no assertion depends on how fast the machine is.

mod admin;
mod faults;
mod graphql;
mod jobs;
mod oauth;
mod persistence;
mod queries;
mod saberis;
mod schema;
mod sheets;
mod signals;
mod webhooks;

use serde_json::{json, Value};
use sj_sandbox::config::ClockConfig;
use sj_sandbox::{Config, Sandbox};

pub const VERSION: &str = "2025-04-16";

/// A config with the clock frozen (tests advance it).
pub fn frozen() -> Config {
    Config { clock: ClockConfig { frozen: true }, ..Config::default() }
}

pub async fn start(config: Config) -> Sandbox {
    sj_sandbox::spawn(config).await.expect("sandbox starts")
}

/// A response's status, raw body and parsed body (`Null` when not JSON).
pub struct Reply {
    pub status: u16,
    pub text: String,
    pub json: Value,
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, text, json }
}

/// POSTs a GraphQL request with the version header and a bearer token.
pub async fn gql(sandbox: &Sandbox, token: &str, query: &str, variables: Value) -> Reply {
    let response = reqwest::Client::new()
        .post(sandbox.url("/api/graphql"))
        .bearer_auth(token)
        .header("X-JOBBER-GRAPHQL-VERSION", VERSION)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request");
    reply(response).await
}

/// A request to the admin API (`path` under `/_admin`), as a test playing the person at Jobber
/// Online or the operator does.
pub async fn admin(sandbox: &Sandbox, method: reqwest::Method, path: &str) -> Reply {
    let response = reqwest::Client::new()
        .request(method, sandbox.url(&format!("/_admin{path}")))
        .send()
        .await
        .expect("admin request");
    reply(response).await
}

/// Approves a quote (by EncodedId or number) as the client would; the admin API's answer.
pub async fn approve_quote(sandbox: &Sandbox, quote: &str) -> Reply {
    admin(sandbox, reqwest::Method::POST, &format!("/jobber/quotes/{quote}/approve")).await
}

/// Creates a client with one property; returns (client id, property id).
pub async fn client_with_property(
    sandbox: &Sandbox,
    token: &str,
    first: &str,
    street: &str,
) -> (String, String) {
    let r = gql(
        sandbox,
        token,
        "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id properties { id } } userErrors { message path } } }",
        json!({"input": {"firstName": first, "lastName": "Test", "properties": [{"address": {"street1": street, "city": "Corvallis", "province": "MT", "postalCode": "59828"}}]}}),
    )
    .await;
    let client = &r.json["data"]["clientCreate"]["client"];
    assert!(client.is_object(), "{}", r.text);
    (client["id"].as_str().unwrap().to_string(), client["properties"][0]["id"].as_str().unwrap().to_string())
}
