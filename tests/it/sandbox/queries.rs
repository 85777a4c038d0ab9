//! Reading Jobber as version 2025-04-16 serves it: nullable property address parts, the
//! `clientProperties` connection, client search over Jobber's search fields (never billing
//! addresses), quote filters (number ranges, dates) and sorts, `jobberWebUri`.

use std::time::Duration;

use serde_json::{json, Value};
use sj_sandbox::config::{AccountConfig, CustomFieldSetup, CustomFieldTarget, CustomFieldValueType};
use sj_sandbox::{Config, Sandbox};

use super::{client_with_property, frozen, gql, start};

const CLIENT_CREATE: &str =
    "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id } userErrors { message } } }";

async fn create_client(sandbox: &Sandbox, token: &str, input: Value) -> String {
    let r = gql(sandbox, token, CLIENT_CREATE, json!({"input": input})).await;
    r.json["data"]["clientCreate"]["client"]["id"].as_str().unwrap_or_else(|| panic!("{}", r.text)).to_owned()
}

/// Creates a quote; returns its id.
async fn create_quote(sandbox: &Sandbox, token: &str, client: &str, property: &str, price: f64) -> String {
    let r = gql(
        sandbox,
        token,
        "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { id } userErrors { message } } }",
        json!({"a": {"clientId": client, "propertyId": property, "lineItems": [
            {"name": "B27B", "quantity": 1.0, "unitPrice": price, "saveToProductsAndServices": false}]}}),
    )
    .await;
    r.json["data"]["quoteCreate"]["quote"]["id"].as_str().unwrap_or_else(|| panic!("{}", r.text)).to_owned()
}

/// The quote numbers a `quotes` query returns (`args` inside the parentheses). Variables: `$n`
/// an `Int`, `$t` an `ISO8601DateTime`.
async fn quote_numbers(sandbox: &Sandbox, token: &str, args: &str, variables: Value) -> Vec<String> {
    let declared: Vec<&str> = [("n", "$n: Int"), ("t", "$t: ISO8601DateTime")]
        .into_iter()
        .filter(|(name, _)| variables.get(name).is_some())
        .map(|(_, declaration)| declaration)
        .collect();
    let declared = if declared.is_empty() { String::new() } else { format!("({})", declared.join(", ")) };
    let query = format!("query{declared} {{ quotes({args}) {{ nodes {{ quoteNumber }} }} }}");
    let r = gql(sandbox, token, &query, variables).await;
    let nodes = r.json["data"]["quotes"]["nodes"].as_array().unwrap_or_else(|| panic!("{}", r.text));
    nodes.iter().map(|n| n["quoteNumber"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn property_address_parts_are_null_when_empty_billing_parts_stay_strings() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let with_billing = create_client(
        &sandbox,
        &token,
        json!({"firstName": "Ann", "billingAddress": {"street1": "77 Billing Way", "city": "Bozeman"},
               "properties": [{"address": {"street1": "12 Harbour Rd", "city": "Bozeman"}}]}),
    )
    .await;
    let without_billing = create_client(&sandbox, &token, json!({"firstName": "Bob"})).await;
    let query = "query($id: EncodedId!) { client(id: $id) { \
        billingAddress { street1 street2 city province postalCode country street } \
        clientProperties { nodes { address { street1 street2 city province postalCode country street } \
        street2 province } } } }";
    let r = gql(&sandbox, &token, query, json!({"id": with_billing})).await;
    let client = &r.json["data"]["client"];
    assert_eq!(
        client["billingAddress"],
        json!({"street1": "77 Billing Way", "street2": "", "city": "Bozeman", "province": "",
               "postalCode": "", "country": "", "street": "77 Billing Way"}),
        "{}",
        r.text
    );
    let property = &client["clientProperties"]["nodes"][0];
    assert_eq!(
        property["address"],
        json!({"street1": "12 Harbour Rd", "street2": null, "city": "Bozeman", "province": null,
               "postalCode": null, "country": null, "street": "12 Harbour Rd"})
    );
    // The deprecated flat fields are String! in Jobber: empty, not null.
    assert_eq!((&property["street2"], &property["province"]), (&json!(""), &json!("")));

    let r = gql(&sandbox, &token, query, json!({"id": without_billing})).await;
    assert_eq!(r.json["data"]["client"]["billingAddress"], json!(null), "{}", r.text);
}

#[tokio::test]
async fn client_properties_is_a_connection_that_pages_and_costs_like_every_other() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let properties: Vec<Value> =
        (1..=3).map(|i| json!({"address": {"street1": format!("{i} Elm St"), "city": "Bozeman"}})).collect();
    let client = create_client(&sandbox, &token, json!({"firstName": "Ann", "properties": properties})).await;

    let page = "query($id: EncodedId!, $after: String) { client(id: $id) { clientProperties(first: 2, after: $after) { \
        nodes { address { street1 } } pageInfo { hasNextPage endCursor } totalCount } } }";
    let r = gql(&sandbox, &token, page, json!({"id": client, "after": null})).await;
    let first = &r.json["data"]["client"]["clientProperties"];
    assert_eq!(
        first["nodes"],
        json!([{"address": {"street1": "1 Elm St"}}, {"address": {"street1": "2 Elm St"}}])
    );
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["totalCount"], 3);
    // client 1 + clientProperties 1 + 2 × (address 1 + street1 1) + pageInfo 1 + hasNextPage 1
    // + endCursor 1 + totalCount 1.
    assert_eq!(r.json["extensions"]["cost"]["requestedQueryCost"], 10, "{}", r.text);

    let after = first["pageInfo"]["endCursor"].clone();
    let r = gql(&sandbox, &token, page, json!({"id": client, "after": after})).await;
    let second = &r.json["data"]["client"]["clientProperties"];
    assert_eq!(second["nodes"], json!([{"address": {"street1": "3 Elm St"}}]));
    assert_eq!(second["pageInfo"]["hasNextPage"], false);

    // The deprecated list still answers, all at once.
    let r = gql(
        &sandbox,
        &token,
        "query($id: EncodedId!) { client(id: $id) { properties { id } } }",
        json!({"id": client}),
    )
    .await;
    assert_eq!(r.json["data"]["client"]["properties"].as_array().map(Vec::len), Some(3), "{}", r.text);
}

