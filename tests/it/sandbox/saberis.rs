//! SaberisConnect: session tokens, listing, documents in both forms, expiry, admin uploads.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use sj_sandbox::config::SaberisConfig;
use sj_sandbox::{Config, Sandbox};

use super::{frozen, start};

const GUID: &str = "52c550d2-a0f3-4bfa-a445-c96589672971";

/// A folder with one real SaberisConnect document (JSON) and an XML-only one.
fn docs_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{GUID}.json")), SAMPLE_JSON).unwrap();
    std::fs::write(dir.path().join("modelled-order.xml"), SAMPLE_XML).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    dir
}

const SAMPLE_JSON: &str = r#"{
  "SaberisOrderDocument": {
    "DocumentVersion": "1.0",
    "Order": {"Source": "kitchens", "Date": "2025.07.08", "OrderNumber": "",
      "Customer": {"Name": "Affinity Homes", "Address": "552 Wilcox Ln"},
      "Group": {"GroupType": null, "Item": [
        {"Type": "Text", "LineID": "1", "Description": "Catalog=KWP_25D1"},
        {"Type": "Product", "LineID": "2", "Description": "B27B;18{10b}", "Quantity": "1", "Selling": "747.50"},
        {"Type": "Text", "LineID": "3", "Description": "W=27 \" H=34 1/2 \" D=18 \""}]}}}}"#;

const SAMPLE_XML: &str = "<SaberisOrderDocument><DocumentVersion>1.0</DocumentVersion><Order><Source>Simpson</Source></Order></SaberisOrderDocument>";

async fn sandbox_with_docs(dir: &tempfile::TempDir) -> Sandbox {
    let config = Config {
        saberis: SaberisConfig {
            docs_dir: Some(PathBuf::from(dir.path())),
            session_lifetime_secs: 600,
            ..SaberisConfig::default()
        },
        ..frozen()
    };
    start(config).await
}

async fn session(sandbox: &Sandbox) -> String {
    let r = reqwest::Client::new()
        .get(sandbox.url("/saberis/api/v1/token"))
        .query(&[("authToken", "sandbox-saberis-auth-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    // A bare string wrapped in double quotes.
    assert!(text.starts_with('"') && text.ends_with('"') && text.len() == 66, "{text}");
    text.trim_matches('"').to_string()
}

async fn get(sandbox: &Sandbox, token: &str, path: &str) -> (u16, String) {
    let r = reqwest::Client::new().get(sandbox.url(path)).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn lists_and_serves_documents_which_stay_listed() {
    let dir = docs_dir();
    let sandbox = sandbox_with_docs(&dir).await;
    let token = session(&sandbox).await;

    let (status, body) = get(&sandbox, &token, "/saberis/api/v1/export").await;
    assert_eq!(status, 200);
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["guid"], GUID);

    // The JSON form exactly as loaded; the XML form converted element for element.
    let (status, json) = get(&sandbox, &token, &format!("/saberis/api/v1/export/json/{GUID}")).await;
    assert_eq!((status, json.as_str()), (200, SAMPLE_JSON));
    let (status, xml) = get(&sandbox, &token, &format!("/saberis/api/v1/export/xml/{GUID}")).await;
    assert_eq!(status, 200);
    assert!(xml.starts_with("<SaberisOrderDocument><DocumentVersion>1.0</DocumentVersion><Order><Source>kitchens</Source><Date>2025.07.08</Date><OrderNumber></OrderNumber>"), "{xml}");
    assert!(xml.contains("<GroupType/><Item><Type>Text</Type><LineID>1</LineID>"), "{xml}");
    assert!(xml.contains("<Description>W=27 \" H=34 1/2 \" D=18 \"</Description>"), "{xml}");

    // Fetched documents stay in the list.
    let (_, body) = get(&sandbox, &token, "/saberis/api/v1/export").await;
    assert_eq!(serde_json::from_str::<Vec<Value>>(&body).unwrap().len(), 2);

    // The XML-only document has no JSON form; unknown GUIDs are 404.
    let xml_guid = list[1]["guid"].as_str().unwrap();
    assert_eq!(
        get(&sandbox, &token, &format!("/saberis/api/v1/export/xml/{xml_guid}")).await,
        (200, SAMPLE_XML.to_string())
    );
    assert_eq!(get(&sandbox, &token, &format!("/saberis/api/v1/export/json/{xml_guid}")).await.0, 404);
    assert_eq!(
        get(&sandbox, &token, "/saberis/api/v1/export/json/00000000-0000-0000-0000-000000000000").await.0,
        404
    );
}

#[tokio::test]
async fn sessions_expire_and_bad_tokens_are_refused() {
    let dir = docs_dir();
    let sandbox = sandbox_with_docs(&dir).await;
    let r = reqwest::Client::new()
        .get(sandbox.url("/saberis/api/v1/token"))
        .query(&[("authToken", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(get(&sandbox, "made-up", "/saberis/api/v1/export").await.0, 401);

    let token = session(&sandbox).await;
    assert_eq!(get(&sandbox, &token, "/saberis/api/v1/export").await.0, 200);
    sandbox.advance_clock(Duration::from_secs(600));
    assert_eq!(get(&sandbox, &token, "/saberis/api/v1/export").await.0, 401);
    let fresh = session(&sandbox).await;
    assert_eq!(get(&sandbox, &fresh, "/saberis/api/v1/export").await.0, 200);
}

#[tokio::test]
async fn admin_adds_and_clears_documents() {
    let sandbox = start(frozen()).await;
    let http = reqwest::Client::new();
    let token = session(&sandbox).await;
    let r = http
        .post(sandbox.url("/_admin/saberis/documents"))
        .query(&[("guid", "11111111-2222-3333-4444-555555555555")])
        .header("content-type", "application/json")
        .body(SAMPLE_JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, body) = get(&sandbox, &token, "/saberis/api/v1/export").await;
    assert_eq!(body, r#"[{"guid":"11111111-2222-3333-4444-555555555555"}]"#);
    let (_, json) =
        get(&sandbox, &token, "/saberis/api/v1/export/json/11111111-2222-3333-4444-555555555555").await;
    assert_eq!(json, SAMPLE_JSON);
    let docs: Value =
        http.get(sandbox.url("/_admin/saberis/documents")).send().await.unwrap().json().await.unwrap();
    assert_eq!(docs[0]["fetch_count"], 1);

    let r = http
        .post(sandbox.url("/_admin/saberis/documents"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    http.delete(sandbox.url("/_admin/saberis/documents")).send().await.unwrap();
    assert_eq!(get(&sandbox, &token, "/saberis/api/v1/export").await.1, "[]");
}
