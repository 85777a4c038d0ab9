//! Jobber GraphQL: documented response shapes byte for byte, limits, business rules, pagination.

use std::time::Duration;

use serde_json::json;
use sj_sandbox::config::{LimitsConfig, QueryCostLimit, RequestLimit};
use sj_sandbox::Config;

use super::{approve_quote, client_with_property, frozen, gql, reply, start, VERSION};

/// The THROTTLED body of jobber-api.md, whitespace removed.
const REFERENCE_THROTTLED: &str = r#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://developer.getjobber.com/docs/using_jobbers_api/api_rate_limits"}}],"extensions":{"cost":{"requestedQueryCost":10001,"actualQueryCost":0,"throttleStatus":{"maximumAvailable":10000,"currentlyAvailable":10000,"restoreRate":500}}}}"#;

fn small_bucket(max: u64, rate: u64) -> Config {
    Config {
        limits: LimitsConfig {
            query_cost: QueryCostLimit { enabled: true, maximum_available: max, restore_rate: rate },
            ..LimitsConfig::default()
        },
        ..frozen()
    }
}

#[tokio::test]
async fn throttled_body_is_the_documented_one_byte_for_byte() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    // 1 (clients) + 10000 × 1 (id) = 10001 > 10000.
    let r = gql(&sandbox, &token, "{ clients(first: 10000) { nodes { id } } }", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, REFERENCE_THROTTLED);
    assert_eq!(sandbox.shared().counters.snapshot().throttled, 1);
}