async fn names(sandbox: &Sandbox, token: &str, term: &str, fields: Option<Value>) -> Vec<String> {
    let r = gql(
        sandbox,
        token,
        "query($t: String, $f: [ClientSearchField!]) { clients(searchTerm: $t, searchFields: $f) { nodes { name } } }",
        json!({"t": term, "f": fields}),
    )
    .await;
    let nodes = r.json["data"]["clients"]["nodes"].as_array().unwrap_or_else(|| panic!("{}", r.text));
    let mut names: Vec<String> = nodes.iter().map(|n| n["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn search_matches_property_addresses_never_billing_addresses() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    create_client(
        &sandbox,
        &token,
        json!({"firstName": "Ann", "lastName": "Reyes",
               "billingAddress": {"street1": "77 Billing Way", "city": "Missoula", "postalCode": "59801"},
               "properties": [{"address": {"street1": "12 Harbour Rd", "city": "Bozeman"}}]}),
    )
    .await;
    assert_eq!(names(&sandbox, &token, "harbour", None).await, ["Ann Reyes"]);
    assert_eq!(names(&sandbox, &token, "12 harbour bozeman", None).await, ["Ann Reyes"]);
    assert_eq!(names(&sandbox, &token, "billing way", None).await, Vec::<String>::new());
    assert_eq!(names(&sandbox, &token, "missoula", None).await, Vec::<String>::new());
    assert_eq!(names(&sandbox, &token, "59801", None).await, Vec::<String>::new());
}

#[tokio::test]
async fn search_fields_choose_where_the_term_is_looked_for() {
    let config = Config {
        account: AccountConfig {
            custom_fields: vec![CustomFieldSetup {
                name: "Dealer code".into(),
                value_type: CustomFieldValueType::Text,
                applies_to: CustomFieldTarget::AllClients,
                default_value: String::new(),
            }],
            ..AccountConfig::default()
        },
        ..frozen()
    };
    let sandbox = start(config).await;
    let token = sandbox.issue_tokens().access_token;
    let r = gql(
        &sandbox,
        &token,
        "{ customFieldConfigurations { nodes { ... on CustomFieldConfigurationText { id } } } }",
        json!({}),
    )
    .await;
    let dealer_code = r.json["data"]["customFieldConfigurations"]["nodes"][0]["id"].clone();
    create_client(
        &sandbox,
        &token,
        json!({"firstName": "Ann", "lastName": "Smith",
               "emails": [{"address": "main@smith.example", "primary": true}, {"address": "elm.other@smith.example"}],
               "phones": [{"number": "(406) 555-0101"}],
               "customFields": [{"customFieldConfigurationId": dealer_code, "valueText": "ELMWOOD-7"}],
               "properties": [{"address": {"street1": "5 Elm St", "city": "Bozeman"}}]}),
    )
    .await;
    create_client(&sandbox, &token, json!({"companyName": "Elm Cabinets", "isCompany": true})).await;

    let all = names(&sandbox, &token, "elm", None).await;
    assert_eq!(all, ["Ann Smith", "Elm Cabinets"]);
    assert_eq!(names(&sandbox, &token, "elm", Some(json!(["NAMES"]))).await, ["Elm Cabinets"]);
    assert_eq!(names(&sandbox, &token, "elm", Some(json!(["PROPERTIES"]))).await, ["Ann Smith"]);
    assert_eq!(names(&sandbox, &token, "elm.other", Some(json!(["EMAILS"]))).await, ["Ann Smith"]);
    assert_eq!(
        names(&sandbox, &token, "elm.other", Some(json!(["PRIMARY_EMAIL"]))).await,
        Vec::<String>::new()
    );
    assert_eq!(names(&sandbox, &token, "main@smith", Some(json!(["PRIMARY_EMAIL"]))).await, ["Ann Smith"]);
    assert_eq!(names(&sandbox, &token, "4065550101", Some(json!(["PHONES"]))).await, ["Ann Smith"]);
    assert_eq!(
        names(&sandbox, &token, "4065550101", Some(json!(["NAMES", "EMAILS"]))).await,
        Vec::<String>::new()
    );
    assert_eq!(names(&sandbox, &token, "elmwood-7", Some(json!(["CUSTOM_FIELDS"]))).await, ["Ann Smith"]);
    // The sandbox keeps no client notes.
    assert_eq!(names(&sandbox, &token, "elm", Some(json!(["NOTES"]))).await, Vec::<String>::new());
    // Billing addresses are no search field.
    let r = gql(
        &sandbox,
        &token,
        "{ clients(searchTerm: \"elm\", searchFields: [BILLING_ADDRESS]) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert!(r.json["data"].is_null() && r.json["errors"][0]["message"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn quotes_filter_by_creation_and_update_time() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (client, property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;
    let first = create_quote(&sandbox, &token, &client, &property, 10.0).await;
    // (Less than the access token's hour in all.)
    sandbox.advance_clock(Duration::from_secs(1200));
    create_quote(&sandbox, &token, &client, &property, 20.0).await;
    let r = gql(&sandbox, &token, "{ quotes { nodes { createdAt } } }", json!({})).await;
    let created: Vec<String> = r.json["data"]["quotes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["createdAt"].as_str().unwrap().to_owned())
        .collect();

    let by_created = |range: &str| format!("filter: {{createdAt: {{{range}: $t}}}}");
    assert_eq!(quote_numbers(&sandbox, &token, &by_created("after"), json!({"t": created[1]})).await, ["2"]);
    assert_eq!(quote_numbers(&sandbox, &token, &by_created("before"), json!({"t": created[0]})).await, ["1"]);
    assert_eq!(quote_numbers(&sandbox, &token, &by_created("eq"), json!({"t": created[1]})).await, ["2"]);
    // Ten minutes after the first, written with an offset.
    let (date, time) = created[0].trim_end_matches('Z').split_once('T').unwrap();
    let hour: u32 = time[..2].parse().unwrap();
    let local = format!("{date}T{:02}{}-00:10", hour, &time[2..]);
    assert_eq!(quote_numbers(&sandbox, &token, &by_created("after"), json!({"t": local})).await, ["2"]);
    // Both bounds, and the client filter with them (the bridge's look-up).
    let both = "filter: {clientId: $c, createdAt: {after: $t, before: $u}}";
    let r = gql(
        &sandbox,
        &token,
        &format!("query($c: EncodedId, $t: ISO8601DateTime, $u: ISO8601DateTime) {{ quotes({both}) {{ nodes {{ quoteNumber }} }} }}"),
        json!({"c": client, "t": created[0], "u": created[0]}),
    )
    .await;
    assert_eq!(r.json["data"]["quotes"]["nodes"], json!([{"quoteNumber": "1"}]), "{}", r.text);

    // An edit moves updatedAt, not createdAt.
    sandbox.advance_clock(Duration::from_secs(1200));
    gql(
        &sandbox,
        &token,
        "mutation($q: EncodedId!) { quoteEdit(quoteId: $q, attributes: {title: \"Kitchen\"}) { userErrors { message } } }",
        json!({"q": first}),
    )
    .await;
    let r =
        gql(&sandbox, &token, "query($q: EncodedId!) { quote(id: $q) { updatedAt } }", json!({"q": first}))
            .await;
    let edited = r.json["data"]["quote"]["updatedAt"].clone();
    let by_updated = "filter: {updatedAt: {after: $t}}";
    assert_eq!(quote_numbers(&sandbox, &token, by_updated, json!({"t": edited})).await, ["1"]);
    assert_eq!(
        quote_numbers(&sandbox, &token, &by_created("after"), json!({"t": edited})).await,
        Vec::<String>::new()
    );

    // Not a date: a GraphQL error.
    let r = gql(
        &sandbox,
        &token,
        "{ quotes(filter: {createdAt: {after: \"yesterday\"}}) { totalCount } }",
        json!({}),
    )
    .await;
    assert!(r.json["data"].is_null(), "{}", r.text);
    assert!(r.json["errors"][0]["message"].as_str().unwrap().contains("ISO8601DateTime"), "{}", r.text);
}

#[tokio::test]
async fn quotes_filter_by_number_range_and_numbers_beyond_int_are_refused() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (client, property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;
    for price in [10.0, 20.0, 30.0] {
        create_quote(&sandbox, &token, &client, &property, price).await;
    }
    let numbers = |args: &'static str, n: Value| {
        let (sandbox, token) = (&sandbox, &token);
        async move { quote_numbers(sandbox, token, args, json!({"n": n})).await }
    };
    assert_eq!(numbers("filter: {quoteNumber: {eq: $n}}", json!(2)).await, ["2"]);
    assert_eq!(numbers("filter: {quoteNumber: {min: $n}}", json!(2)).await, ["2", "3"]);
    assert_eq!(numbers("filter: {quoteNumber: {max: $n}}", json!(2)).await, ["1", "2"]);
    assert_eq!(numbers("filter: {quoteNumber: {min: 1, max: $n}}", json!(1)).await, ["1"]);
    assert_eq!(numbers("filter: {quoteNumber: {eq: $n}}", json!(2_147_483_647)).await, Vec::<String>::new());
    // GraphQL Int is 32-bit: a larger number is refused before anything runs, as a variable or
    // written in the query.
    for (query, variables) in [
        (
            "query($n: Int) { quotes(filter: {quoteNumber: {eq: $n}}) { totalCount } }",
            json!({"n": 2_147_483_648_u64}),
        ),
        ("{ quotes(filter: {quoteNumber: {eq: 3000000000}}) { totalCount } }", json!({})),
    ] {
        let r = gql(&sandbox, &token, query, variables).await;
        assert_eq!(r.status, 200);
        assert!(r.json["data"].is_null(), "{}", r.text);
        assert!(r.json["errors"][0]["message"].as_str().unwrap().contains("Int"), "{}", r.text);
    }
}

#[tokio::test]
async fn quotes_sort_by_jobbers_keys() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (zed, zed_property) = client_with_property(&sandbox, &token, "Zed", "9 Oak Ave").await;
    let (amy, amy_property) = client_with_property(&sandbox, &token, "Amy", "1 Pine Rd").await;
    create_quote(&sandbox, &token, &zed, &zed_property, 50.0).await; // #1
    create_quote(&sandbox, &token, &amy, &amy_property, 70.0).await; // #2
    create_quote(&sandbox, &token, &zed, &zed_property, 60.0).await; // #3
    let sorted = |sort: &'static str| {
        let (sandbox, token) = (&sandbox, &token);
        async move { quote_numbers(sandbox, token, sort, json!({})).await }
    };
    assert_eq!(sorted("sort: [{key: QUOTE_TOTAL, direction: DESCENDING}]").await, ["2", "3", "1"]);
    assert_eq!(sorted("sort: [{key: QUOTE_NUMBER, direction: DESCENDING}]").await, ["3", "2", "1"]);
    assert_eq!(sorted("sort: [{key: CLIENT_FIRST_NAME, direction: ASCENDING}]").await, ["2", "1", "3"]);
    assert_eq!(
        sorted("sort: [{key: PROPERTY_STREET1, direction: DESCENDING}, {key: QUOTE_TOTAL, direction: ASCENDING}]")
            .await,
        ["1", "3", "2"]
    );
    // No date recorded (never sent): creation order.
    assert_eq!(sorted("sort: [{key: LAST_SENT_AT, direction: ASCENDING}]").await, ["1", "2", "3"]);
    // A missing date sorts last ascending, first descending (PostgreSQL's default).
    assert_eq!(super::approve_quote(&sandbox, "3").await.status, 200);
    assert_eq!(sorted("sort: [{key: APPROVED_AT, direction: ASCENDING}]").await, ["3", "1", "2"]);
    assert_eq!(sorted("sort: [{key: APPROVED_AT, direction: DESCENDING}]").await, ["1", "2", "3"]);
}

