//! Who the customer is in Jobber: every matching strategy and policy, through poller and worker
//! processes against the sandbox, with the mapping table in its CSV store.

use serde_json::{json, Value};
use sj_shared::amqp::headers;

use super::worker::{admin, Bridge};
use crate::support::samples;

/// The kitchen sample's customer: "Harbour Lane Builders", billed at 88 Quarry Rd, Bozeman MT
/// 59715, building at 1410 Aspen Ridge Ct (Lot 12), Bozeman MT 59718.
const KITCHEN: &str = "saberis/kitchen-harbour-lane.xml";
const KITCHEN_KEY: &str = "name:harbour lane builders";
const HEADER: &str =
    "saberis_key,jobber_client_id,jobber_property_id,saberis_name,saberis_address,made_by,made_at,note";

/// Creates a company client in the sandbox with one property; returns (client id, property id).
async fn company(bridge: &Bridge, name: &str, street: &str, city: &str, postal: &str) -> (String, String) {
    let token = bridge.sandbox.issue_tokens().access_token;
    let reply = crate::sandbox::gql(
        &bridge.sandbox,
        &token,
        "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id properties { id } } userErrors { message } } }",
        json!({"input": {"companyName": name, "isCompany": true,
            "properties": [{"address": {"street1": street, "city": city, "province": "MT", "postalCode": postal}}]}}),
    )
    .await;
    let client = &reply.json["data"]["clientCreate"]["client"];
    assert!(client.is_object(), "{}", reply.text);
    (client["id"].as_str().unwrap().to_owned(), client["properties"][0]["id"].as_str().unwrap().to_owned())
}

fn write_mapping(bridge: &Bridge, rows: &[String]) {
    let mut text = format!("{HEADER}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(bridge.mapping_csv(), text).unwrap();
}

fn mapping_rows(bridge: &Bridge) -> Vec<String> {
    std::fs::read_to_string(bridge.mapping_csv())
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

async fn one_quote(bridge: &mut Bridge) -> Value {
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { !bridge.quotes().await.is_empty() }).await;
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), 1);
    quotes[0].clone()
}

/// The one parked message: (error kind, reason).
async fn parked(bridge: &Bridge) -> (String, String) {
    let queue = bridge.ns.topology.parked_queue();
    bridge.wait_until("the parked document", || async { bridge.ns.peek_count(&queue).await >= 1 }).await;
    let parked = bridge.ns.drain(&queue).await;
    assert_eq!(parked.len(), 1);
    let h = parked[0].delivery.properties.headers();
    (headers::text(h, "sj-error-kind").unwrap(), headers::text(h, "sj-error").unwrap())
}

async fn clients(bridge: &Bridge) -> Vec<Value> {
    admin(&bridge.sandbox, "/_admin/jobber/clients").await
}

async fn properties_of(bridge: &Bridge, client_id: &str) -> Vec<Value> {
    let number = client_number(client_id);
    admin(&bridge.sandbox, "/_admin/jobber/properties")
        .await
        .into_iter()
        .filter(|p| p["client_id"].as_u64() == Some(number))
        .collect()
}

/// The sandbox's record number behind an encoded id (`gid://Jobber/Client/7` in base64).
fn client_number(encoded: &str) -> u64 {
    use base64::Engine as _;
    let gid = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    String::from_utf8(gid).unwrap().rsplit('/').next().unwrap().parse().unwrap()
}

fn quote_client(quote: &Value) -> u64 {
    quote["client_id"].as_u64().unwrap()
}

#[tokio::test]
async fn a_mapping_row_by_key_sends_the_quote_to_that_client_and_adds_the_site() {
    let mut bridge = Bridge::start("map-key").await;
    let (client, billing_property) =
        company(&bridge, "HLB Construction LLC", "88 Quarry Rd", "Bozeman", "59715").await;
    write_mapping(
        &bridge,
        &[format!(
            "{KITCHEN_KEY},{client},,Harbour Lane Builders,88 Quarry Rd | Bozeman | 59715,alice,2026-11-01,"
        )],
    );
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_eq!(quote_client(&quote), client_number(&client), "the mapped client");
    assert_eq!(clients(&bridge).await.len(), 1, "no client created");
    // The quote is for the building site, a new property of the mapped client.
    let properties = properties_of(&bridge, &client).await;
    assert_eq!(properties.len(), 2, "{properties:?}");
    let site = properties.iter().find(|p| p["id"] != json!(client_number(&billing_property))).unwrap();
    assert!(site.to_string().contains("1410 Aspen Ridge Ct"), "{site}");
    assert_eq!(quote["property_id"], site["id"]);
    assert_eq!(bridge.worker_log_lines(&["client resolved", "mapping-key"]), 1);
    bridge.stop().await;
}

