//! The dealer's catalog table, end to end: documents through `sj-poller --once` and `sj-worker`
//! into the sandbox's Jobber, priced by the rows of `catalogs.csv` beside the mapping table.
//! Expected amounts are computed here from the parsed document with plain decimal arithmetic,
//! not by the code under test.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use sj_shared::intake::DocumentReader;
use sj_shared::message::{QuoteRequest, Source, SourceKind};

use super::routing::{kitchen_with_po, quote_made_by_staff};
use super::worker::{admin, set_fault, Bridge};
use crate::support::samples;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn money(value: &Value) -> String {
    format!("{:.2}", value.as_f64().unwrap())
}

fn kitchen() -> QuoteRequest {
    let path = samples().join("saberis/kitchen-harbour-lane.xml");
    let reader = DocumentReader::default();
    let bytes = reader.read_file(&path).unwrap();
    reader.quote_request(&bytes, None, Source::now(SourceKind::File, "kitchen.xml"), false).unwrap()
}

/// The test's catalog table: `catalogs.csv` beside its mapping table, as staff would save it.
fn catalogs_csv(bridge: &Bridge) -> std::path::PathBuf {
    bridge.mapping_csv().with_file_name("catalogs.csv")
}

/// HLX_26A1 at ×0.45, margin 35 %; HLX_HW26 at markup 10 % (on the selling price): each line's
/// (code, unit cost, unit price), and the order's MSRP, COGS and total.
fn expected(request: &QuoteRequest) -> (Vec<(String, String, String)>, Decimal, Decimal, Decimal) {
    let (mut lines, mut msrp, mut cogs, mut total) =
        (Vec::new(), Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for section in &request.sections {
        for line in &section.lines {
            let (cost, price) = match section.catalog.as_deref() {
                Some("HLX_26A1") => {
                    let cost = line.unit_list * d("0.45");
                    (cents(cost), cents(cost / d("0.65")))
                }
                Some("HLX_HW26") => (line.unit_cost, cents(line.unit_selling * d("1.10"))),
                other => panic!("unexpected catalog {other:?}"),
            };
            msrp += cents(line.quantity * line.unit_list);
            cogs += cents(line.quantity * cost);
            total += cents(line.quantity * price);
            lines.push((line.code.clone(), format!("{cost:.2}"), format!("{price:.2}")));
        }
    }
    (lines, msrp, cogs, total)
}

async fn sjctl_json(bridge: &Bridge, args: &[&str]) -> Vec<Value> {
    let out = bridge.command("sjctl", "sjctl").args(args).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn items(quote: &Value) -> Vec<Value> {
    let mut items = quote["line_items"].as_array().unwrap().clone();
    items.sort_by_key(|i| i["sort_order"].as_i64());
    items
}

/// A bridge whose catalog table is read again within a second (a person's edit is seen at once).
async fn bridge(test: &str, presentation: &str) -> Bridge {
    let mut bridge = Bridge::start(test).await;
    bridge.env.push(("SJ_PRICING__UNPRICED_CATALOG".into(), "park".into()));
    bridge.env.push(("SJ_MAPPING__REFRESH".into(), "1s".into()));
    bridge.env.push(("SJ_QUOTE__PRESENTATION".into(), presentation.into()));
    bridge
}

const PRICED: &str = "catalog,brand,multiplier,margin,markup,updated_by,updated_at\n\
                      HLX_26A1,Harbour Lux,0.45,35%,,maria,2026-12-01\n\
                      HLX_HW*,Harbour Lux hardware,,,10,maria,2026-12-01\n";

#[tokio::test]
async fn an_unpriced_catalog_parks_its_document_until_staff_price_it_then_the_replay_is_priced_by_the_table()
{
    let mut bridge = bridge("cat-table", "lines").await;
    // Only HLX_26A1 is priced; HLX_HW26 has no row yet.
    std::fs::write(
        catalogs_csv(&bridge),
        "catalog,brand,multiplier,margin,markup,updated_by,updated_at\n\
                                           HLX_26A1,Harbour Lux,0.45,35%,,maria,2026-12-01\n",
    )
    .unwrap();
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    let parked = bridge.ns.topology.parked_queue();
    bridge.wait_until("the document parked", || async { bridge.ns.peek_count(&parked).await == 1 }).await;
    let listed = sjctl_json(&bridge, &["dlq", "list", "--json"]).await;
    assert_eq!(listed[0]["kind"], "pricing.unpriced-catalog", "{listed:?}");
    let reason = listed[0]["reason"].as_str().unwrap();
    assert!(reason.contains("HLX_HW26 (no row in the catalog table)"), "{reason}");
    assert!(reason.contains("catalogs.csv"), "the reason names the table: {reason}");
    assert!(bridge.quotes().await.is_empty(), "nothing written");
    // The bridge appended a blank row for the new catalog, once, for staff to fill in.
    let table = std::fs::read_to_string(catalogs_csv(&bridge)).unwrap();
    assert_eq!(table.matches("HLX_HW26,,,,,auto,").count(), 1, "{table}");

    // Staff price it (the later row of a name wins over the blank one) and replay the document.
    std::fs::write(
        catalogs_csv(&bridge),
        format!("{table}HLX_HW26,Harbour Lux hardware,,,10,maria,2026-12-08\n"),
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let out = bridge.command("sjctl", "sjctl").args(["dlq", "replay", "--all"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;

    let request = kitchen();
    let (lines, _, _, total) = expected(&request);
    let quote = &bridge.quotes().await[0];
    let got: Vec<(String, String, String)> = items(quote)
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_owned(), money(&i["unit_cost"]), money(&i["unit_price"])))
        .collect();
    assert_eq!(got, lines);
    assert_eq!(money(&quote["amounts"]["total"]), format!("{total:.2}"));
    // Both catalogs really moved: the table's margin and its markup.
    assert!(lines.iter().any(|(_, cost, price)| d(price) > d(cost) * d("1.5")));
    bridge.stop().await;
}

#[tokio::test]
async fn msrp_and_discount_lines_show_the_list_price_and_add_up_to_the_customer_total() {
    let mut bridge = bridge("cat-msrp", "msrp-discount").await;
    std::fs::write(catalogs_csv(&bridge), PRICED).unwrap();
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    let (_, msrp, cogs, total) = expected(&kitchen());
    let quote = &bridge.quotes().await[0];
    let got: Vec<(String, String)> = items(quote)
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_owned(), money(&i["unit_price"])))
        .collect();
    assert_eq!(got.len(), 3, "an MSRP line per catalog, then the discount: {got:?}");
    assert!(got[..2].iter().all(|(name, _)| name == "Made-to-Order Cabinetry - MSRP"));
    assert_eq!(got[2].0, "Made-to-Order Cabinetry \u{2013} Sale Discount");
    let msrp_lines: Decimal = got[..2].iter().map(|(_, p)| d(p)).sum();
    assert_eq!(msrp_lines, msrp, "the MSRP lines hold Σ list × quantity");
    assert_eq!(d(&got[2].1), total - msrp, "the discount takes the MSRP down to the customer total");
    assert!(total < msrp, "the dealer sells below list here");
    let costs: Decimal = items(quote).iter().map(|i| d(&money(&i["unit_cost"]))).sum();
    assert_eq!(costs, cogs, "the MSRP lines carry the COGS");
    assert_eq!(money(&quote["amounts"]["total"]), format!("{total:.2}"));
    bridge.stop().await;
}

#[tokio::test]
async fn a_package_quote_is_one_line_at_the_customer_total() {
    let mut bridge = bridge("cat-package", "package").await;
    std::fs::write(catalogs_csv(&bridge), PRICED).unwrap();
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    let (_, _, cogs, total) = expected(&kitchen());
    let quote = &bridge.quotes().await[0];
    let items = items(quote);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Made-to-Order Cabinetry Package");
    assert_eq!(
        (money(&items[0]["unit_price"]), money(&items[0]["unit_cost"])),
        (format!("{total:.2}"), format!("{cogs:.2}"))
    );
    assert_eq!(money(&quote["amounts"]["total"]), format!("{total:.2}"));
    bridge.stop().await;
}

/// A quote made by staff from the dealer's retail template (an MSRP line and a discount line at
/// 0, and a line of their own); returns its number.
async fn template_quote(bridge: &Bridge) -> String {
    let line = |name: &str, price: u32| json!({"name": name, "quantity": 1, "unitPrice": price, "saveToProductsAndServices": false});
    let mut msrp = line("Made-to-Order Cabinetry - MSRP", 0);
    msrp["description"] = json!("Cabinetry at the maker's list price");
    let lines =
        json!([line("Design visit", 150), msrp, line("Made-to-Order Cabinetry \u{2013} Sale Discount", 0)]);
    quote_made_by_staff(bridge, "Kitchen (retail template)", lines).await
}

#[tokio::test]
async fn a_template_quotes_lines_are_filled_once_even_when_the_document_comes_twice_and_undo_puts_them_back()
{
    let mut bridge = bridge("cat-template", "msrp-discount").await;
    bridge.env.push(("SJ_QUOTE__MSRP_LINES".into(), "order".into()));
    std::fs::write(catalogs_csv(&bridge), PRICED).unwrap();
    let number = template_quote(&bridge).await;
    bridge.start_consuming_worker().await;
    // Jobber fills the lines, but its answer never reaches the worker.
    set_fault(
        &bridge.sandbox,
        json!({"route": "/api/graphql", "body_contains": "quoteEditLineItems", "lose_response_next": 1}),
    )
    .await;
    kitchen_with_po(&bridge, &format!("Q#{number}"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the filled lines found by their marker", || async {
            bridge.worker_log_lines(&["already in Jobber", "\"by_marker\":true"]) == 1
        })
        .await;
    let (_, msrp, cogs, total) = expected(&kitchen());
    let check = |quote: &Value| {
        let got: Vec<(String, String, String)> = items(quote)
            .iter()
            .map(|i| {
                (i["name"].as_str().unwrap().to_owned(), money(&i["unit_price"]), money(&i["unit_cost"]))
            })
            .collect();
        assert_eq!(
            got,
            [
                ("Design visit".to_owned(), "150.00".to_owned(), "0.00".to_owned()),
                ("Made-to-Order Cabinetry - MSRP".to_owned(), format!("{msrp:.2}"), format!("{cogs:.2}")),
                (
                    "Made-to-Order Cabinetry \u{2013} Sale Discount".to_owned(),
                    format!("{:.2}", total - msrp),
                    "0.00".to_owned()
                ),
            ],
            "the template's lines filled, nothing added"
        );
        assert_eq!(money(&quote["amounts"]["total"]), format!("{:.2}", total + d("150")));
        let msrp_line = &items(quote)[1];
        let description = msrp_line["description"].as_str().unwrap();
        assert!(
            description.starts_with("Cabinetry at the maker's list price\n"),
            "the template's text kept: {description}"
        );
        assert!(description.ends_with(']') && description.contains("[SJ-"), "{description}");
    };
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), 1, "no new quote");
    check(&quotes[0]);

    // A second copy of the document: nothing filled twice.
    kitchen_with_po(&bridge, &format!("Q#{number}"), "kitchen-again.xml");
    bridge.poll_once(&[("SJ_POLLER__SKIP_PUBLISHED", "false")]).await;
    bridge
        .wait_until("the second copy", || async { bridge.worker_log_lines(&["already in Jobber"]) == 2 })
        .await;
    check(&bridge.quotes().await[0]);

    // Undo puts the template's lines back as staff made them.
    let out = bridge
        .command("sjctl", "sjctl")
        .args(["undo", "--file", "kitchen.xml", "--yes"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let quote = &bridge.quotes().await[0];
    let back: Vec<(String, String)> = items(quote)
        .iter()
        .map(|i| (i["description"].as_str().unwrap().to_owned(), money(&i["unit_price"])))
        .collect();
    assert_eq!(back[1], ("Cabinetry at the maker's list price".to_owned(), "0.00".to_owned()));
    assert_eq!(back[2], (String::new(), "0.00".to_owned()));
    bridge.stop().await;
}

/// `mapping.store = "sheets"`: the catalog table is the spreadsheet's `Catalogs` tab (the
/// default `mapping.sheets.catalog_tab`), beside the mapping's `Sheet1`.
#[tokio::test]
async fn with_the_sheet_store_the_catalogs_tab_prices_and_gets_a_catalogs_blank_row_once() {
    let mut bridge = bridge("cat-sheet", "lines").await;
    // HLX_HW26 has no row: its lines get pricing.markup_percent, so the documents are written.
    bridge.env.push(("SJ_PRICING__UNPRICED_CATALOG".into(), "default".into()));
    let keys = tempfile::tempdir().unwrap();
    super::matching::with_the_sheet_store(&mut bridge, &keys);
    // Staff add the Catalogs tab (the sandbox's "+" in the browser), HLX_26A1 priced.
    let tab = bridge.sandbox.url("/_admin/sheets/sandbox-mapping/Catalogs");
    let rows = json!([
        ["catalog", "brand", "multiplier", "margin", "markup", "updated_by", "updated_at"],
        ["HLX_26A1", "Harbour Lux", "0.45", "35%", "", "maria", "2026-12-01"]
    ]);
    assert!(reqwest::Client::new().put(&tab).json(&rows).send().await.unwrap().status().is_success());

    // Two orders of the kitchen (two POs), on two workers.
    kitchen_with_po(&bridge, "PO-1", "kitchen-1.xml");
    kitchen_with_po(&bridge, "PO-2", "kitchen-2.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(2);
    bridge.wait_until("both quotes", || async { bridge.quotes().await.len() == 2 }).await;

    // HLX_26A1's cabinets at the tab's ×0.45, margin 35 %; HLX_HW26's by the default markup.
    let (lines, _, _, _) = expected(&kitchen());
    let by_table: Vec<&(String, String, String)> = lines.iter().take(3).collect();
    assert_eq!(
        by_table.iter().map(|(code, _, _)| code.as_str()).collect::<Vec<_>>(),
        ["B24", "SB36", "W3030"]
    );
    for quote in bridge.quotes().await {
        let got: Vec<(String, String, String)> = items(&quote)
            .iter()
            .map(|i| {
                (i["name"].as_str().unwrap().to_owned(), money(&i["unit_cost"]), money(&i["unit_price"]))
            })
            .collect();
        assert_eq!(got.iter().take(3).collect::<Vec<_>>(), by_table, "priced by the sheet's row");
        assert_eq!(got.len(), 5, "{got:?}");
    }

    // The catalog without a row got one blank row, appended once to the Catalogs tab; the
    // mapping's tab got the new client's row, and no catalog row.
    let catalogs = admin(&bridge.sandbox, "/_admin/sheets/sandbox-mapping/Catalogs").await;
    assert_eq!(catalogs.len(), 3, "header, maria's row, the bridge's: {catalogs:?}");
    assert_eq!(catalogs[1], rows[1], "maria's row as she left it");
    let appended: Vec<&str> = catalogs[2].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(appended[..6], ["HLX_HW26", "", "", "", "", "auto"], "{appended:?}");
    let mapping = admin(&bridge.sandbox, "/_admin/sheets/sandbox-mapping/Sheet1").await;
    assert!(mapping.iter().all(|row| row[0] != json!("HLX_HW26")), "{mapping:?}");
    assert!(mapping.iter().any(|row| row[0] == json!("name:harbour lane builders")), "{mapping:?}");
    bridge.stop().await;
}
