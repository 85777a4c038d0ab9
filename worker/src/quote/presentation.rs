//! The two presentations that show the customer the maker's list price rather than a price per
//! cabinet (`quote.presentation`), from the document priced once:
//!
//! - `msrp-discount`: a line per catalog (or one for the order, `quote.msrp_lines = "order"`) at
//!   MSRP (Σ list × quantity) with its COGS as unit cost, then one discount line at customer total
//!   − MSRP (negative when the dealer sells below list): the lines add up to the customer total.
//! - `package`: one line at the customer total, its unit cost the order's COGS.
//!
//! Both are what the dealer's retail quote template holds (docs/pricing.md): a PO-routed
//! document fills the template's lines of these names instead of adding new ones.

use rust_decimal::Decimal;
use sj_shared::config::MsrpLines;
use sj_shared::jobber::ops::LineItemInput;
use sj_shared::pricing::PricedDocument;

use super::{float, money, QuoteRules};

fn line(name: &str, description: String, unit_price: Decimal, unit_cost: Decimal) -> LineItemInput {
    LineItemInput {
        name: name.to_owned(),
        description,
        quantity: 1.0,
        unit_price: float(unit_price),
        unit_cost: float(unit_cost),
        save_to_products_and_services: false,
    }
}

/// `Kitchen Craft: KWP_25D1 (12 items)`.
fn catalog_text(priced: &PricedDocument<'_>, index: usize) -> String {
    let c = &priced.catalogs[index];
    let items = if c.lines == 1 { "1 item".to_owned() } else { format!("{} items", c.lines) };
    format!("{} ({items})", c.label())
}

/// The catalogs, one per line.
fn catalogs_text(priced: &PricedDocument<'_>) -> String {
    (0..priced.catalogs.len()).map(|i| catalog_text(priced, i)).collect::<Vec<_>>().join("\n")
}

pub(super) fn msrp_discount(rules: &QuoteRules, priced: &PricedDocument<'_>) -> Vec<LineItemInput> {
    let mut items: Vec<LineItemInput> = match rules.msrp_lines {
        MsrpLines::Catalog => (0..priced.catalogs.len())
            .map(|i| {
                let c = &priced.catalogs[i];
                line(&rules.msrp_line_name, catalog_text(priced, i), c.msrp, c.cogs)
            })
            .collect(),
        MsrpLines::Order => {
            vec![line(&rules.msrp_line_name, catalogs_text(priced), priced.msrp, priced.cogs)]
        }
    };
    let discount = priced.total - priced.msrp;
    let percent = if priced.msrp.is_zero() {
        Decimal::ZERO
    } else {
        (-discount * Decimal::ONE_HUNDRED / priced.msrp).round_dp(1).normalize()
    };
    items.push(line(
        &rules.discount_line_name,
        format!("Your price {} (MSRP {} less {percent} %)", money(priced.total), money(priced.msrp)),
        discount,
        Decimal::ZERO,
    ));
    items
}

pub(super) fn package(rules: &QuoteRules, priced: &PricedDocument<'_>) -> Vec<LineItemInput> {
    vec![line(&rules.package_line_name, catalogs_text(priced), priced.total, priced.cogs)]
}

/// Σ quantity × unit price of line items, each to the cent: what Jobber will show as the total.
pub fn lines_of(items: &[LineItemInput]) -> Decimal {
    items
        .iter()
        .map(|i| {
            let q = Decimal::try_from(i.quantity).unwrap_or_default();
            let p = Decimal::try_from(i.unit_price).unwrap_or_default();
            sj_shared::pricing::line_total(q, p)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sj_shared::config::{Presentation, PricingSettings, QuoteSettings};
    use sj_shared::message::{Line, QuoteRequest};
    use sj_shared::pricing::{examples, price, CatalogTable};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A line at its list price, of no cost in the document.
    fn line(code: &str, quantity: &str, list: &str) -> Line {
        examples::line(code, quantity, list, list, "0")
    }

    /// The worked example of docs/pricing.md: two catalogs, one by multiplier and margin, one
    /// by markup.
    fn example() -> (QuoteRequest, CatalogTable) {
        let request = examples::request_of(vec![
            examples::section(
                Some("KWP_25D1"),
                vec![line("B24", "2", "700.00"), line("W3030", "1", "389.50")],
            ),
            examples::section(Some("FWA0724B (Galaxy)"), vec![line("DB30", "1", "1300.00")]),
        ]);
        let cells: Vec<(usize, Vec<String>)> = [
            vec!["catalog", "brand", "multiplier", "margin", "markup"],
            vec!["KWP_*", "Kitchen Craft", "0.42", "35%", ""],
            vec!["FWA0724B", "Fabuwood", "0.5", "0.4", ""],
        ]
        .iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r.iter().map(|c| c.to_string()).collect()))
        .collect();
        (request, CatalogTable::from_cells(&cells).unwrap())
    }

    fn rules(presentation: Presentation, msrp_lines: MsrpLines) -> QuoteRules {
        let quote = QuoteSettings { presentation, msrp_lines, ..QuoteSettings::default() };
        QuoteRules::new(&PricingSettings::default(), &quote).unwrap()
    }

    #[test]
    fn msrp_and_discount_lines_add_up_to_the_customer_total() {
        let (request, table) = example();
        let priced = price(&PricingSettings::default(), &table, &request).unwrap();
        // KWP: 452.31 × 2 + 251.68 = 1156.30; FWA: 650.00 ÷ 0.6 = 1083.33
        assert_eq!(priced.total, d("2239.63"));
        assert_eq!(priced.msrp, d("3089.50"));
        let items = super::super::line_items(&rules(Presentation::MsrpDiscount, MsrpLines::Catalog), &priced);
        let view: Vec<(&str, f64, f64)> =
            items.iter().map(|i| (i.name.as_str(), i.unit_price, i.unit_cost)).collect();
        assert_eq!(
            view,
            [
                ("Made-to-Order Cabinetry - MSRP", 1789.5, 751.59),
                ("Made-to-Order Cabinetry - MSRP", 1300.0, 650.0),
                ("Made-to-Order Cabinetry \u{2013} Sale Discount", -849.87, 0.0),
            ]
        );
        assert_eq!(items[0].description, "Kitchen Craft: KWP_25D1 (2 items)");
        assert_eq!(items[2].description, "Your price 2239.63 (MSRP 3089.50 less 27.5 %)");
        assert_eq!(lines_of(&items), priced.total);

        let order = super::super::line_items(&rules(Presentation::MsrpDiscount, MsrpLines::Order), &priced);
        assert_eq!(order.len(), 2);
        assert_eq!((order[0].unit_price, order[0].unit_cost), (3089.5, 1401.59));
        assert_eq!(
            order[0].description,
            "Kitchen Craft: KWP_25D1 (2 items)\nFabuwood: FWA0724B (Galaxy) (1 item)"
        );
        assert_eq!(lines_of(&order), priced.total);
    }

    #[test]
    fn a_package_is_one_line_at_the_customer_total() {
        let (request, table) = example();
        let priced = price(&PricingSettings::default(), &table, &request).unwrap();
        let items = super::super::line_items(&rules(Presentation::Package, MsrpLines::Catalog), &priced);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].name, "Made-to-Order Cabinetry Package");
        assert_eq!((items[0].quantity, items[0].unit_price, items[0].unit_cost), (1.0, 2239.63, 1401.59));
        assert_eq!(lines_of(&items), priced.total);
    }
}
