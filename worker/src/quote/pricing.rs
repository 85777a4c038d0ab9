//! The dealer's prices (`[pricing]`): each product line's unit price from the document's, with
//! the catalog's markup, rounded by the dealer's rule; and the quote's total as Jobber will show
//! it. Exact decimal arithmetic throughout: floats appear only in the JSON sent to Jobber.
//!
//! Depends on nothing but `sj_shared` and `rust_decimal`, so it can move to the shared library
//! as it is when another binary (sjctl) needs the expected totals.

use rust_decimal::{Decimal, RoundingStrategy};
use sj_shared::config::{PriceField, PricingSettings, Rounding};
use sj_shared::message::{Line, QuoteRequest, Section};

/// One product line with the dealer's prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced<'a> {
    pub section: &'a Section,
    pub line: &'a Line,
    /// The markup applied, in percent.
    pub markup: Decimal,
    pub unit_price: Decimal,
    /// The document's cost, or zero when `pricing.unit_cost` is off.
    pub unit_cost: Decimal,
}

impl Priced<'_> {
    /// quantity × unit price, to the cent (half away from zero), as Jobber computes a line.
    pub fn total(&self) -> Decimal {
        line_total(self.line.quantity, self.unit_price)
    }
}

/// Every product line of the document, in document order, priced.
pub fn price<'a>(settings: &PricingSettings, request: &'a QuoteRequest) -> Vec<Priced<'a>> {
    request
        .sections
        .iter()
        .flat_map(|section| {
            let markup = settings.markup_for(section.catalog.as_deref());
            section.lines.iter().map(move |line| Priced {
                section,
                line,
                markup,
                unit_price: unit_price(settings, markup, line),
                unit_cost: if settings.unit_cost { line.unit_cost } else { Decimal::ZERO },
            })
        })
        .collect()
}

/// round(base × (1 + markup / 100)) to a multiple of `round_to`, by the dealer's rule.
pub fn unit_price(settings: &PricingSettings, markup: Decimal, line: &Line) -> Decimal {
    let base = match settings.price_field {
        PriceField::Selling => line.unit_selling,
        PriceField::List => line.unit_list,
    };
    let marked_up = base + base * markup / Decimal::ONE_HUNDRED;
    round_to(marked_up, settings.round_to, settings.rounding)
}

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

/// The quote's total with the dealer's prices: the sum of the lines' totals (header lines count
/// nothing), as Jobber will compute it.
pub fn quote_total(settings: &PricingSettings, request: &QuoteRequest) -> Decimal {
    let mut total: Decimal = price(settings, request).iter().map(Priced::total).sum();
    total.rescale(2);
    total
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn r(value: &str, increment: &str, rule: Rounding) -> String {
        round_to(d(value), d(increment), rule).to_string()
    }

    pub(crate) fn line(code: &str, quantity: &str, list: &str, selling: &str, cost: &str) -> Line {
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
            ..PricingSettings::default()
        }
    }

    #[test]
    fn markups_default_and_per_catalog() {
        let b24 = line("B24", "2", "700.00", "612.40", "400.00");
        assert_eq!(unit_price(&settings("0", &[]), d("0"), &b24), d("612.40"));
        // 612.40 × 1.35 = 826.74
        assert_eq!(unit_price(&settings("0", &[]), d("35"), &b24), d("826.74"));
        // 612.40 × 1.125 = 688.95
        assert_eq!(unit_price(&settings("0", &[]), d("12.5"), &b24), d("688.95"));
        // 612.40 × 0.9 = 551.16 (a discount)
        assert_eq!(unit_price(&settings("0", &[]), d("-10"), &b24), d("551.16"));
        // 9.85 × 1.333 = 13.13005 → 13.13
        let pull = line("PULL", "14", "9.85", "9.85", "9.85");
        assert_eq!(unit_price(&settings("0", &[]), d("33.3"), &pull), d("13.13"));

        let request = request_of(vec![
            section(Some("KWP_24C1"), vec![b24.clone()]),
            section(Some("FWA0724B (Galaxy)"), vec![pull.clone()]),
            section(None, vec![line("X", "1", "10", "10", "5")]),
        ]);
        let s = settings("10", &[("kwp_24c1", "35"), ("FWA0724B", "50")]);
        let priced = price(&s, &request);
        let prices: Vec<(Decimal, Decimal)> = priced.iter().map(|p| (p.markup, p.unit_price)).collect();
        assert_eq!(
            prices,
            [(d("35"), d("826.74")), (d("50"), d("14.78")), (d("10"), d("11.00"))],
            "9.85 × 1.5 = 14.775 → 14.78; the line without catalog gets the default"
        );
        // 2 × 826.74 + 14 × 14.78 + 11.00
        assert_eq!(quote_total(&s, &request), d("1871.40"));
        assert_eq!(quote_total(&s, &request).to_string(), "1871.40");
    }

    #[test]
    fn list_or_selling_and_the_cost_on_or_off() {
        let b24 = line("B24", "2", "700.00", "612.40", "400.00");
        let request = request_of(vec![section(Some("A"), vec![b24])]);
        let mut s = settings("10", &[]);
        assert_eq!(price(&s, &request)[0].unit_price, d("673.64"));
        assert_eq!(price(&s, &request)[0].unit_cost, d("400.00"), "the cost is never marked up");
        s.price_field = PriceField::List;
        assert_eq!(price(&s, &request)[0].unit_price, d("770.00"));
        s.unit_cost = false;
        assert_eq!(price(&s, &request)[0].unit_cost, Decimal::ZERO);
        assert_eq!(quote_total(&s, &request), d("1540.00"));
    }

    #[test]
    fn line_totals_are_rounded_to_the_cent_as_jobber_does() {
        assert_eq!(line_total(d("1.5"), d("0.25")), d("0.38"));
        assert_eq!(line_total(d("3"), d("0.125")), d("0.38"));
        assert_eq!(line_total(d("2"), d("612.4")).to_string(), "1224.80");
    }

    pub(crate) fn section(catalog: Option<&str>, lines: Vec<Line>) -> Section {
        Section { catalog: catalog.map(str::to_owned), settings: Vec::new(), lines }
    }

    pub(crate) fn request_of(sections: Vec<Section>) -> QuoteRequest {
        let json = serde_json::json!({
            "schema": sj_shared::message::SCHEMA,
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
        let mut request: QuoteRequest = serde_json::from_value(json).unwrap();
        request.totals.product_lines = sections.iter().map(|s| s.lines.len() as u32).sum();
        request.sections = sections;
        request
    }
}
