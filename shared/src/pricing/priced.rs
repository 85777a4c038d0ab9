//! A document priced once: each line's rule, cost and price; each catalog's MSRP, COGS and
//! customer total; the order's. Every presentation of the quote, its expected total, the
//! title's `{total}` and the review read from this one result.

use rust_decimal::Decimal;
use serde::Serialize;

use super::table::{CatalogLookup, CatalogRule, CatalogTable};
use super::{line_total, round_to};
use crate::config::{PriceField, PricingSettings, UnpricedCatalog};
use crate::message::{Line, QuoteRequest, Section};

/// Which rule priced a line, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "from")]
pub enum AppliedRule {
    /// A row of the catalog table (its catalog cell and row number).
    Table { key: String, row: usize, rule: CatalogRule },
    /// `pricing.catalog_markups` in the settings.
    Settings { key: String, markup: Decimal },
    /// `pricing.markup_percent`: a line of no catalog, or of an unpriced catalog with
    /// `pricing.unpriced_catalog = "default"`.
    Default { markup: Decimal },
}

impl AppliedRule {
    /// `table row 3 (KWP_*): ×0.42, margin 35%`: for logs and the review page.
    pub fn describe(&self) -> String {
        match self {
            AppliedRule::Table { key, row, rule: CatalogRule::MultiplierMargin { multiplier, margin } } => {
                format!(
                    "table row {row} ({key}): ×{multiplier}, margin {}%",
                    (margin * Decimal::ONE_HUNDRED).normalize()
                )
            }
            AppliedRule::Table { key, row, rule: CatalogRule::Markup { markup } } => {
                format!("table row {row} ({key}): markup {markup}%")
            }
            AppliedRule::Settings { key, markup } => {
                format!("pricing.catalog_markups.{key:?}: markup {markup}%")
            }
            AppliedRule::Default { markup } => format!("pricing.markup_percent: markup {markup}%"),
        }
    }
}

/// One product line with the dealer's prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine<'a> {
    pub section: &'a Section,
    pub line: &'a Line,
    /// Index into [`PricedDocument::catalogs`].
    pub catalog: usize,
    /// Per unit, to the cent: the dealer's cost (COGS), or 0 with `pricing.unit_cost = false`.
    pub unit_cost: Decimal,
    /// Per unit, rounded by the dealer's rule: what the customer pays.
    pub unit_price: Decimal,
    /// quantity × unit price, to the cent, as Jobber computes a line.
    pub total: Decimal,
    /// quantity × unit cost, to the cent.
    pub cost_total: Decimal,
    /// quantity × list price, to the cent.
    pub msrp: Decimal,
}

/// What one catalog (all sections of one catalog name) comes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogTotals {
    /// The catalog as the document names it (`None`: lines of no catalog).
    pub catalog: Option<String>,
    /// From the catalog table, when its row has one.
    pub brand: Option<String>,
    pub rule: AppliedRule,
    pub lines: usize,
    /// Σ quantity × list price.
    pub msrp: Decimal,
    /// Σ quantity × unit cost.
    pub cogs: Decimal,
    /// Σ line totals: what the customer pays for this catalog.
    pub customer: Decimal,
}

impl CatalogTotals {
    /// `Kitchen Craft: KWP_25D1`, or the catalog alone, or `Other items`.
    pub fn label(&self) -> String {
        match (&self.brand, &self.catalog) {
            (Some(brand), Some(catalog)) => format!("{brand}: {catalog}"),
            (None, Some(catalog)) => catalog.clone(),
            (_, None) => "Other items".to_owned(),
        }
    }
}

/// The document with the dealer's prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedDocument<'a> {
    pub request: &'a QuoteRequest,
    /// Every product line, in document order.
    pub lines: Vec<PricedLine<'a>>,
    /// One per catalog, in order of first appearance.
    pub catalogs: Vec<CatalogTotals>,
    pub msrp: Decimal,
    pub cogs: Decimal,
    /// The quote's total as Jobber will compute it: Σ line totals.
    pub total: Decimal,
    /// Catalogs priced by `pricing.markup_percent` for want of a rule
    /// (`pricing.unpriced_catalog = "default"`).
    pub defaulted: Vec<String>,
}

/// A catalog no rule prices, and why (the table's row that names it, if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogWithoutRule {
    pub catalog: String,
    pub why: String,
}

/// The document cannot be priced: its catalogs without a usable rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpriced {
    pub catalogs: Vec<CatalogWithoutRule>,
}

impl Unpriced {
    /// `KWP_25D1 (no row in the catalog table), Shaker (row 6 (Shaker): margin: …)`.
    pub fn describe(&self) -> String {
        self.catalogs.iter().map(|c| format!("{} ({})", c.catalog, c.why)).collect::<Vec<_>>().join("; ")
    }
}

fn cents(mut value: Decimal) -> Decimal {
    value = value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    value.rescale(2);
    value
}

