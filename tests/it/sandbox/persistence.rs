//! `--state FILE`: data and grants survive a restart.

use serde_json::json;
use sj_sandbox::Config;

use super::{client_with_property, frozen, gql, start};

#[tokio::test]
async fn records_and_tokens_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { state_file: Some(dir.path().join("state.json")), ..frozen() };
    let sandbox = start(config.clone()).await;
    let tokens = sandbox.issue_tokens();
    client_with_property(&sandbox, &tokens.access_token, "Ann", "1 Main St").await;
    sandbox.shutdown().await;

    let sandbox = start(config).await;
    let r = gql(
        &sandbox,
        &tokens.access_token,
        "{ clients { nodes { name properties { street1 } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r.json["data"]["clients"]["nodes"],
        json!([{"name": "Ann Test", "properties": [{"street1": "1 Main St"}]}]),
        "{}",
        r.text
    );
    // The refresh token lives on too, and new ids do not collide with old ones.
    let (client, _) = client_with_property(&sandbox, &tokens.access_token, "Bob", "2 Oak").await;
    assert_ne!(client, "");
    let r = gql(&sandbox, &tokens.access_token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r.json["data"]["clients"]["totalCount"], 2);
}
