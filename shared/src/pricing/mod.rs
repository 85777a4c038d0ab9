//! The dealer's prices: each catalog's rule (the catalog table, `pricing.catalog_markups`, the
//! default markup), each line's cost and price, and the order's totals, in exact decimal
//! arithmetic (floats appear only in the JSON sent to Jobber).
//!
//! - [`table`]: the catalog table's rows (multiplier and margin, or markup, per catalog);
//! - [`priced`]: a document priced once ([`price`]), which every presentation of the quote reads;
//! - [`examples`]: small documents to price, for the tests here and of the quote's presentation.
//!
//! A worked example (docs/pricing.md has it in full): a base cabinet listed at 700.00, its
//! catalog's row `multiplier 0.42, margin 35%`: unit cost = 700.00 × 0.42 = 294.00; unit price
//! = 294.00 ÷ (1 − 0.35) = 452.307… → 452.31 (to the cent, half up).

pub mod examples;
mod priced;
mod table;

pub use priced::{
    price, rule_for, AppliedRule, CatalogTotals, CatalogWithoutRule, PricedDocument, PricedLine, Unpriced,
};
pub use table::{
    catalog_header_of, CatalogHeader, CatalogLookup, CatalogRow, CatalogRule, CatalogTable, CATALOG_COLUMNS,
};

use rust_decimal::{Decimal, RoundingStrategy};

use crate::config::Rounding;

/// `value` rounded to a multiple of `increment` (above zero) by `rule`, written with at least
/// two decimals (`12.30`, `705.00`), more when the increment has more (`0.125`).
pub fn round_to(value: Decimal, increment: Decimal, rule: Rounding) -> Decimal {
    let strategy = match rule {
        Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
        Rounding::Up => RoundingStrategy::AwayFromZero,
        Rounding::Down => RoundingStrategy::ToZero,
    };
    let increment = increment.abs();
    let steps = match value.checked_div(increment) {
        Some(steps) => steps.round_dp_with_strategy(0, strategy),
        None => return value,
    };
    let mut rounded = (steps * increment).normalize();
    rounded.rescale(increment.normalize().scale().max(2));
    rounded
}

/// quantity × unit price to the cent, half away from zero: what Jobber shows for a line.
pub fn line_total(quantity: Decimal, unit_price: Decimal) -> Decimal {
    let mut total = (quantity * unit_price).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    total.rescale(2);
    total
}

#[cfg(test)]
mod tests {
    use super::examples::{line, request_of, section};
    use super::*;
    use crate::config::{PriceField, PricingSettings, UnpricedCatalog};
    use crate::message::Line;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn r(value: &str, increment: &str, rule: Rounding) -> String {
        round_to(d(value), d(increment), rule).to_string()
    }

    #[test]
    fn rounding_rules_to_the_cent() {
        use Rounding::*;
        assert_eq!(r("1.005", "0.01", HalfUp), "1.01");
        assert_eq!(r("1.005", "0.01", HalfEven), "1.00");
        assert_eq!(r("1.015", "0.01", HalfEven), "1.02");
        assert_eq!(r("1.001", "0.01", Up), "1.01");
        assert_eq!(r("1.009", "0.01", Down), "1.00");
        assert_eq!(r("1.004", "0.01", HalfUp), "1.00");
        assert_eq!(r("7", "0.01", HalfUp), "7.00");
        // Negative prices (sanity.allow_negative): half-up and up go away from zero.
        assert_eq!(r("-1.005", "0.01", HalfUp), "-1.01");
        assert_eq!(r("-1.001", "0.01", Up), "-1.01");
        assert_eq!(r("-1.009", "0.01", Down), "-1.00");
    }

    #[test]
    fn rounding_to_other_increments() {
        use Rounding::*;
        assert_eq!(r("12.324", "0.05", HalfUp), "12.30");
        assert_eq!(r("12.325", "0.05", HalfUp), "12.35");
        assert_eq!(r("12.375", "0.05", HalfEven), "12.40", "12.375 is 247.5 steps: to 248");
        assert_eq!(r("12.325", "0.05", HalfEven), "12.30", "246.5 steps: to 246");
        assert_eq!(r("12.301", "0.05", Up), "12.35");
        assert_eq!(r("704.50", "1", HalfUp), "705.00");
        assert_eq!(r("704.50", "1", HalfEven), "704.00");
        assert_eq!(r("704.01", "1", Up), "705.00");
        assert_eq!(r("704.99", "1", Down), "704.00");
        assert_eq!(r("1235", "10", HalfUp), "1240.00");
        assert_eq!(r("1234.5", "10", HalfUp), "1230.00");
        assert_eq!(r("0.0625", "0.125", HalfUp), "0.125");
        assert_eq!(r("0.0624", "0.125", HalfUp), "0.000");
        assert_eq!(r("0.1", "0.03", HalfUp), "0.09");
    }