/// The rule for a section's catalog: the table's usable row, then `pricing.catalog_markups`,
/// then (for no catalog, or unpriced with `default`) `pricing.markup_percent`; `Err` with why
/// when the catalog is unpriced and `pricing.unpriced_catalog = "park"`.
pub fn rule_for(
    settings: &PricingSettings,
    table: &CatalogTable,
    catalog: Option<&str>,
) -> Result<(AppliedRule, Option<String>), String> {
    let Some(catalog) = catalog.filter(|c| !c.trim().is_empty()) else {
        return Ok((AppliedRule::Default { markup: settings.markup_percent }, None));
    };
    let why = match table.lookup(catalog) {
        CatalogLookup::Priced { row, rule } => {
            let brand = Some(row.brand.clone()).filter(|b| !b.is_empty());
            return Ok((AppliedRule::Table { key: row.catalog.clone(), row: row.row_number, rule }, brand));
        }
        CatalogLookup::Unpriced { why, .. } => why,
        CatalogLookup::NoRow => "no row in the catalog table".to_owned(),
    };
    if let Some((key, markup)) = settings.catalog_markup(Some(catalog)) {
        return Ok((AppliedRule::Settings { key: key.to_owned(), markup }, None));
    }
    match settings.unpriced_catalog {
        UnpricedCatalog::Default => Ok((AppliedRule::Default { markup: settings.markup_percent }, None)),
        UnpricedCatalog::Park => Err(why),
    }
}

/// Prices every product line of the document once.
pub fn price<'a>(
    settings: &PricingSettings,
    table: &CatalogTable,
    request: &'a QuoteRequest,
) -> Result<PricedDocument<'a>, Unpriced> {
    let mut catalogs: Vec<CatalogTotals> = Vec::new();
    let mut unpriced: Vec<CatalogWithoutRule> = Vec::new();
    let mut defaulted: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for section in &request.sections {
        let name = section.catalog.clone().filter(|c| !c.trim().is_empty());
        let index = match catalogs.iter().position(|c| c.catalog == name) {
            Some(i) => i,
            None => {
                let (rule, brand) = match rule_for(settings, table, name.as_deref()) {
                    Ok(found) => found,
                    Err(why) => {
                        let catalog = name.clone().unwrap_or_default();
                        if !unpriced.iter().any(|u| u.catalog == catalog) {
                            unpriced.push(CatalogWithoutRule { catalog, why });
                        }
                        continue;
                    }
                };
                if let (AppliedRule::Default { .. }, Some(catalog)) = (&rule, &name) {
                    defaulted.push(catalog.clone());
                }
                catalogs.push(CatalogTotals {
                    catalog: name,
                    brand,
                    rule,
                    lines: 0,
                    msrp: Decimal::ZERO,
                    cogs: Decimal::ZERO,
                    customer: Decimal::ZERO,
                });
                catalogs.len() - 1
            }
        };
        for line in &section.lines {
            let (unit_cost, unit_price) = unit_prices(settings, &catalogs[index].rule, line);
            let priced = PricedLine {
                section,
                line,
                catalog: index,
                unit_cost,
                unit_price,
                total: line_total(line.quantity, unit_price),
                cost_total: line_total(line.quantity, unit_cost),
                msrp: line_total(line.quantity, line.unit_list),
            };
            let totals = &mut catalogs[index];
            totals.lines += 1;
            totals.msrp += priced.msrp;
            totals.cogs += priced.cost_total;
            totals.customer += priced.total;
            lines.push(priced);
        }
    }
    if !unpriced.is_empty() {
        return Err(Unpriced { catalogs: unpriced });
    }
    // Sections of a catalog with no product lines count nothing.
    catalogs.retain(|c| c.lines > 0);
    let mut document = PricedDocument {
        request,
        lines,
        catalogs: Vec::new(),
        msrp: Decimal::ZERO,
        cogs: Decimal::ZERO,
        total: Decimal::ZERO,
        defaulted,
    };
    // Indices were into the list before empty catalogs were dropped: map them again.
    for line in &mut document.lines {
        let name = &line.section.catalog;
        let name = name.clone().filter(|c| !c.trim().is_empty());
        line.catalog = catalogs.iter().position(|c| c.catalog == name).expect("a line's catalog has lines");
    }
    for c in &mut catalogs {
        c.msrp.rescale(2);
        c.cogs.rescale(2);
        c.customer.rescale(2);
    }
    document.msrp = cents(catalogs.iter().map(|c| c.msrp).sum());
    document.cogs = cents(catalogs.iter().map(|c| c.cogs).sum());
    document.total = cents(catalogs.iter().map(|c| c.customer).sum());
    document.catalogs = catalogs;
    Ok(document)
}

/// (unit cost, unit price) of a line under a rule.
fn unit_prices(settings: &PricingSettings, rule: &AppliedRule, line: &Line) -> (Decimal, Decimal) {
    let cost_or_zero = |cost: Decimal| if settings.unit_cost { cost } else { Decimal::ZERO };
    let markup = match rule {
        AppliedRule::Table { rule: CatalogRule::MultiplierMargin { multiplier, margin }, .. } => {
            let cost = line.unit_list * multiplier;
            let price = cost / (Decimal::ONE - margin);
            return (cost_or_zero(cents(cost)), round_to(price, settings.round_to, settings.rounding));
        }
        AppliedRule::Table { rule: CatalogRule::Markup { markup }, .. } => *markup,
        AppliedRule::Settings { markup, .. } | AppliedRule::Default { markup } => *markup,
    };
    let base = match settings.price_field {
        PriceField::Selling => line.unit_selling,
        PriceField::List => line.unit_list,
    };
    let marked_up = base + base * markup / Decimal::ONE_HUNDRED;
    (cost_or_zero(line.unit_cost), round_to(marked_up, settings.round_to, settings.rounding))
}