#[tokio::test]
async fn line_items_take_jobbers_categories_and_optional_price_and_quantity() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (client, property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;
    let r = gql(
        &sandbox,
        &token,
        "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { lineItems { nodes { \
         name category quantity unitPrice unitCost totalPrice } } } userErrors { message } } }",
        json!({"a": {"clientId": client, "propertyId": property, "lineItems": [
            {"name": "Install", "category": "LABOUR", "unitPrice": 80.0, "quantity": 2.0, "saveToProductsAndServices": false},
            {"name": "Delivery", "category": "SERVICE", "saveToProductsAndServices": false}]}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["quoteCreate"]["quote"]["lineItems"]["nodes"],
        json!([
            {"name": "Install", "category": "LABOUR", "quantity": 2.0, "unitPrice": 80.0, "unitCost": 0.0, "totalPrice": 160.0},
            {"name": "Delivery", "category": "SERVICE", "quantity": 1.0, "unitPrice": 0.0, "unitCost": 0.0, "totalPrice": 0.0}
        ]),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn jobber_web_uris_lead_to_the_sandboxs_own_pages() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (client, property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;
    let quote = create_quote(&sandbox, &token, &client, &property, 10.0).await;
    gql(
        &sandbox,
        &token,
        "mutation($q: EncodedId!) { quoteEdit(quoteId: $q, attributes: {title: \"Kitchen <Harbour>\"}) { userErrors { message } } }",
        json!({"q": quote}),
    )
    .await;
    let r = gql(
        &sandbox,
        &token,
        "query($q: EncodedId!) { quote(id: $q) { jobberWebUri client { jobberWebUri } property { jobberWebUri } } }",
        json!({"q": quote}),
    )
    .await;
    let q = &r.json["data"]["quote"];
    let number = |id: &str| {
        let gid = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, id).unwrap(),
        )
        .unwrap();
        gid.rsplit('/').next().unwrap().to_owned()
    };
    let base = sandbox.base_url();
    assert_eq!(q["jobberWebUri"], format!("{base}/web/quotes/{}", number(&quote)), "{}", r.text);
    assert_eq!(q["client"]["jobberWebUri"], format!("{base}/web/clients/{}", number(&client)));
    assert_eq!(q["property"]["jobberWebUri"], format!("{base}/web/properties/{}", number(&property)));

    let page = reqwest::get(q["jobberWebUri"].as_str().unwrap()).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Quote #1: Kitchen &lt;Harbour&gt;") && html.contains("Ann Test"), "{html}");
    let page = reqwest::get(q["client"]["jobberWebUri"].as_str().unwrap()).await.unwrap();
    assert!(page.text().await.unwrap().contains("Client: Ann Test"));
    let missing = reqwest::get(sandbox.url("/web/quotes/999999")).await.unwrap();
    assert_eq!(missing.status(), 404);
}