    fn settings(markup: &str, markups: &[(&str, &str)]) -> PricingSettings {
        PricingSettings {
            markup_percent: d(markup),
            catalog_markups: markups.iter().map(|(k, v)| (k.to_string(), d(v))).collect(),
            unpriced_catalog: UnpricedCatalog::Default,
            ..PricingSettings::default()
        }
    }

    fn table(rows: &[&[&str]]) -> CatalogTable {
        let mut cells =
            vec![(1, ["catalog", "brand", "multiplier", "margin", "markup"].map(String::from).to_vec())];
        cells
            .extend(rows.iter().enumerate().map(|(i, r)| (i + 2, r.iter().map(|c| c.to_string()).collect())));
        CatalogTable::from_cells(&cells).unwrap()
    }

    fn unit_prices(priced: &PricedDocument) -> Vec<(Decimal, Decimal)> {
        priced.lines.iter().map(|l| (l.unit_cost, l.unit_price)).collect()
    }

    #[test]
    fn markups_default_and_per_catalog() {
        let b24 = line("B24", "2", "700.00", "612.40", "400.00");
        let pull = line("PULL", "14", "9.85", "9.85", "9.85");
        let one = |markup: &str, l: &Line| {
            let request = request_of(vec![section(None, vec![l.clone()])]);
            price(&settings(markup, &[]), &CatalogTable::default(), &request).unwrap().lines[0].unit_price
        };
        assert_eq!(one("0", &b24), d("612.40"));
        assert_eq!(one("35", &b24), d("826.74"), "612.40 × 1.35");
        assert_eq!(one("12.5", &b24), d("688.95"), "612.40 × 1.125");
        assert_eq!(one("-10", &b24), d("551.16"), "a discount");
        assert_eq!(one("33.3", &pull), d("13.13"), "9.85 × 1.333 = 13.13005");

        let request = request_of(vec![
            section(Some("KWP_24C1"), vec![b24.clone()]),
            section(Some("FWA0724B (Galaxy)"), vec![pull.clone()]),
            section(None, vec![line("X", "1", "10", "10", "5")]),
        ]);
        let s = settings("10", &[("kwp_24c1", "35"), ("FWA0724B", "50")]);
        let priced = price(&s, &CatalogTable::default(), &request).unwrap();
        let prices: Vec<Decimal> = priced.lines.iter().map(|p| p.unit_price).collect();
        assert_eq!(prices, [d("826.74"), d("14.78"), d("11.00")], "9.85 × 1.5 = 14.775 → 14.78");
        // 2 × 826.74 + 14 × 14.78 + 11.00
        assert_eq!(priced.total.to_string(), "1871.40");
        assert_eq!(priced.catalogs.len(), 3);
        assert_eq!(priced.catalogs[2].label(), "Other items");
        assert!(priced.defaulted.is_empty(), "the line of no catalog is no unpriced catalog");
    }

    #[test]
    fn list_or_selling_and_the_cost_on_or_off() {
        let b24 = line("B24", "2", "700.00", "612.40", "400.00");
        let request = request_of(vec![section(Some("A"), vec![b24])]);
        let mut s = settings("10", &[]);
        let first =
            |s: &PricingSettings| price(s, &CatalogTable::default(), &request).unwrap().lines[0].clone();
        assert_eq!(first(&s).unit_price, d("673.64"));
        assert_eq!(first(&s).unit_cost, d("400.00"), "the cost is never marked up");
        s.price_field = PriceField::List;
        assert_eq!(first(&s).unit_price, d("770.00"));
        s.unit_cost = false;
        assert_eq!(first(&s).unit_cost, Decimal::ZERO);
        assert_eq!(price(&s, &CatalogTable::default(), &request).unwrap().total, d("1540.00"));
    }

