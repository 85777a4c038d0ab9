//! PO routing: a document whose PO number names an existing Jobber quote (`Q#123`) adds its lines
//! to that quote, once, whatever is lost on the way.

use serde_json::{json, Value};
use sj_shared::amqp::headers;

use super::worker::{admin, set_fault, Bridge};
use crate::support::samples;

/// A client of the bridge's tests at an address no sample names (Aspen Ridge Homes), made by a
/// person in Jobber: its id and its property's.
pub(crate) async fn aspen_ridge_client(bridge: &Bridge) -> (Value, Value) {
    let token = bridge.sandbox.issue_tokens().access_token;
    let reply = crate::sandbox::gql(
        &bridge.sandbox,
        &token,
        "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id properties { id } } } }",
        json!({"input": {"companyName": "Aspen Ridge Homes", "isCompany": true,
            "properties": [{"address": {"street1": "1410 Aspen Ridge Ct", "city": "Bozeman", "postalCode": "59718"}}]}}),
    )
    .await;
    let client = &reply.json["data"]["clientCreate"]["client"];
    (client["id"].clone(), client["properties"][0]["id"].clone())
}

/// A quote for that client, made by a person in Jobber with these line items (`QuoteCreateLineItemAttributes`);
/// returns its quote number.
pub(crate) async fn quote_made_by_staff(bridge: &Bridge, title: &str, line_items: Value) -> String {
    let (client, property) = aspen_ridge_client(bridge).await;
    let reply = crate::sandbox::gql(
        &bridge.sandbox,
        &bridge.sandbox.issue_tokens().access_token,
        "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { quoteNumber } userErrors { message } } }",
        json!({"a": {"clientId": client, "propertyId": property, "title": title, "lineItems": line_items}}),
    )
    .await;
    reply.json["data"]["quoteCreate"]["quote"]["quoteNumber"].as_str().expect(&reply.text).to_owned()
}

/// A client with a quote of one line, made by a person in Jobber; returns its quote number.
pub(crate) async fn existing_quote(bridge: &Bridge) -> String {
    let design = json!([{"name": "Design visit", "quantity": 1, "unitPrice": 150, "saveToProductsAndServices": false}]);
    quote_made_by_staff(bridge, "Kitchen remodel", design).await
}

/// The namespace's parked messages, drained: (error kind, reason), sorted.
pub(crate) async fn drain_parked(bridge: &Bridge) -> Vec<(String, String)> {
    let mut parked: Vec<(String, String)> = bridge
        .ns
        .drain(&bridge.ns.topology.parked_queue())
        .await
        .iter()
        .map(|m| {
            let h = m.delivery.properties.headers();
            (
                headers::text(h, "sj-error-kind").unwrap_or_default(),
                headers::text(h, "sj-error").unwrap_or_default(),
            )
        })
        .collect();
    parked.sort();
    parked
}

/// The kitchen sample with its PO number replaced.
pub(crate) fn kitchen_with_po(bridge: &Bridge, po: &str, name: &str) {
    let kitchen = std::fs::read_to_string(samples().join("saberis/kitchen-harbour-lane.xml")).unwrap();
    std::fs::write(bridge.exports_incoming().join(name), kitchen.replace("PO-2231", po)).unwrap();
}

