//! Google Sheets v4: the service-account token exchange and values get/update/append.

use serde_json::{json, Value};
use sj_sandbox::config::SANDBOX_SHEETS_PRIVATE_KEY_PEM;
use sj_sandbox::Sandbox;

use super::{frozen, reply, start};

const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";

fn assertion(sandbox: &Sandbox, scope: &str, aud: &str) -> String {
    let now = sandbox.shared().clock.now_secs();
    let claims = json!({"iss": "bridge@sandbox.iam.gserviceaccount.com", "scope": scope, "aud": aud, "iat": now, "exp": now + 3600});
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(SANDBOX_SHEETS_PRIVATE_KEY_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key).unwrap()
}

async fn exchange(sandbox: &Sandbox, assertion: &str) -> super::Reply {
    let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)];
    reply(reqwest::Client::new().post(sandbox.url("/sheets/token")).form(&form).send().await.unwrap()).await
}

async fn bearer(sandbox: &Sandbox) -> String {
    let r = exchange(sandbox, &assertion(sandbox, SCOPE, "https://oauth2.googleapis.com/token")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["expires_in"], 3599);
    r.json["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn token_endpoint_checks_signature_scope_and_audience() {
    let sandbox = start(frozen()).await;
    bearer(&sandbox).await;
    let own_audience = sandbox.url("/sheets/token");
    assert_eq!(exchange(&sandbox, &assertion(&sandbox, SCOPE, &own_audience)).await.status, 200);

    let r = exchange(
        &sandbox,
        &assertion(&sandbox, "https://www.googleapis.com/auth/drive", "https://oauth2.googleapis.com/token"),
    )
    .await;
    assert_eq!((r.status, r.json["error"].as_str()), (400, Some("invalid_scope")));
    let r = exchange(&sandbox, &assertion(&sandbox, SCOPE, "https://elsewhere.example/token")).await;
    assert_eq!((r.status, r.json["error"].as_str()), (400, Some("invalid_grant")));

    // Tamper with the payload: the signature no longer matches.
    let good = assertion(&sandbox, SCOPE, "https://oauth2.googleapis.com/token");
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    let other = assertion(&sandbox, &format!("{SCOPE} openid"), "https://oauth2.googleapis.com/token");
    parts[1] = other.split('.').nth(1).unwrap().to_string();
    let r = exchange(&sandbox, &parts.join(".")).await;
    assert_eq!((r.status, r.json["error_description"].as_str()), (400, Some("Invalid JWT Signature.")));
}

#[tokio::test]
async fn values_update_get_and_append_with_a1_ranges() {
    let sandbox = start(frozen()).await;
    let token = bearer(&sandbox).await;
    let http = reqwest::Client::new();
    let base = sandbox.url("/sheets/v4/spreadsheets/sandbox-mapping/values");

    let r = reply(http.get(format!("{base}/Sheet1!A1:C10")).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["error"]["status"], "UNAUTHENTICATED");

    let r = reply(
        http.put(format!("{base}/Sheet1!A1:C2"))
            .query(&[("valueInputOption", "RAW")])
            .bearer_auth(&token)
            .json(&json!({"values": [["customer", "jobber_client_id", "note"], ["Affinity Homes", "Z2lk", 42]]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"spreadsheetId": "sandbox-mapping", "updatedRange": "Sheet1!A1:C2", "updatedRows": 2, "updatedColumns": 3, "updatedCells": 6})
    );

    let r = reply(
        http.post(format!("{base}/Sheet1!A:C:append"))
            .query(&[("valueInputOption", "USER_ENTERED")])
            .bearer_auth(&token)
            .json(&json!({"values": [["Smith Kitchens", "Z2ll"]]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["tableRange"], "Sheet1!A1:C2");
    assert_eq!(r.json["updates"]["updatedRange"], "Sheet1!A3:B3");

    let r = reply(http.get(format!("{base}/Sheet1!A2:B")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(r.json["majorDimension"], "ROWS");
    assert_eq!(r.json["values"], json!([["Affinity Homes", "Z2lk"], ["Smith Kitchens", "Z2ll"]]));
    // A range without a sheet name means the first sheet; numbers come back as text.
    let r = reply(http.get(format!("{base}/C2")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(r.json["values"], json!([["42"]]));

    let r = reply(http.get(format!("{base}/Nope!A1")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(
        (r.status, r.json["error"]["message"].as_str()),
        (400, Some("Unable to parse range: Nope!A1"))
    );
    let r = reply(
        http.get(sandbox.url("/sheets/v4/spreadsheets/missing/values/A1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = reply(
        http.put(format!("{base}/A1"))
            .bearer_auth(&token)
            .json(&json!({"values": [["x"]]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);

    let rows: Value = http
        .get(sandbox.url("/_admin/sheets/sandbox-mapping/Sheet1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows[2], json!(["Smith Kitchens", "Z2ll"]));
}

/// A second tab of the spreadsheet (the catalog table's `Catalogs` beside the mapping's
/// `Sheet1`): read and appended to on its own once staff added it, refused before, as Google
/// refuses a range of a tab that does not exist; a range naming no tab still means the first.
#[tokio::test]
async fn a_second_tab_is_read_and_appended_to_once_it_exists() {
    let sandbox = start(frozen()).await;
    let token = bearer(&sandbox).await;
    let http = reqwest::Client::new();
    let base = sandbox.url("/sheets/v4/spreadsheets/sandbox-mapping/values");
    let append = |range: &str, values: Value| {
        http.post(format!("{base}/{range}:append"))
            .query(&[("valueInputOption", "RAW")])
            .bearer_auth(&token)
            .json(&json!({ "values": values }))
            .send()
    };
    let get = |range: &str| http.get(format!("{base}/{range}")).bearer_auth(&token).send();

    // No such tab yet: neither read nor appended to (nothing created by the attempt).
    for r in [
        reply(get("'Catalogs'").await.unwrap()).await,
        reply(append("'Catalogs'!A:G", json!([["x"]])).await.unwrap()).await,
    ] {
        assert_eq!(
            (r.status, r.json["error"]["status"].as_str()),
            (400, Some("INVALID_ARGUMENT")),
            "{}",
            r.text
        );
        assert!(r.text.contains("Unable to parse range: 'Catalogs'"), "{}", r.text);
    }
    let tabs: Value = http.get(sandbox.url("/_admin/sheets")).send().await.unwrap().json().await.unwrap();
    assert!(tabs["sandbox-mapping"]["sheets"].get("Catalogs").is_none(), "{tabs}");

    // Staff add the tab with rows; the mapping tab is there too, with a row of its own.
    for (tab, rows) in [
        ("Sheet1", json!([["saberis_key", "jobber_client_id"], ["name:ann", "Z2lk-1"]])),
        (
            "Catalogs",
            json!([["catalog", "brand", "multiplier", "margin"], ["KWP_*", "Kitchen Craft", "0.42", "35%"]]),
        ),
    ] {
        let put = http.put(sandbox.url(&format!("/_admin/sheets/sandbox-mapping/{tab}"))).json(&rows);
        assert!(put.send().await.unwrap().status().is_success());
    }
    let r = reply(get("'Catalogs'").await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["range"], "Catalogs!A1:D2");
    assert_eq!(r.json["values"][1], json!(["KWP_*", "Kitchen Craft", "0.42", "35%"]));
    let r = reply(append("'Catalogs'!A:G", json!([["Shaker", "", "", "", "", "auto"]])).await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json["tableRange"].as_str(), r.json["updates"]["updatedRange"].as_str()),
        (Some("Catalogs!A1:D2"), Some("Catalogs!A3:F3"))
    );
    let r = reply(get("Catalogs!A3:F3").await.unwrap()).await;
    assert_eq!(r.json["values"], json!([["Shaker", "", "", "", "", "auto"]]));

    // The first tab is untouched, and still the one a range naming no tab reads ("Catalogs"
    // sorts first, but was added after it).
    let r = reply(get("A:B").await.unwrap()).await;
    assert_eq!(
        r.json["values"],
        json!([["saberis_key", "jobber_client_id"], ["name:ann", "Z2lk-1"]]),
        "{}",
        r.text
    );
    assert!(r.json["range"].as_str().unwrap().starts_with("Sheet1!"), "{}", r.text);
}