    /// The worked example of docs/pricing.md, by hand:
    /// - KWP_25D1 (row `KWP_*`: ×0.42, margin 35%):
    ///   B24 ×2, list 700.00: cost 294.00, price 294.00 ÷ 0.65 = 452.3077 → 452.31; line 904.62
    ///   W3030 ×1, list 389.50: cost 163.59, price 163.59 ÷ 0.65 = 251.6769… → 251.68
    ///   MSRP 2 × 700 + 389.50 = 1789.50; COGS 588.00 + 163.59 = 751.59; customer 1156.30
    /// - FWA0724B (Galaxy) (row `FWA0724B`: markup 30% on the selling price):
    ///   DB30 ×1, selling 1213.00 → 1576.90; cost as the document says, 600.00; MSRP 1300.00
    /// - order: MSRP 3089.50, COGS 1351.59, customer 2733.20, discount −356.30
    #[test]
    fn the_worked_example_of_the_docs() {
        let request = request_of(vec![
            section(
                Some("KWP_25D1"),
                vec![
                    line("B24", "2", "700.00", "612.40", "400.00"),
                    line("W3030", "1", "389.50", "389.50", "200"),
                ],
            ),
            section(Some("FWA0724B (Galaxy)"), vec![line("DB30", "1", "1300.00", "1213.00", "600.00")]),
        ]);
        let t =
            table(&[&["KWP_*", "Kitchen Craft", "0.42", "35%", ""], &["FWA0724B", "Fabuwood", "", "", "30"]]);
        let priced = price(&settings("0", &[]), &t, &request).unwrap();
        assert_eq!(
            unit_prices(&priced),
            [(d("294.00"), d("452.31")), (d("163.59"), d("251.68")), (d("600.00"), d("1576.90"))]
        );
        let kwp = &priced.catalogs[0];
        assert_eq!((kwp.msrp, kwp.cogs, kwp.customer), (d("1789.50"), d("751.59"), d("1156.30")));
        assert_eq!(kwp.label(), "Kitchen Craft: KWP_25D1");
        assert_eq!(kwp.rule.describe(), "table row 2 (KWP_*): ×0.42, margin 35%");
        assert_eq!(priced.catalogs[1].rule.describe(), "table row 3 (FWA0724B): markup 30%");
        assert_eq!((priced.msrp, priced.cogs, priced.total), (d("3089.50"), d("1351.59"), d("2733.20")));
        assert_eq!(priced.total.to_string(), "2733.20");
    }

    #[test]
    fn the_table_wins_over_the_settings_and_an_unpriced_catalog_parks_or_takes_the_default() {
        let request = request_of(vec![
            section(Some("KWP_25D1"), vec![line("B24", "1", "100.00", "90.00", "50.00")]),
            section(Some("Shaker (70000)"), vec![line("S1", "1", "100.00", "90.00", "50.00")]),
            section(Some("Decorative"), vec![line("D1", "1", "100.00", "90.00", "50.00")]),
        ]);
        let t = table(&[&["KWP_*", "", "0.5", "0.5", ""], &["Shaker", "", "0.5", "", ""]]);
        let mut s = settings("10", &[("KWP_25D1", "99")]);
        s.unpriced_catalog = UnpricedCatalog::Park;
        let unpriced = price(&s, &t, &request).unwrap_err();
        assert_eq!(
            unpriced.describe(),
            "Shaker (70000) (row 3 (Shaker): margin: blank; a multiplier needs a margin (as 0.35 or 35%)); \
             Decorative (no row in the catalog table)"
        );
        s.catalog_markups.insert("Decorative".into(), d("20"));
        s.catalog_markups.insert("Shaker".into(), d("5"));
        let priced = price(&s, &t, &request).unwrap();
        assert_eq!(
            unit_prices(&priced),
            [(d("50.00"), d("100.00")), (d("50.00"), d("94.50")), (d("50.00"), d("108.00"))],
            "the table's KWP_* over the setting's 99 %, the settings for the others"
        );
        s.catalog_markups.clear();
        s.unpriced_catalog = UnpricedCatalog::Default;
        let priced = price(&s, &t, &request).unwrap();
        assert_eq!(priced.defaulted, ["Shaker (70000)", "Decorative"]);
        assert_eq!(priced.lines[2].unit_price, d("99.00"));
    }

    #[test]
    fn line_totals_are_rounded_to_the_cent_as_jobber_does() {
        assert_eq!(line_total(d("1.5"), d("0.25")), d("0.38"));
        assert_eq!(line_total(d("3"), d("0.125")), d("0.38"));
        assert_eq!(line_total(d("2"), d("612.4")).to_string(), "1224.80");
    }
}
