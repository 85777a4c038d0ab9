//! The dealer's pricing rules and the quote's presentation, end to end: documents through
//! `sj-poller --once` and `sj-worker` into the sandbox's Jobber, compared with amounts computed
//! here from the parsed documents with plain decimal arithmetic (not by the code under test).

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use sj_shared::intake::DocumentReader;
use sj_shared::message::{QuoteRequest, Source, SourceKind};

use super::worker::Bridge;
use crate::support::{real_fixtures, samples};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Writes the test's configuration file and points every process of the bridge at it.
fn configure(bridge: &mut Bridge, dir: &tempfile::TempDir, toml: &str) {
    let path = dir.path().join("sj.toml");
    std::fs::write(&path, toml).unwrap();
    bridge.env.push(("SJ_CONFIG".into(), path.display().to_string()));
}

/// The markup this test expects for a catalog, written out by hand (the configuration below says
/// the same with a prefix rule, case and spaces).
fn expected_markup(catalog: Option<&str>) -> Decimal {
    match catalog {
        Some("KWP_24C1" | "KWP_25D1") => d("30"),
        Some("FWQ0724B") => d("25"),
        Some("QC19R1A") => d("18.25"),
        _ => d("12.5"),
    }
}

const FIXTURE_PRICING: &str = r#"
[pricing]
# markup_percent comes from the environment (SJ_PRICING__MARKUP_PERCENT)
rounding = "half-up"
round_to = "0.01"

[pricing.catalog_markups]
"KWP_*" = "30"
"fwq0724b" = 25
" QC19R1A " = "18.25"
"#;

/// Unit price and line total to the cent, half away from zero.
fn cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// What the quote of a document must hold: (name, unit price, unit cost) per line, and the total.
fn expected_quote(request: &QuoteRequest) -> (Vec<(String, String, String)>, String) {
    let mut lines = Vec::new();
    let mut total = Decimal::ZERO;
    for section in &request.sections {
        let markup = expected_markup(section.catalog.as_deref());
        for line in &section.lines {
            let price = cents(line.unit_selling * (Decimal::ONE + markup / Decimal::ONE_HUNDRED));
            total += cents(line.quantity * price);
            lines.push((line.code.clone(), format!("{price:.2}"), format!("{:.2}", line.unit_cost)));
        }
    }
    (lines, format!("{total:.2}"))
}

fn marker_of(quote: &Value) -> String {
    quote["custom_fields"][0]["value"]["text"].as_str().unwrap_or_default().to_owned()
}

fn line_items(quote: &Value) -> Vec<Value> {
    let mut items = quote["line_items"].as_array().unwrap().clone();
    items.sort_by_key(|i| i["sort_order"].as_i64());
    items
}

fn money(value: &Value) -> String {
    format!("{:.2}", value.as_f64().unwrap())
}

#[tokio::test]
async fn per_catalog_markups_on_the_real_fixtures_give_the_expected_amounts_to_the_cent() {
    let Some(fixtures) =
        real_fixtures("per_catalog_markups_on_the_real_fixtures_give_the_expected_amounts_to_the_cent")
    else {
        return;
    };
    let mut bridge = Bridge::start("pricing").await;
    let config = tempfile::tempdir().unwrap();
    let reader = DocumentReader::default();
    // marker → (document, expected lines, expected total), for every order with a customer.
    let mut expected = BTreeMap::new();
    // The markups that apply to priced lines: the test means something only if the documents'
    // prices really move by different markups.
    let mut markups = std::collections::BTreeSet::new();
    for dir in ["xml", "connect-json"] {
        for entry in std::fs::read_dir(fixtures.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{dir}-{}", path.file_name().unwrap().to_str().unwrap());
            bridge.add(&path, &name);
            let bytes = reader.read_file(&path).unwrap();
            let request =
                reader.quote_request(&bytes, None, Source::now(SourceKind::File, &name), false).unwrap();
            let has_customer = request.customer.name.is_some()
                || !request.shipping.is_empty()
                || !request.customer.address.is_empty();
            if has_customer {
                let hex = request.content_hash.hex();
                let marker = format!("SJ-{}", &hex[..12]);
                let (lines, total) = expected_quote(&request);
                let priced =
                    request.sections.iter().filter(|s| s.lines.iter().any(|l| !l.unit_selling.is_zero()));
                markups.extend(priced.map(|s| expected_markup(s.catalog.as_deref())));
                expected.insert(marker, (name, lines, total));
            }
        }
    }
    assert!(expected.len() >= 5, "the fixtures hold at least five orders with a customer");
    assert!(markups.len() >= 4, "priced lines under four different markups: {markups:?}");

    configure(&mut bridge, &config, FIXTURE_PRICING);
    bridge.env.push(("SJ_PRICING__MARKUP_PERCENT".into(), "12.5".into()));
    // The dealer accepts the catalog slips here and names address-only customers after the address.
    bridge.env.push(("SJ_SANITY__MAX_UNIT_PRICE".into(), "off".into()));
    bridge.env.push(("SJ_MAPPING__UNNAMED_CUSTOMER".into(), "create-from-address".into()));
    bridge.poll_once(&[]).await;
    bridge.start_workers(2);
    bridge.wait_until("a quote per order", || async { bridge.quotes().await.len() >= expected.len() }).await;

    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), expected.len());
    let mut compared_lines = 0;
    for quote in &quotes {
        let marker = marker_of(quote);
        let (name, lines, total) =
            expected.get(&marker).unwrap_or_else(|| panic!("unexpected quote {marker}"));
        let got: Vec<(String, String, String)> = line_items(quote)
            .iter()
            .map(|i| {
                (i["name"].as_str().unwrap().to_owned(), money(&i["unit_price"]), money(&i["unit_cost"]))
            })
            .collect();
        assert_eq!(&got, lines, "line prices of {name}");
        assert_eq!(&money(&quote["amounts"]["total"]), total, "total of {name}");
        compared_lines += got.len();
    }
    assert!(compared_lines >= 80, "{compared_lines} lines compared");
    // The orders without any customer detail are parked, not guessed.
    bridge
        .wait_until("the customerless orders to be parked", || async {
            bridge.ns.peek_count(&bridge.ns.topology.parked_queue()).await >= 3
        })
        .await;
    bridge.stop().await;
}