fn names(quote: &Value) -> Vec<String> {
    quote["line_items"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_po_naming_a_quote_adds_the_lines_to_it_once_even_when_the_answer_is_lost() {
    let mut bridge = Bridge::start("po-route").await;
    let number = existing_quote(&bridge).await;
    bridge.start_consuming_worker().await;
    // Jobber adds the lines, but its answer never reaches the worker.
    set_fault(
        &bridge.sandbox,
        json!({"route": "/api/graphql", "body_contains": "quoteCreateLineItems", "lose_response_next": 1}),
    )
    .await;
    kitchen_with_po(&bridge, &format!("q# {number}"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the lines found by their marker", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), 1, "no new quote");
    let lines = names(&quotes[0]);
    assert_eq!(lines, ["Design visit", "B24", "SB36", "W3030", "PULL-5\"", "TK8"], "added once, in order");
    let marked = quotes[0]["line_items"].as_array().unwrap().iter().skip(1).all(|l| {
        let description = l["description"].as_str().unwrap();
        description.ends_with(']') && description.contains("[SJ-")
    });
    assert!(marked, "every added line carries the marker: {}", quotes[0]);
    assert_eq!(admin(&bridge.sandbox, "/_admin/jobber/clients").await.len(), 1, "no client resolved or made");

    // The same document again, with Redis forgetting what was written: still nothing added twice.
    bridge.ns.forget_redis().await;
    kitchen_with_po(&bridge, &format!("q# {number}"), "kitchen-again.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the second look-up", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 2
        })
        .await;
    assert_eq!(names(&bridge.quotes().await[0]).len(), 6);

    // The history counts the update.
    let out = bridge.command("sjctl", "sjctl").args(["history", "--json"]).output().await.unwrap();
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        history["totals"]["updated"].as_u64(),
        Some(0),
        "the lost answer made it 'unchanged': {history}"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn lines_added_by_po_count_as_updated_and_a_po_naming_no_quote_is_parked() {
    let mut bridge = Bridge::start("po-missing").await;
    let number = existing_quote(&bridge).await;
    kitchen_with_po(&bridge, &format!("Q#{number}"), "kitchen.xml");
    kitchen_with_po(&bridge, "Q#9999", "kitchen-9999.xml");
    // Beyond GraphQL's Int (Jobber's quote numbers): no such quote either, not a refused request.
    kitchen_with_po(&bridge, "Q#3000000000", "kitchen-big.xml");
    // A PO that is no quote reference goes the usual way: a new quote.
    kitchen_with_po(&bridge, "PO-77", "kitchen-po77.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    let queue = bridge.ns.topology.parked_queue();
    bridge.wait_until("the parked documents", || async { bridge.ns.peek_count(&queue).await >= 2 }).await;
    bridge.wait_until("the new quote", || async { bridge.quotes().await.len() == 2 }).await;
    let reasons = drain_parked(&bridge).await;
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    for (kind, reason) in &reasons {
        assert_eq!(kind, "routing.quote-missing", "{reason}");
    }
    assert!(reasons[0].1.contains("Q#3000000000") && reasons[0].1.contains("#3000000000"), "{reasons:?}");
    assert!(reasons[1].1.contains("Q#9999") && reasons[1].1.contains("#9999"), "{reasons:?}");
    bridge
        .wait_until("the update in history", || async {
            let out = bridge.command("sjctl", "sjctl").args(["history", "--json"]).output().await.unwrap();
            let history: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            history["totals"]["updated"].as_u64() == Some(1)
        })
        .await;
    let routed = bridge.quotes().await.into_iter().find(|q| q["quote_number"] == json!(number)).unwrap();
    assert_eq!(names(&routed).len(), 6);
    bridge.stop().await;
}

#[tokio::test]
async fn a_po_that_came_to_name_the_documents_own_quote_adds_nothing() {
    // The PO names quote #1 before it exists; with po_quote_missing = "create" the bridge creates
    // a quote for it, and that new quote is #1. Sent again (Redis forgetting what was written),
    // the PO now names the document's own quote: nothing is added to it.
    let mut bridge = Bridge::start("po-own").await;
    bridge.env.push(("SJ_QUOTE__PO_QUOTE_MISSING".into(), "create".into()));
    bridge.start_consuming_worker().await;
    kitchen_with_po(&bridge, "Q#1", "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.wait_until("the new quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(bridge.quotes().await[0]["quote_number"], json!("1"));

    bridge.ns.forget_redis().await;
    kitchen_with_po(&bridge, "Q#1", "kitchen-again.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the second look-up", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), 1);
    assert_eq!(names(&quotes[0]).len(), 5, "the kitchen's five lines, once");
    bridge.stop().await;
}
