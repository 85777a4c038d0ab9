//! `[pricing]` and `[quote]`: the dealer's prices and what the Jobber quote says.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `[pricing]`: from the document's prices to the quote's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingSettings {
    /// The document's price each line starts from: `selling` (Saberis' selling price, the
    /// default) or `list`.
    pub price_field: PriceField,
    /// Markup in percent on every line (`"0"`: the price as Saberis gives it).
    pub markup_percent: Decimal,
    /// Markup in percent per catalog (the `Catalog=` name, case-insensitive), in place of the
    /// default: dealers keep different margins per cabinet maker.
    pub catalog_markups: BTreeMap<String, Decimal>,
    /// Unit prices are rounded to a multiple of this (`"0.01"`: to the cent; `"0.05"`, `"1"`…).
    pub round_to: Decimal,
    /// `half-up` (the default), `half-even`, `up` or `down`.
    pub rounding: Rounding,
    /// Send the document's cost as each line's `unitCost` (Jobber shows the margin).
    pub unit_cost: bool,
}

impl Default for PricingSettings {
    fn default() -> Self {
        Self {
            price_field: PriceField::Selling,
            markup_percent: Decimal::ZERO,
            catalog_markups: BTreeMap::new(),
            round_to: Decimal::new(1, 2),
            rounding: Rounding::HalfUp,
            unit_cost: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceField {
    Selling,
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    HalfUp,
    HalfEven,
    Up,
    Down,
}

/// `[quote]`: what the quote says, and where its lines go.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuoteSettings {
    /// The quote's title: `{field}`s from the document; a `[…]` part is left out when a field in
    /// it is empty.
    pub title: String,
    /// The quote's message to the client, the same way.
    pub message: String,
    /// A zero-priced header line before each catalog's products, naming the catalog with its
    /// settings (door style, finish…).
    pub section_headers: bool,
    /// Option tags decoded in line descriptions: `{"10b" = "Finished end left"}`.
    pub tags: BTreeMap<String, String>,
    /// A `Customer.POnumber` matching this pattern names an existing Jobber quote (its first
    /// capture group is the quote number): the lines are added to that quote instead of a new
    /// one. Empty: off.
    pub po_quote_pattern: String,
    /// The PO names a quote Jobber does not have: `park` the document (the default) or `create`
    /// a new quote.
    pub po_quote_missing: PoQuoteMissing,
}

impl Default for QuoteSettings {
    fn default() -> Self {
        Self {
            title: "Cabinetry order[ {date}][ · PO {po_number}]".to_owned(),
            message: "{settings}".to_owned(),
            section_headers: false,
            tags: BTreeMap::new(),
            po_quote_pattern: r"(?i)^\s*Q\s*#?\s*(\d+)\s*$".to_owned(),
            po_quote_missing: PoQuoteMissing::Park,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoQuoteMissing {
    Park,
    Create,
}

impl PricingSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if self.round_to <= Decimal::ZERO {
            problems.push(format!(
                "pricing.round_to: {} must be above zero (\"0.01\" rounds to the cent)",
                self.round_to
            ));
        }
        let hundred = Decimal::ONE_HUNDRED;
        if self.markup_percent <= -hundred {
            problems.push(format!(
                "pricing.markup_percent: {} would make prices zero or negative",
                self.markup_percent
            ));
        }
        for (catalog, markup) in &self.catalog_markups {
            if *markup <= -hundred {
                problems.push(format!(
                    "pricing.catalog_markups.{catalog:?}: {markup} would make prices zero or negative"
                ));
            }
        }
    }
}

impl QuoteSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if !self.po_quote_pattern.is_empty() {
            match regex::Regex::new(&self.po_quote_pattern) {
                Ok(re) if re.captures_len() < 2 => problems.push(format!(
                    "quote.po_quote_pattern: {:?} needs a capture group for the quote number, as in \"^Q#(\\\\d+)$\"",
                    self.po_quote_pattern
                )),
                Ok(_) => {}
                Err(e) => problems.push(format!("quote.po_quote_pattern: not a valid pattern: {e}")),
            }
        }
    }
}