#[tokio::test]
async fn pricing_title_message_tags_and_section_headers_as_the_sandbox_shows_them() {
    let mut bridge = Bridge::start("presentation").await;
    let config = tempfile::tempdir().unwrap();
    configure(
        &mut bridge,
        &config,
        r#"
[pricing]
round_to = "0.05"
rounding = "up"

[pricing.catalog_markups]
"hlx_26a1" = "20"

[quote]
title = "{customer_name}[ · PO {po_number}][ · {date}][ · order {order_number}]"
message = """
Thank you, {customer_name}. [[{catalogs}]]
{settings}
Total {total} for {product_lines} lines[ (salesperson {salesperson})]."""
section_headers = true

[quote.tags]
10b = "Finished end left"
"3C" = "Full-depth door"
"#,
    );
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    let quote = &bridge.quotes().await[0];

    assert_eq!(quote["title"], "Harbour Lane Builders · PO PO-2231 · 2026-03-14");
    // HLX_26A1 +20 %, rounded up to 0.05: 612.40 → 734.88 → 734.90; 701.15 → 841.38 → 841.40;
    // 388.00 → 465.60. HLX_HW26 as is: 9.85, 24.00.
    // Total: 2 × 734.90 + 841.40 + 2 × 465.60 + 14 × 9.85 + 3 × 24.00 = 3452.30
    assert_eq!(
        quote["message"],
        "Thank you, Harbour Lane Builders. [HLX_26A1, HLX_HW26]\n\
         HLX_26A1 — Pricelevel; Door Style: Shaker Flat (S200); Species / Finish: White Oak - Natural\n\
         HLX_HW26 — Hardware Finish: Matte Black\n\
         Total 3452.30 for 5 lines."
    );
    let items = line_items(quote);
    let got: Vec<(&str, &str, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap(),
                i["description"].as_str().unwrap(),
                format!("{}", i["quantity"].as_f64().unwrap()),
                money(&i["unit_price"]),
            )
        })
        .collect();
    let header_26 = "Pricelevel\nDoor Style: Shaker Flat (S200)\nSpecies / Finish: White Oak - Natural";
    assert_eq!(
        got,
        [
            ("HLX_26A1", header_26, "1".to_owned(), "0.00".to_owned()),
            ("B24", r#"18 Finished end left; HDS; W=24 " H=34 1/2 " D=24 ""#, "2".into(), "734.90".into()),
            (
                "SB36",
                r#"FD Full-depth door; REMOVE SHELF; W=36 " H=34 1/2 " D=24 ""#,
                "1".into(),
                "841.40".into()
            ),
            ("W3030", "L", "2".into(), "465.60".into()),
            ("HLX_HW26", "Hardware Finish: Matte Black", "1".into(), "0.00".into()),
            ("PULL-5\"", "MB", "14".into(), "9.85".into()),
            ("TK8", "", "3".into(), "24.00".into()),
        ]
    );
    assert!(items.iter().all(|i| i["save_to_products_and_services"] == Value::Bool(false)));
    assert_eq!(money(&items[0]["unit_cost"]), "0.00", "a header costs nothing");
    assert_eq!(money(&items[1]["unit_cost"]), "612.40", "the document's cost, never marked up");
    assert_eq!(money(&quote["amounts"]["total"]), "3452.30", "the headers count nothing");
    // The worker logs nothing about a refused configuration: the quote was written.
    assert!(bridge.ns.queue_empty(&bridge.ns.topology.parked_queue()).await);
    bridge.stop().await;
}

#[tokio::test]
async fn a_template_with_an_unknown_field_stops_the_worker_at_start_naming_the_key() {
    let bridge = Bridge::start("bad-template").await;
    let out = bridge
        .command("sj-worker", "sj-worker")
        .arg("--check-config")
        .env("SJ_QUOTE__TITLE", "Order[ {po_numbr}]")
        .env("SJ_PRICING__CATALOG_MARKUPS", r#"{"KWP_24C1"=30,"kwp_24c1"=31}"#)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("quote.title: unknown field {po_numbr} at character 8"), "{stderr}");
    assert!(stderr.contains("pricing.catalog_markups.\"kwp_24c1\": names the same catalog"), "{stderr}");
    bridge.stop().await;
}
