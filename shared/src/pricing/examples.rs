//! Small documents to price, built in code: what the tests of pricing (here) and of the quote's
//! presentation (the worker's `quote` module) price and compare to the cent. Not used by the
//! bridge itself.

use rust_decimal::Decimal;

use crate::message::{Line, QuoteRequest, Section, SCHEMA};

fn d(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

/// A product line of `quantity` at these unit prices (decimal text), its description its code.
pub fn line(code: &str, quantity: &str, list: &str, selling: &str, cost: &str) -> Line {
    Line {
        line_id: None,
        code: code.to_owned(),
        options: Vec::new(),
        description: code.to_owned(),
        notes: Vec::new(),
        quantity: d(quantity),
        unit_list: d(list),
        unit_selling: d(selling),
        unit_cost: d(cost),
        sku: None,
        product_type: None,
        product_code: None,
        uom: None,
        manufacturer_part_number: None,
        manufacturer_sku: None,
        volume: None,
        weight: None,
    }
}

/// A section of `catalog` (none: lines before any `Catalog=`) without settings.
pub fn section(catalog: Option<&str>, lines: Vec<Line>) -> Section {
    Section { catalog: catalog.map(str::to_owned), settings: Vec::new(), lines }
}

/// A request of these sections and nothing else (no customer, no shipping address), from
/// `kitchen.xml`; `totals.product_lines` counts the lines.
pub fn request_of(sections: Vec<Section>) -> QuoteRequest {
    let json = serde_json::json!({
        "schema": SCHEMA,
        "source": {"kind": "folder", "id": "kitchen.xml", "received_at": "2026-01-01T00:00:00Z"},
        "content_hash": "sha256:ae87e3e6a8b257489c573e42f3d091545658a5780f05beef06309793d257eabd",
        "document": {"version": null, "module": null, "date": null, "order_number": null, "type": null,
                     "username": null, "store_number": null, "salesperson": null},
        "customer": {"number": null, "po_number": null, "name": null,
                     "address": {"street1": null, "street2": null, "city": null, "province": null,
                                 "postal_code": null, "country": null}},
        "shipping": {"street1": null, "street2": null, "city": null, "province": null,
                     "postal_code": null, "country": null},
        "sections": [],
        "totals": {"list": "0", "selling": "0", "cost": "0", "quantity": "0", "product_lines": 0}
    });
    let mut request: QuoteRequest = serde_json::from_value(json).expect("a request");
    request.totals.product_lines = sections.iter().map(|s| s.lines.len() as u32).sum();
    request.sections = sections;
    request
}
