//! Jobs: made by staff (the admin API, as in Jobber Online), found by `job(id)` and by
//! `jobs(searchTerm:, filter:)`, their lines added and removed with `jobCreateLineItems` /
//! `jobDeleteLineItems` (one `input` object each, as in Jobber's 2025-04-16 schema).

use reqwest::Method;
use serde_json::{json, Value};
use sj_sandbox::Sandbox;

use super::{client_with_property, frozen, gql, reply, start, Reply};

/// `POST /_admin/jobber/jobs` with a JSON body.
async fn new_job(sandbox: &Sandbox, body: Value) -> Reply {
    let response = reqwest::Client::new()
        .request(Method::POST, sandbox.url("/_admin/jobber/jobs"))
        .json(&body)
        .send()
        .await
        .expect("admin request");
    reply(response).await
}

const JOB: &str = "query($id: EncodedId!) { job(id: $id) { id jobNumber title jobStatus total jobberWebUri \
    client { name } property { id } lineItems { totalCount nodes { id name description quantity unitPrice \
    unitCost totalPrice totalCost } } } }";

#[tokio::test]
async fn a_job_made_by_staff_is_found_and_takes_lines() {
    let sandbox = start(frozen()).await;
    let token = sandbox.issue_tokens().access_token;
    let (client, property) = client_with_property(&sandbox, &token, "Ann", "1 Main St").await;

    // Staff make two jobs; numbered in the account's own sequence.
    let r = new_job(
        &sandbox,
        json!({"client": client, "title": "Kitchen install",
        "line_items": [{"name": "Install", "unit_price": 800, "unit_cost": 500}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((&r.json["job_number"], &r.json["total"]), (&json!(1), &json!(800.0)));
    let job = r.json["encoded_id"].as_str().unwrap().to_owned();
    let r = new_job(&sandbox, json!({"client": client, "property": property, "title": "Vanity 12"})).await;
    assert_eq!(r.json["job_number"], 2, "{}", r.text);
    // A job is a client's, at one of its properties.
    assert_eq!(new_job(&sandbox, json!({"client": "bm90IGFuIGlk"})).await.status, 404);
    let (other, _) = client_with_property(&sandbox, &token, "Bob", "2 Side St").await;
    let r = new_job(&sandbox, json!({"client": other, "property": property})).await;
    assert_eq!(r.status, 404, "{}", r.text);

    let r = gql(&sandbox, &token, JOB, json!({"id": job})).await;
    let found = &r.json["data"]["job"];
    assert_eq!(found["jobNumber"], 1, "{}", r.text);
    assert_eq!(found["jobStatus"], "upcoming");
    assert_eq!(found["client"]["name"], "Ann Test");
    assert_eq!(found["property"]["id"], json!(property));
    assert!(found["jobberWebUri"].as_str().unwrap().contains("/web/jobs/"), "{}", r.text);

    // Searched by number (the word matches the number, a title, a client or an address).
    let search = |term: &'static str| {
        let (sandbox, token) = (&sandbox, &token);
        async move {
            let r = gql(
                sandbox,
                token,
                "query($t: String) { jobs(searchTerm: $t, first: 20) { nodes { jobNumber } } }",
                json!({"t": term}),
            )
            .await;
            r.json["data"]["jobs"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["jobNumber"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("1").await, [json!(1), json!(2)], "1 is job #1, and in 1 Main St");
    assert_eq!(search("12").await, [json!(2)], "the title Vanity 12");
    assert_eq!(search("kitchen").await, [json!(1)]);
    assert_eq!(search("3").await, Vec::<Value>::new());
    // Filtered by status (active: every job in progress) and ids.
    let r = gql(&sandbox, &token,
        "query($ids: [EncodedId!]) { a: jobs(filter: {status: active}) { totalCount } b: jobs(filter: {status: archived}) { totalCount } c: jobs(filter: {ids: $ids}) { nodes { jobNumber } } }",
        json!({"ids": [job]})).await;
    assert_eq!(r.json["data"]["a"]["totalCount"], 2, "{}", r.text);
    assert_eq!(r.json["data"]["b"]["totalCount"], 0);
    assert_eq!(r.json["data"]["c"]["nodes"], json!([{"jobNumber": 1}]));

    // Lines added after the last one, with cost and price.
    let r = gql(&sandbox, &token,
        "mutation($j: EncodedId!, $i: JobCreateLineItemsInput!) { jobCreateLineItems(jobId: $j, input: $i) { createdLineItems { id name } job { total } userErrors { message } } }",
        json!({"j": job, "i": {"lineItems": [
            {"name": "B24", "description": "Base 24", "quantity": 2, "unitPrice": 0, "unitCost": 210.5, "saveToProductsAndServices": false},
            {"name": "W3030", "quantity": 1, "unitPrice": 300, "unitCost": 150, "saveToProductsAndServices": false}]}})).await;
    let payload = &r.json["data"]["jobCreateLineItems"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.text);
    assert_eq!(payload["job"]["total"], 1100.0);
    let created: Vec<String> = payload["createdLineItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(created.len(), 2);
    let r = gql(&sandbox, &token, JOB, json!({"id": job})).await;
    let lines = &r.json["data"]["job"]["lineItems"];
    assert_eq!(lines["totalCount"], 3);
    assert_eq!(
        lines["nodes"][1],
        json!({"id": created[0], "name": "B24", "description": "Base 24", "quantity": 2.0,
        "unitPrice": 0.0, "unitCost": 210.5, "totalPrice": 0.0, "totalCost": 421.0})
    );

    // Required fields of a job line, and the one `input` object: validation errors.
    let r = gql(&sandbox, &token,
        "mutation($j: EncodedId!) { jobCreateLineItems(jobId: $j, input: {lineItems: [{name: \"X\", quantity: 1, saveToProductsAndServices: false}]}) { userErrors { message } } }",
        json!({"j": job})).await;
    assert!(r.json["errors"][0]["message"].as_str().unwrap().contains("unitPrice"), "{}", r.text);
    // A job that does not exist: the payload's job is non-null, so a GraphQL error.
    let r = gql(
        &sandbox,
        &token,
        "mutation($j: EncodedId!) { jobCreateLineItems(jobId: $j, input: {lineItems: []}) { job { id } } }",
        json!({"j": client}),
    )
    .await;
    assert!(r.json["data"].is_null() && r.json["errors"][0]["message"] == "Job not found", "{}", r.text);

    // Removed again; a line of no job is a userError and removes nothing.
    let delete = "mutation($j: EncodedId!, $i: JobDeleteLineItemsInput!) { jobDeleteLineItems(jobId: $j, input: $i) { deletedLineItems { name } job { total } userErrors { message path } } }";
    let r =
        gql(&sandbox, &token, delete, json!({"j": job, "i": {"lineItemIds": [created[0], client]}})).await;
    assert_eq!(
        r.json["data"]["jobDeleteLineItems"]["userErrors"][0]["message"], "Line item not found",
        "{}",
        r.text
    );
    let r = gql(&sandbox, &token, delete, json!({"j": job, "i": {"lineItemIds": created}})).await;
    let payload = &r.json["data"]["jobDeleteLineItems"];
    assert_eq!(payload["deletedLineItems"], json!([{"name": "B24"}, {"name": "W3030"}]), "{}", r.text);
    assert_eq!(payload["job"]["total"], 800.0);
    let r = gql(&sandbox, &token, delete, json!({"j": client, "i": {"lineItemIds": []}})).await;
    assert_eq!(
        r.json["data"]["jobDeleteLineItems"]["userErrors"][0]["message"], "Job not found",
        "{}",
        r.text
    );

    // Another account sees none of it.
    let other = sandbox.issue_tokens_for(2).access_token;
    let r = gql(&sandbox, &other, JOB, json!({"id": job})).await;
    assert!(r.json["data"]["job"].is_null(), "{}", r.text);
}