#[tokio::test]
async fn a_mapping_row_by_address_is_found_when_the_key_is_not() {
    let mut bridge = Bridge::start("map-address").await;
    let (client, site) =
        company(&bridge, "Aspen Ridge Homeowner", "1410 Aspen Ridge Court", "Bozeman", "59718").await;
    // A person wrote the address their way; the look-up normalizes both sides.
    write_mapping(&bridge, &[format!("address:1410 Aspen Ridge Court|Bozeman|59718,{client},{site},,1410 Aspen Ridge Court | Bozeman | 59718,bob,,")]);
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_eq!(quote_client(&quote), client_number(&client));
    assert_eq!(quote["property_id"].as_u64(), Some(client_number(&site)), "the mapped property is the site");
    assert_eq!(clients(&bridge).await.len(), 1);
    assert_eq!(bridge.worker_log_lines(&["client resolved", "mapping-address"]), 1);
    bridge.stop().await;
}

#[tokio::test]
async fn jobber_search_takes_a_unique_same_named_client_whose_address_agrees_and_writes_the_row_back() {
    let mut bridge = Bridge::start("search-name").await;
    let (client, _) = company(&bridge, "Harbour Lane Builders", "88 Quarry Road", "Bozeman", "59715").await;
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_eq!(quote_client(&quote), client_number(&client));
    assert_eq!(clients(&bridge).await.len(), 1, "found, not created");
    assert_eq!(bridge.worker_log_lines(&["client resolved", "jobber-name"]), 1);
    let rows = mapping_rows(&bridge);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].starts_with(&format!("{KITCHEN_KEY},{client},")) && rows[0].contains(",auto,"),
        "{rows:?}"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn a_same_named_client_elsewhere_is_not_taken_and_two_at_the_address_are_not_guessed() {
    // Same name, other town: not this customer; a new client is created.
    let mut bridge = Bridge::start("search-elsewhere").await;
    let (elsewhere, _) = company(&bridge, "Harbour Lane Builders", "5 Main St", "Billings", "59101").await;
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_ne!(quote_client(&quote), client_number(&elsewhere));
    assert_eq!(clients(&bridge).await.len(), 2);
    bridge.stop().await;

    // Two clients of that name at the building site: parked, naming both.
    let mut bridge = Bridge::start("search-ambiguous").await;
    let (a, _) = company(&bridge, "Harbour Lane Builders", "1410 Aspen Ridge Ct", "Bozeman", "59718").await;
    let (b, _) =
        company(&bridge, "Harbour Lane Builders Inc.", "1410 Aspen Ridge Ct", "Bozeman", "59718").await;
    let (c, _) = company(&bridge, "HARBOUR LANE BUILDERS", "1410 Aspen Ridge Ct", "Bozeman", "59718").await;
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    let (kind, reason) = parked(&bridge).await;
    assert_eq!(kind, "mapping.ambiguous-client");
    assert!(reason.contains(&a) && reason.contains(&c) && !reason.contains(&b), "{reason}");
    assert!(reason.contains(&format!("sjctl mapping set '{KITCHEN_KEY}' CLIENT_ID")), "{reason}");
    assert!(bridge.quotes().await.is_empty());
    bridge.stop().await;
}

#[tokio::test]
async fn jobber_search_by_address_finds_the_client_who_owns_the_site() {
    let mut bridge = Bridge::start("search-address").await;
    let (owner, site) = company(&bridge, "R. & J. Calloway", "1410 Aspen Ridge Ct", "Bozeman", "59718").await;
    company(&bridge, "Calloway Next Door", "1412 Aspen Ridge Ct", "Bozeman", "59718").await;
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_eq!(quote_client(&quote), client_number(&owner));
    assert_eq!(quote["property_id"].as_u64(), Some(client_number(&site)), "the existing property, reused");
    assert_eq!(clients(&bridge).await.len(), 2);
    assert_eq!(bridge.worker_log_lines(&["client resolved", "jobber-address"]), 1);
    bridge.stop().await;
}