#[tokio::test]
async fn every_response_carries_cost_and_versioning_in_jobbers_form() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    client_with_property(&sandbox, &token, "Ann", "1 Main St").await; // actual cost 6
                                                                      // Requested: clients 1 + 10 × (id 1 + name 1) + totalCount 1 = 22. Actual: clients 1 +
                                                                      // one node × 2 + totalCount 1 = 4.
    let r = gql(&sandbox, &token, "{ clients(first: 10) { nodes { id name } totalCount } }", json!({})).await;
    assert_eq!(r.status, 200);
    let tail = r#""extensions":{"cost":{"requestedQueryCost":22,"actualQueryCost":4,"throttleStatus":{"maximumAvailable":10000,"currentlyAvailable":9990,"restoreRate":500}},"versioning":{"version":"2025-04-16"}}}"#;
    assert!(r.text.ends_with(tail), "{}", r.text);
    assert!(r.text.starts_with(r#"{"data":{"clients":{"nodes":[{"id":""#), "{}", r.text);
}

#[tokio::test]
async fn bucket_is_checked_before_and_charged_after_and_restores_over_time() {
    let sandbox = start(small_bucket(100, 10)).await;
    let token = sandbox.issue_tokens().access_token;
    let admin = reqwest::Client::new();
    admin
        .put(sandbox.url("/_admin/jobber/throttle"))
        .json(&json!({"currently_available": 20}))
        .send()
        .await
        .unwrap();

    // Requested 1 + 50 × 1 = 51: more than 20 available → THROTTLED, nothing deducted.
    let query = "{ clients(first: 50) { nodes { id } } }";
    let r = gql(&sandbox, &token, query, json!({})).await;
    assert_eq!(r.json["errors"][0]["extensions"]["code"], "THROTTLED", "{}", r.text);
    assert_eq!(r.json["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 20);

    // 2.5 s at 10/s: 45 < 51, still throttled.
    sandbox.advance_clock(Duration::from_millis(2500));
    let r = gql(&sandbox, &token, query, json!({})).await;
    assert_eq!(r.json["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 45);
    assert_eq!(r.json["errors"][0]["extensions"]["code"], "THROTTLED");

    // 0.6 s more: 51 → admitted; the actual cost (1: no clients) is what is charged.
    sandbox.advance_clock(Duration::from_millis(600));
    let r = gql(&sandbox, &token, query, json!({})).await;
    assert!(r.json["errors"].is_null(), "{}", r.text);
    assert_eq!(r.json["extensions"]["cost"]["requestedQueryCost"], 51);
    assert_eq!(r.json["extensions"]["cost"]["actualQueryCost"], 1);
    assert_eq!(r.json["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 50);

    // Never above the maximum: 60 s would restore 600, the bucket holds 100; then the actual
    // cost 2 (clients + totalCount) is charged.
    sandbox.advance_clock(Duration::from_secs(60));
    let r = gql(&sandbox, &token, "{ clients(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(r.json["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 98, "{}", r.text);
}

#[tokio::test]
async fn request_count_limit_answers_429_then_resets_with_the_window() {
    let config = Config {
        limits: LimitsConfig {
            requests: RequestLimit { enabled: true, max_requests: 3, period_secs: 300 },
            ..LimitsConfig::default()
        },
        ..frozen()
    };
    let sandbox = start(config).await;
    let token = sandbox.issue_tokens().access_token;
    for _ in 0..3 {
        assert_eq!(gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await.status, 200);
    }
    let r = gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (429, "Retry later\n"));
    sandbox.advance_clock(Duration::from_secs(300));
    assert_eq!(gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await.status, 200);
}

#[tokio::test]
async fn limits_can_be_disabled() {
    let config = Config {
        limits: LimitsConfig {
            query_cost: QueryCostLimit { enabled: false, ..QueryCostLimit::default() },
            requests: RequestLimit { enabled: false, max_requests: 0, period_secs: 1 },
        },
        ..frozen()
    };
    let sandbox = start(config).await;
    let token = sandbox.issue_tokens().access_token;
    let r = gql(&sandbox, &token, "{ clients(first: 100000) { nodes { id } } }", json!({})).await;
    assert_eq!(r.status, 200);
    assert!(r.json["errors"].is_null(), "{}", r.text);
}

#[tokio::test]
async fn authentication_failures_are_documented_shapes() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let http = reqwest::Client::new();
    let body = json!({"query": "{ clients { totalCount } }"});

    let r = reply(
        http.post(sandbox.url("/api/graphql"))
            .header("X-JOBBER-GRAPHQL-VERSION", VERSION)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let r = gql(&sandbox, "not-a-jwt", "{ clients { totalCount } }", json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (401, r#"{"message":"Token not recognized"}"#));

    assert_eq!(gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await.status, 200);
    sandbox.advance_clock(Duration::from_secs(3600));
    let r = gql(&sandbox, &token, "{ clients { totalCount } }", json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (401, r#"{"message":"Token not recognized"}"#));
    assert_eq!(sandbox.shared().counters.snapshot().unauthorized, 2);
}

#[tokio::test]
async fn version_header_is_required_and_retired_versions_are_upgraded() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let http = reqwest::Client::new();
    let body = json!({"query": "{ clients { totalCount } }"});
    let send = |version: Option<&'static str>| {
        let mut request = http.post(sandbox.url("/api/graphql")).bearer_auth(&token).json(&body);
        if let Some(v) = version {
            request = request.header("X-JOBBER-GRAPHQL-VERSION", v);
        }
        request.send()
    };
    assert_eq!(send(None).await.unwrap().status(), 400);
    let r = reply(send(Some("2022-03-10")).await.unwrap()).await;
    assert_eq!(r.json["extensions"]["versioning"]["version"], "2023-08-18");
    assert!(r.json["extensions"]["versioning"]["warning"].is_string());
    let r = reply(send(Some("2023-11-15")).await.unwrap()).await;
    assert_eq!(r.json["extensions"]["versioning"], json!({"version": "2023-11-15"}));
    assert_eq!(send(Some("banana")).await.unwrap().status(), 400);
}

#[tokio::test]
async fn graphql_errors_for_unknown_fields_bad_ids_and_missing_required_input() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let r = gql(&sandbox, &token, "{ clients { nodes { nickname } } }", json!({})).await;
    assert_eq!(r.status, 200);
    assert!(r.json["data"].is_null());
    assert_eq!(r.json["errors"][0]["message"], "Unknown field \"nickname\" on type \"Client\".");

    let r =
        gql(&sandbox, &token, "query($id: EncodedId!) { client(id: $id) { id } }", json!({"id": "12345"}))
            .await;
    assert_eq!(r.json["errors"][0]["message"], "Variable $id of type EncodedId! was provided invalid value");

    // propertyId is non-null in QuoteCreateAttributes: validation, not a userError.
    let (client, _) = client_with_property(&sandbox, &token, "Ann", "1 Main").await;
    let r = gql(
        &sandbox,
        &token,
        "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { id } userErrors { message } } }",
        json!({"a": {"clientId": client, "lineItems": []}}),
    )
    .await;
    assert!(r.json["data"].is_null(), "{}", r.text);
    assert!(r.json["errors"][0]["message"].as_str().unwrap().contains("propertyId"), "{}", r.text);
}

const QUOTE_CREATE: &str = "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { \
    quote { id quoteNumber quoteStatus amounts { subtotal total discountAmount } \
    lineItems { totalCount nodes { name quantity unitPrice totalPrice textOnly } } \
    customFields { ... on CustomFieldText { label valueText } } client { id } property { id } } \
    userErrors { message path } } }";

#[tokio::test]
async fn business_rules_are_user_errors_with_http_200() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;

    let r = gql(
        &sandbox,
        &token,
        "mutation { clientCreate(input: {firstName: \"  \"}) { client { id } userErrors { message path } } }",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["data"]["clientCreate"]["client"], json!(null));
    assert_eq!(r.json["data"]["clientCreate"]["userErrors"][0]["path"], json!(["input"]));

    let (ann, ann_property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;
    let (_bob, bob_property) = client_with_property(&sandbox, &token, "Bob", "2 Oak Ave").await;

    // Duplicate property: the documented error, exactly.
    let r = gql(
        &sandbox,
        &token,
        "mutation($c: EncodedId!) { propertyCreate(clientId: $c, input: {properties: [{address: {street1: \"1 main st\", city: \"Corvallis\", province: \"MT\", postalCode: \"59828\"}}]}) { client { id } properties { id } userErrors { message path } } }",
        json!({"c": ann}),
    )
    .await;
    assert_eq!(
        r.json["data"]["propertyCreate"],
        json!({"client": null, "properties": [], "userErrors": [{"message": "Property already exists", "path": ["input", "properties"]}]}),
        "{}",
        r.text
    );

    // A property of another client.
    let line =
        json!({"name": "B27B", "quantity": 1.0, "unitPrice": 747.5, "saveToProductsAndServices": false});
    let r = gql(
        &sandbox,
        &token,
        QUOTE_CREATE,
        json!({"a": {"clientId": ann, "propertyId": bob_property, "lineItems": [line]}}),
    )
    .await;
    assert_eq!(r.json["data"]["quoteCreate"]["quote"], json!(null));
    assert_eq!(r.json["data"]["quoteCreate"]["userErrors"][0]["path"], json!(["attributes", "propertyId"]));

    // An id of another account is "not found" here.
    let other = sandbox.issue_tokens_for(2).access_token;
    let (foreign, _) = client_with_property(&sandbox, &other, "Zed", "9 Far Rd").await;
    let r = gql(
        &sandbox,
        &token,
        QUOTE_CREATE,
        json!({"a": {"clientId": foreign, "propertyId": ann_property, "lineItems": [line]}}),
    )
    .await;
    assert_eq!(
        r.json["data"]["quoteCreate"]["userErrors"][0],
        json!({"message": "Client not found", "path": ["attributes", "clientId"]})
    );
    let r =
        gql(&sandbox, &token, "query($id: EncodedId!) { client(id: $id) { id } }", json!({"id": foreign}))
            .await;
    assert_eq!(r.json["data"]["client"], json!(null));
}

#[tokio::test]
async fn quotes_number_per_account_compute_amounts_and_take_custom_fields() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (client, property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;
    let r = gql(&sandbox, &token, "{ customFieldConfigurations { nodes { ... on CustomFieldConfigurationText { id name appliesTo valueType } } } }", json!({})).await;
    let field = &r.json["data"]["customFieldConfigurations"]["nodes"][0];
    assert_eq!(field["name"], "Saberis reference");
    assert_eq!(
        (field["appliesTo"].as_str(), field["valueType"].as_str()),
        (Some("ALL_QUOTES"), Some("TEXT"))
    );

    let lines = json!([
        {"name": "B27B", "description": "B27B;18{10b}", "quantity": 2.0, "unitPrice": 747.5, "saveToProductsAndServices": false},
        {"name": "W3030", "quantity": 1.0, "unitPrice": 100.1, "saveToProductsAndServices": false},
    ]);
    let attributes = json!({"clientId": client, "propertyId": property, "title": "Kitchen", "lineItems": lines,
        "discount": {"rate": 10.0, "type": "Percent"},
        "customFields": [{"customFieldConfigurationId": field["id"], "valueText": "sha256:abc"}]});
    let r = gql(&sandbox, &token, QUOTE_CREATE, json!({"a": attributes})).await;
    let quote = &r.json["data"]["quoteCreate"]["quote"];
    assert_eq!(quote["quoteNumber"], "1", "{}", r.text);
    assert_eq!(quote["quoteStatus"], "draft");
    assert_eq!(quote["amounts"], json!({"subtotal": 1595.1, "total": 1435.59, "discountAmount": 159.51}));
    assert_eq!(quote["lineItems"]["totalCount"], 2);
    assert_eq!(quote["lineItems"]["nodes"][0]["totalPrice"], 1495.0);
    assert_eq!(quote["customFields"], json!([{"label": "Saberis reference", "valueText": "sha256:abc"}]));
    let quote_id = quote["id"].as_str().unwrap().to_string();

    // Jobber makes no quote without a line: a userError, and no number taken.
    let r = gql(
        &sandbox,
        &token,
        "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { id } userErrors { message path } } }",
        json!({"a": {"clientId": client, "propertyId": property, "lineItems": []}}),
    )
    .await;
    assert!(r.json["data"]["quoteCreate"]["quote"].is_null(), "{}", r.text);
    assert_eq!(
        r.json["data"]["quoteCreate"]["userErrors"],
        json!([{"message": "Quote must have at least one line item", "path": ["attributes", "lineItems"]}]),
        "{}",
        r.text
    );
    let r = gql(
        &sandbox,
        &token,
        QUOTE_CREATE,
        json!({"a": {"clientId": client, "propertyId": property, "lineItems": [{"name": "Visit", "quantity": 1, "unitPrice": 100, "saveToProductsAndServices": false}]}}),
    )
    .await;
    assert_eq!(r.json["data"]["quoteCreate"]["quote"]["quoteNumber"], "2");

    // Line item mutations change the amounts; text lines cost nothing.
    let r = gql(&sandbox, &token,
        "mutation($q: EncodedId!) { quoteCreateTextLineItems(quoteId: $q, lineItems: [{name: \"Door Style=Shaker\"}]) { quote { amounts { subtotal } } createdLineItems { textOnly } userErrors { message } } }",
        json!({"q": quote_id})).await;
    assert_eq!(
        r.json["data"]["quoteCreateTextLineItems"]["quote"]["amounts"]["subtotal"], 1595.1,
        "{}",
        r.text
    );
    let r = gql(
        &sandbox,
        &token,
        "query($q: EncodedId!) { quote(id: $q) { lineItems { nodes { id name } } } }",
        json!({"q": quote_id}),
    )
    .await;
    let first_line = r.json["data"]["quote"]["lineItems"]["nodes"][0]["id"].as_str().unwrap().to_string();
    let r = gql(&sandbox, &token,
        "mutation($q: EncodedId!, $l: EncodedId!) { quoteEditLineItems(quoteId: $q, lineItems: [{lineItemId: $l, quantity: 1}]) { quote { amounts { subtotal } } userErrors { message } } }",
        json!({"q": quote_id, "l": first_line})).await;
    assert_eq!(r.json["data"]["quoteEditLineItems"]["quote"]["amounts"]["subtotal"], 847.6, "{}", r.text);
    let r = gql(&sandbox, &token,
        "mutation($q: EncodedId!, $l: EncodedId!) { quoteDeleteLineItems(quoteId: $q, lineItemIds: [$l]) { deletedLineItems { name } quote { amounts { subtotal } } } }",
        json!({"q": quote_id, "l": first_line})).await;
    assert_eq!(r.json["data"]["quoteDeleteLineItems"]["quote"]["amounts"]["subtotal"], 100.1, "{}", r.text);

    // Approved (by the client, through the admin API: the public API cannot), it reads approved.
    assert_eq!(approve_quote(&sandbox, &quote_id).await.status, 200);
    let r = gql(
        &sandbox,
        &token,
        "query($q: EncodedId!) { quote(id: $q) { quoteStatus } }",
        json!({"q": quote_id}),
    )
    .await;
    assert_eq!(r.json["data"]["quote"]["quoteStatus"], "approved", "{}", r.text);

    // Filter by client.
    let r = gql(
        &sandbox,
        &token,
        "query($c: EncodedId) { quotes(filter: {clientId: $c}) { totalCount } }",
        json!({"c": client}),
    )
    .await;
    assert_eq!(r.json["data"]["quotes"]["totalCount"], 2);

    // Another account numbers its own quotes from 1.
    let other = sandbox.issue_tokens_for(2).access_token;
    let (c2, p2) = client_with_property(&sandbox, &other, "Zed", "9 Far Rd").await;
    let r = gql(
        &sandbox,
        &other,
        QUOTE_CREATE,
        json!({"a": {"clientId": c2, "propertyId": p2, "lineItems": [{"name": "Visit", "quantity": 1, "unitPrice": 100, "saveToProductsAndServices": false}]}}),
    )
    .await;
    assert_eq!(r.json["data"]["quoteCreate"]["quote"]["quoteNumber"], "1");
}

#[tokio::test]
async fn search_and_cursor_pagination() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    for (i, name) in ["Ann", "Bob", "Cid", "Dee", "Eve"].iter().enumerate() {
        client_with_property(&sandbox, &token, name, &format!("{i} Main St")).await;
    }
    gql(&sandbox, &token,
        "mutation { clientCreate(input: {companyName: \"Affinity Homes\", emails: [{address: \"office@affinity.example\"}], phones: [{number: \"(406) 555-0101\"}]}) { client { id } } }",
        json!({})).await;

    let page = "query($after: String) { clients(first: 2, after: $after) { nodes { firstName } totalCount pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = json!(null);
    loop {
        let r = gql(&sandbox, &token, page, json!({"after": after})).await;
        let clients = &r.json["data"]["clients"];
        assert_eq!(clients["totalCount"], 6);
        seen.extend(
            clients["nodes"].as_array().unwrap().iter().map(|n| n["firstName"].as_str().unwrap().to_string()),
        );
        if !clients["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = clients["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["Ann", "Bob", "Cid", "Dee", "Eve", ""]);

    let search = |term: &'static str| {
        let sandbox = &sandbox;
        let token = &token;
        async move {
            let r = gql(
                sandbox,
                token,
                "query($t: String) { clients(searchTerm: $t) { nodes { name } } }",
                json!({"t": term}),
            )
            .await;
            r.json["data"]["clients"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("affinity").await, ["Affinity Homes"]);
    assert_eq!(search("office@affinity").await, ["Affinity Homes"]);
    assert_eq!(search("4065550101").await, ["Affinity Homes"]);
    assert_eq!(search("3 main").await, ["Dee Test"]);
    assert_eq!(search("nobody").await, Vec::<String>::new());
}