/// Jobber's client search covers property addresses, never billing addresses: the address
/// strategy searches properties only and takes only a client with a property at the site. A
/// client named after the street and billed at the site, with no property there, is no
/// candidate (before, it made the search ambiguous and the document was parked).
#[tokio::test]
async fn the_address_search_goes_by_properties_not_billing_addresses() {
    let mut bridge = Bridge::start("search-billing").await;
    bridge.env.push(("SJ_MAPPING__STRATEGIES".into(), r#"["jobber-address"]"#.into()));
    let (owner, site) = company(&bridge, "R. & J. Calloway", "1410 Aspen Ridge Ct", "Bozeman", "59718").await;
    let token = bridge.sandbox.issue_tokens().access_token;
    let reply = crate::sandbox::gql(
        &bridge.sandbox,
        &token,
        "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id } userErrors { message } } }",
        json!({"input": {"companyName": "1410 Aspen Ridge Ct Partners", "isCompany": true,
            "billingAddress": {"street1": "1410 Aspen Ridge Ct", "city": "Bozeman", "province": "MT", "postalCode": "59718"},
            "properties": [{"address": {"street1": "9 Elm St", "city": "Billings", "postalCode": "59101"}}]}}),
    )
    .await;
    assert!(reply.json["data"]["clientCreate"]["client"].is_object(), "{}", reply.text);
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_eq!(quote_client(&quote), client_number(&owner));
    assert_eq!(quote["property_id"].as_u64(), Some(client_number(&site)));
    assert_eq!(bridge.worker_log_lines(&["client resolved", "jobber-address"]), 1);
    bridge.stop().await;
}

/// A client's properties come page after page (`clientProperties`): the site among a client's
/// later properties is reused, not created again.
#[tokio::test]
async fn a_site_among_a_clients_later_properties_is_reused() {
    let mut bridge = Bridge::start("many-properties").await;
    let (client, _) = company(&bridge, "Harbour Lane Builders", "88 Quarry Rd", "Bozeman", "59715").await;
    let token = bridge.sandbox.issue_tokens().access_token;
    let mut last = String::new();
    for street in
        ["1 Dock St", "2 Dock St", "3 Dock St", "4 Dock St", "5 Dock St", "6 Dock St", "1410 Aspen Ridge Ct"]
    {
        let reply = crate::sandbox::gql(
            &bridge.sandbox,
            &token,
            "mutation($c: EncodedId!, $input: PropertyCreateInput!) { propertyCreate(clientId: $c, input: $input) { properties { id } userErrors { message } } }",
            json!({"c": client, "input": {"properties": [{"address": {"street1": street, "street2": if street.starts_with("1410") { "Lot 12" } else { "" },
                "city": "Bozeman", "province": "MT", "postalCode": "59718"}}]}}),
        )
        .await;
        last = reply.json["data"]["propertyCreate"]["properties"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", reply.text))
            .to_owned();
    }
    assert_eq!(properties_of(&bridge, &client).await.len(), 8);
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_eq!(quote_client(&quote), client_number(&client));
    assert_eq!(quote["property_id"].as_u64(), Some(client_number(&last)), "the eighth property, reused");
    assert_eq!(properties_of(&bridge, &client).await.len(), 8, "no property created");
    bridge.stop().await;
}

#[tokio::test]
async fn the_park_policy_names_the_row_to_add_and_a_replay_after_the_fix_writes_the_quote() {
    let mut bridge = Bridge::start("park-policy").await;
    bridge.env.push(("SJ_MAPPING__ON_NO_MATCH".into(), "park".into()));
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_consuming_worker().await;
    let queue = bridge.ns.topology.parked_queue();
    bridge.wait_until("the parked document", || async { bridge.ns.peek_count(&queue).await >= 1 }).await;
    let listed = sjctl_json(&bridge, &["dlq", "list", "--json"]).await;
    assert_eq!(listed[0]["kind"], "mapping.no-match", "{listed:?}");
    let reason = listed[0]["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("sjctl mapping set '{KITCHEN_KEY}' CLIENT_ID")), "{reason}");
    assert!(clients(&bridge).await.is_empty(), "nothing created");

    // The fix: a person maps the customer; the replay writes the quote to that client.
    let (client, _) = company(&bridge, "HLB Construction LLC", "88 Quarry Rd", "Bozeman", "59715").await;
    // A mistyped id is caught when the row is entered, not when the next order comes.
    use base64::Engine as _;
    let typo = base64::engine::general_purpose::STANDARD.encode("gid://Jobber/Client/4242");
    let set = |client: &str| {
        bridge
            .command("sjctl", "sjctl")
            .args(["mapping", "set", KITCHEN_KEY, client, "--by", "carol"])
            .output()
    };
    let out = set(&typo).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Jobber has no client"), "{out:?}");
    assert!(mapping_rows(&bridge).is_empty(), "nothing appended");
    let out = set(&client).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("HLB Construction LLC"), "{out:?}");
    let out = bridge.command("sjctl", "sjctl").args(["dlq", "replay", "--all"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    bridge.wait_until("the replayed quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(quote_client(&bridge.quotes().await[0]), client_number(&client));
    let rows = mapping_rows(&bridge);
    assert!(rows.len() == 1 && rows[0].contains(",carol,"), "a person's row, nothing else: {rows:?}");
    // The history tells it: parked, replayed, created.
    let out = bridge.command("sjctl", "sjctl").args(["history", "--json"]).output().await.unwrap();
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<&str> =
        history["entries"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["parked", "replayed", "created"], "{history}");
    bridge.stop().await;
}

#[tokio::test]
async fn a_row_naming_a_client_jobber_lacks_is_parked_with_the_row_to_correct() {
    let mut bridge = Bridge::start("map-missing").await;
    use base64::Engine as _;
    let ghost = base64::engine::general_purpose::STANDARD.encode("gid://Jobber/Client/987654");
    write_mapping(&bridge, &[format!("{KITCHEN_KEY},{ghost},,,,dave,,")]);
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    let (kind, reason) = parked(&bridge).await;
    assert_eq!(kind, "mapping.client-missing");
    assert!(reason.contains(&ghost) && reason.contains("dave"), "{reason}");
    assert!(clients(&bridge).await.is_empty(), "no client created in its place");
    bridge.stop().await;
}

#[tokio::test]
async fn ten_orders_of_one_new_customer_across_three_workers_make_one_client_and_one_mapping_row() {
    let mut bridge = Bridge::start("map-race").await;
    let kitchen = std::fs::read_to_string(samples().join(KITCHEN)).unwrap();
    for n in 1..=10 {
        let order = kitchen.replace("PO-2231", &format!("PO-40{n:02}"));
        std::fs::write(bridge.exports_incoming().join(format!("kitchen-{n}.xml")), order).unwrap();
    }
    bridge.poll_once(&[]).await;
    bridge.start_workers(3);
    bridge.wait_until("ten quotes", || async { bridge.quotes().await.len() >= 10 }).await;
    let clients = clients(&bridge).await;
    assert_eq!(clients.len(), 1, "{clients:?}");
    let rows = mapping_rows(&bridge);
    assert_eq!(rows.len(), 1, "one mapping row: {rows:?}");
    assert!(rows[0].contains(",auto,"), "{rows:?}");
    assert_eq!(bridge.worker_log_lines(&["created the Jobber client"]), 1);
    bridge.stop().await;
}

async fn sjctl_json(bridge: &Bridge, args: &[&str]) -> Vec<Value> {
    let out = bridge.command("sjctl", "sjctl").args(args).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn with_the_sheet_store_a_persons_edit_is_used_without_restart_and_new_clients_are_appended() {
    let mut bridge = Bridge::start("map-sheet").await;
    let keys = tempfile::tempdir().unwrap();
    with_the_sheet_store(&mut bridge, &keys);
    bridge.env.push(("SJ_MAPPING__REFRESH".into(), "1s".into()));
    let (first, _) = company(&bridge, "HLB Construction LLC", "88 Quarry Rd", "Bozeman", "59715").await;
    let (second, _) = company(&bridge, "Harbour Lane Holdings", "88 Quarry Rd", "Bozeman", "59715").await;
    let sheet = |client: &str| {
        json!([
            HEADER.split(',').collect::<Vec<_>>(),
            [KITCHEN_KEY, client, "", "Harbour Lane Builders", "", "alice", "2026-11-01", ""]
        ])
    };
    put_sheet(&bridge, sheet(&first)).await;
    bridge.start_consuming_worker().await;

    let kitchen = std::fs::read_to_string(samples().join(KITCHEN)).unwrap();
    let send = async |n: u32| {
        let order = kitchen.replace("PO-2231", &format!("PO-50{n:02}"));
        std::fs::write(bridge.exports_incoming().join(format!("kitchen-{n}.xml")), order).unwrap();
        bridge.poll_once(&[]).await;
    };
    send(1).await;
    bridge.wait_until("the first quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(quote_client(&bridge.quotes().await[0]), client_number(&first));

    // alice changes her mind in the browser; the running worker uses the new row.
    put_sheet(&bridge, sheet(&second)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    send(2).await;
    bridge.wait_until("the second quote", || async { bridge.quotes().await.len() == 2 }).await;
    let clients_of: Vec<u64> = bridge.quotes().await.iter().map(quote_client).collect();
    assert!(clients_of.contains(&client_number(&second)), "{clients_of:?}");

    // A new customer: created, and its row appended under alice's (hers untouched).
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge.wait_until("the vanity quote", || async { bridge.quotes().await.len() == 3 }).await;
    let rows = admin(&bridge.sandbox, "/_admin/sheets/sandbox-mapping/Sheet1").await;
    assert_eq!(rows.len(), 3, "header, alice's row, the bridge's: {rows:?}");
    assert_eq!(rows[1][1], json!(second), "alice's row as she left it");
    assert_eq!(rows[2][0], json!("number:C-1007"));
    assert_eq!(rows[2][5], json!("auto"));
    bridge.stop().await;
}

/// `mapping.store = "sheets"`: the sandbox's spreadsheet `sandbox-mapping`, the mapping in its
/// tab `Sheet1` (the catalog table in `Catalogs`, the default), as the sandbox's service account
/// (its key written in `keys`).
pub(crate) fn with_the_sheet_store(bridge: &mut Bridge, keys: &tempfile::TempDir) {
    let key_file = crate::mapping::write_key_file(
        keys,
        &bridge.sandbox,
        sj_sandbox::config::SANDBOX_SHEETS_PRIVATE_KEY_PEM,
    );
    for (key, value) in [
        ("SJ_MAPPING__STORE", "sheets".to_owned()),
        ("SJ_MAPPING__SHEETS__API_URL", bridge.sandbox.url("/sheets")),
        ("SJ_MAPPING__SHEETS__SPREADSHEET_ID", "sandbox-mapping".to_owned()),
        ("SJ_MAPPING__SHEETS__TAB", "Sheet1".to_owned()),
        ("SJ_MAPPING__SHEETS__SERVICE_ACCOUNT_FILE", key_file.to_str().unwrap().to_owned()),
    ] {
        bridge.env.push((key.into(), value));
    }
}

async fn put_sheet(bridge: &Bridge, rows: Value) {
    let response = reqwest::Client::new()
        .put(bridge.sandbox.url("/_admin/sheets/sandbox-mapping/Sheet1"))
        .json(&rows)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn two_customers_of_one_site_racing_make_one_client_there() {
    // The builder's order (named) and the homeowner's (no name: keyed by the address) for one
    // site, on two workers at once, with Jobber slow to create clients: without a lock on the
    // site both would create a client at the address, and every later order there would be
    // ambiguous.
    let mut bridge = Bridge::start("site-race").await;
    bridge.env.push(("SJ_MAPPING__UNNAMED_CUSTOMER".into(), "create-from-address".into()));
    super::worker::set_fault(
        &bridge.sandbox,
        json!({"route": "/api/graphql", "body_contains": "clientCreate", "latency_ms": 1500}),
    )
    .await;
    let kitchen = std::fs::read_to_string(samples().join(KITCHEN)).unwrap();
    std::fs::write(bridge.exports_incoming().join("builder.xml"), &kitchen).unwrap();
    let unnamed =
        kitchen.replace("<Name>Harbour Lane Builders</Name>", "<Name></Name>").replace("PO-2231", "");
    std::fs::write(bridge.exports_incoming().join("homeowner.xml"), unnamed).unwrap();
    bridge.poll_once(&[]).await;
    bridge.start_workers(2);
    bridge.wait_until("both quotes", || async { bridge.quotes().await.len() == 2 }).await;
    let clients = clients(&bridge).await;
    assert_eq!(clients.len(), 1, "one client at the site: {clients:?}");
    bridge.stop().await;
}

#[tokio::test]
async fn a_client_past_the_first_page_of_search_results_is_found_not_created_again() {
    let mut bridge = Bridge::start("search-pages").await;
    // Fifty-five clients whose names hold every word of the customer's come first…
    for n in 0..55 {
        company(
            &bridge,
            &format!("Harbour Lane Builders Supply {n}"),
            &format!("{n} Dock St"),
            "Billings",
            "59101",
        )
        .await;
    }
    // …then the customer itself, billed where the document says: on the search's second page.
    let (client, _) = company(&bridge, "Harbour Lane Builders", "88 Quarry Rd", "Bozeman", "59715").await;
    bridge.add(&samples().join(KITCHEN), "kitchen.xml");
    let quote = one_quote(&mut bridge).await;
    assert_eq!(quote_client(&quote), client_number(&client), "found by name, not created");
    assert_eq!(clients(&bridge).await.len(), 56);
    bridge.stop().await;
}
