//! `[pricing]` and `[quote]`: the dealer's prices and what the Jobber quote says.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog_name::{best_match, catalog_key, key_problem};
use crate::template::Template;

/// `[pricing]`: from the document's prices to the quote's.
///
/// Each product line's unit price is `base × (1 + markup / 100)`, rounded to a multiple of
/// `round_to` by `rounding`, in exact decimal arithmetic; `base` is the line's `price_field`, the
/// markup its section's catalog markup ([`PricingSettings::markup_for`]) or `markup_percent`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingSettings {
    /// The document's price each line starts from: `selling` (Saberis' selling price, the
    /// default) or `list`.
    pub price_field: PriceField,
    /// Markup in percent on every line (`"0"`: the price as Saberis gives it).
    pub markup_percent: Decimal,
    /// Markup in percent per catalog, in place of `markup_percent`, as in
    /// `{ "KWP_*" = "30", "FWA0724B" = "25" }`: dealers keep different margins per cabinet maker.
    ///
    /// Keys are `Catalog=` names, compared case-insensitively with spaces
    /// trimmed (and runs of spaces as one); the first rule that matches a section's catalog wins:
    /// 1. the key is the catalog's name (`"KWP_24C1"`, `"Decorative (Imperial"`);
    /// 2. the key is the name before a trailing parenthesized code, closed or cut off by Saberis
    ///    (`"Shaker"` for `Shaker (70000)`, `"Decorative"` for `Decorative (Imperial`);
    /// 3. the key ends in `*` and the name starts with the rest (`"KWP_*"` for every KWP catalog,
    ///    whatever its version); the longest such key wins.
    ///
    /// Lines of no listed catalog (or of no catalog at all) get `markup_percent`.
    pub catalog_markups: BTreeMap<String, Decimal>,
    /// Unit prices are rounded to a multiple of this (`"0.01"`: to the cent; `"0.05"`, `"1"`…).
    pub round_to: Decimal,
    /// `half-up` (the default: a half goes away from zero), `half-even` (a half goes to the even
    /// multiple), `up` (away from zero) or `down` (toward zero).
    pub rounding: Rounding,
    /// Send each line's cost as its `unitCost`, so Jobber's job costing shows the margin: the
    /// document's cost for a catalog priced by markup, list × multiplier for one priced by the
    /// catalog table's multiplier and margin; `false` sends 0.
    pub unit_cost: bool,
    /// A document with a catalog that no usable row of the catalog table prices (and no
    /// `catalog_markups` entry): `park` it (the default: `pricing.unpriced-catalog`, naming the
    /// catalog; price it in the table and replay) or price it with `default` (`markup_percent`).
    pub unpriced_catalog: UnpricedCatalog,
}

/// What a catalog without a price rule does to its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnpricedCatalog {
    Park,
    Default,
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
            unpriced_catalog: UnpricedCatalog::Park,
        }
    }
}

/// Which of the document's unit prices a line starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceField {
    Selling,
    List,
}

/// How a price is rounded to a multiple of `round_to`.
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
    /// The quote's title, a [template](crate::template): `{field}`s from the document
    /// ([`QuoteSettings::FIELDS`]); a `[…]` part is left out when a field in it is empty; `{{`, `}}`,
    /// `[[`, `]]` are literal. Written on one line (line breaks of a field become `; `).
    pub title: String,
    /// The quote's message to the client, the same way (line breaks kept).
    pub message: String,
    /// A zero-priced header line before each section's products, named after the catalog, its
    /// description the section's settings (door style, finish…), one per line. (Jobber creates
    /// a quote with product lines only; a header is a product line of quantity 1 at 0.00.)
    pub section_headers: bool,
    /// Option tags decoded in line descriptions: with `"10b" = "Finished end left"`, the option
    /// `24{10b}` reads `24 Finished end left`. A tag not listed shows the option's text alone.
    /// Tags match exactly, else ignoring case.
    pub tags: BTreeMap<String, String>,
    /// A `Customer.POnumber` matching this pattern names an existing Jobber quote (its first
    /// capture group is the quote number): the lines are added to that quote instead of a new
    /// one. Empty: off.
    pub po_quote_pattern: String,
    /// The PO names a quote Jobber does not have: `park` the document (the default) or `create`
    /// a new quote.
    pub po_quote_missing: PoQuoteMissing,
    /// How the quote shows the price: `lines` (a line per cabinet at the customer price, the
    /// default), `msrp-discount` (the list price, MSRP, then one negative discount line down to
    /// the customer total) or `package` (one line at the customer total). Every line carries its
    /// cost (COGS).
    pub presentation: Presentation,
    /// With `msrp-discount`: one MSRP line per `catalog` (the default) or one for the whole
    /// `order`.
    pub msrp_lines: MsrpLines,
    /// The MSRP line's name (a quote made from the dealer's template with a line of this name
    /// gets that line filled in instead of a new one).
    pub msrp_line_name: String,
    /// The discount line's name (customer total − MSRP, negative).
    pub discount_line_name: String,
    /// The one line of the `package` presentation.
    pub package_line_name: String,
    /// A `Customer.POnumber` matching this pattern names an existing Jobber job (its first
    /// capture group is the job number, as in `J#(\d+)`): the cabinets are added to that job as
    /// line items (priced by `jobs.line_price`) instead of a quote. Checked before
    /// `po_quote_pattern`. A PO naming a job Jobber does not have is parked
    /// (`routing.job-missing`). Empty (the default): off.
    pub po_job_pattern: String,
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
            presentation: Presentation::Lines,
            msrp_lines: MsrpLines::Catalog,
            msrp_line_name: "Made-to-Order Cabinetry - MSRP".to_owned(),
            discount_line_name: "Made-to-Order Cabinetry – Sale Discount".to_owned(),
            package_line_name: "Made-to-Order Cabinetry Package".to_owned(),
            po_job_pattern: String::new(),
        }
    }
}

/// How the quote shows the price (`quote.presentation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presentation {
    Lines,
    MsrpDiscount,
    Package,
}

/// One MSRP line per catalog, or one for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MsrpLines {
    Catalog,
    Order,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoQuoteMissing {
    Park,
    Create,
}

/// The fields a quote title or message may use ([`QuoteSettings::FIELDS`]), with what they hold;
/// an empty field drops the `[…]` segment it is written in.
const QUOTE_FIELDS: &[&str] = &[
    // Customer.Name, Customer.Number, Customer.POnumber
    "customer_name",
    "customer_number",
    "po_number",
    // OrderNumber, Date (ISO: 2025-07-08), SalesPerson, StoreNumber
    "order_number",
    "date",
    "salesperson",
    "store_number",
    // the file name (folder) or the GUID (SaberisConnect)
    "source",
    // the sections' catalogs, each once, comma-separated
    "catalogs",
    // each section's catalog and settings, one line per section (`KWP_25D1 — Door Style: …; …`)
    "settings",
    // how many product lines
    "product_lines",
    // the quote's total with the dealer's prices, two decimals (`2911.85`)
    "total",
];

impl PricingSettings {
    /// The markup in percent for the lines of a section of `catalog` (see `catalog_markups`).
    pub fn markup_for(&self, catalog: Option<&str>) -> Decimal {
        self.catalog_markup(catalog).map_or(self.markup_percent, |(_, markup)| markup)
    }

    /// The `catalog_markups` entry (key as written, markup) that applies to `catalog`, if any.
    pub fn catalog_markup(&self, catalog: Option<&str>) -> Option<(&str, Decimal)> {
        let i = best_match(catalog?, self.catalog_markups.keys().map(String::as_str))?;
        self.catalog_markups.iter().nth(i).map(|(k, m)| (k.as_str(), *m))
    }

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
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (catalog, markup) in &self.catalog_markups {
            if *markup <= -hundred {
                problems.push(format!(
                    "pricing.catalog_markups.{catalog:?}: {markup} would make prices zero or negative"
                ));
            }
            let key = catalog_key(catalog);
            match key_problem(catalog) {
                Some(problem @ "matches every catalog") => problems.push(format!(
                    "pricing.catalog_markups.{catalog:?}: {problem}; set pricing.markup_percent instead"
                )),
                Some(problem) => problems.push(format!("pricing.catalog_markups.{catalog:?}: {problem}")),
                None => {}
            }
            if let Some(first) = seen.insert(key, catalog) {
                problems.push(format!(
                    "pricing.catalog_markups.{catalog:?}: names the same catalog as {first:?} \
                     (names are compared ignoring case and extra spaces)"
                ));
            }
        }
    }
}

impl QuoteSettings {
    /// The fields a title or message template may use: `customer_name`, `customer_number`,
    /// `po_number`, `order_number`, `date`, `salesperson`, `store_number`, `source`, `catalogs`,
    /// `settings`, `product_lines`, `total`.
    pub const FIELDS: &'static [&'static str] = QUOTE_FIELDS;

    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        for (key, text) in [("quote.title", &self.title), ("quote.message", &self.message)] {
            if let Err(e) = Template::parse_for(text, QUOTE_FIELDS) {
                problems.push(format!("{key}: {e}"));
            }
        }
        for (key, name) in [
            ("quote.msrp_line_name", &self.msrp_line_name),
            ("quote.discount_line_name", &self.discount_line_name),
            ("quote.package_line_name", &self.package_line_name),
        ] {
            if name.trim().is_empty() {
                problems.push(format!("{key}: a line needs a name (Jobber refuses a line item without one)"));
            }
        }
        if self.msrp_line_name.trim() == self.discount_line_name.trim() {
            problems.push(
                "quote.discount_line_name: must differ from quote.msrp_line_name (a template quote's lines are found by name)"
                    .to_owned(),
            );
        }
        if self.title.trim().is_empty() {
            problems.push("quote.title: must not be empty (Jobber shows it in every quote list)".to_owned());
        }
        for (tag, meaning) in &self.tags {
            if tag.trim().is_empty() {
                problems.push(format!("quote.tags.{tag:?}: a tag is needed (as in \"10b\", without braces)"));
            } else if tag.contains(['{', '}']) {
                problems.push(format!(
                    "quote.tags.{tag:?}: write the tag without braces (\"10b\" for options such as 24{{10b}})"
                ));
            }
            if meaning.trim().is_empty() {
                problems.push(format!("quote.tags.{tag:?}: the tag's meaning is empty"));
            }
        }
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
        if !self.po_job_pattern.is_empty() {
            match regex::Regex::new(&self.po_job_pattern) {
                Ok(re) if re.captures_len() < 2 => problems.push(format!(
                    "quote.po_job_pattern: {:?} needs a capture group for the job number, as in \"^J#(\\\\d+)$\"",
                    self.po_job_pattern
                )),
                Ok(_) => {}
                Err(e) => problems.push(format!("quote.po_job_pattern: not a valid pattern: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn pricing(markups: &[(&str, &str)]) -> PricingSettings {
        PricingSettings {
            markup_percent: d("10"),
            catalog_markups: markups.iter().map(|(k, v)| (k.to_string(), d(v))).collect(),
            ..PricingSettings::default()
        }
    }

    fn problems(pricing: &PricingSettings, quote: &QuoteSettings) -> Vec<String> {
        let mut problems = Vec::new();
        pricing.validate(&mut problems);
        quote.validate(&mut problems);
        problems
    }

    #[test]
    fn catalog_markups_match_by_name_ignoring_case_and_spaces() {
        let p = pricing(&[("KWP_24C1", "30"), ("fwa0724b", "25")]);
        assert_eq!(p.markup_for(Some("KWP_24C1")), d("30"));
        assert_eq!(p.markup_for(Some("  kwp_24c1 ")), d("30"));
        assert_eq!(p.markup_for(Some("FWA0724B")), d("25"));
        assert_eq!(p.markup_for(Some("FWA0724A")), d("10"), "another catalog: the default");
        assert_eq!(p.markup_for(None), d("10"), "no catalog: the default");
        assert_eq!(p.markup_for(Some("  ")), d("10"));
        assert_eq!(p.catalog_markup(Some("kwp_24c1")), Some(("KWP_24C1", d("30"))));
    }

    #[test]
    fn a_trailing_code_may_be_left_out_of_the_key_but_the_full_name_wins() {
        let p = pricing(&[("Shaker", "20"), ("Decorative", "5"), ("Shaker (70000)", "22")]);
        assert_eq!(p.markup_for(Some("Shaker (70000)")), d("22"), "the exact name first");
        assert_eq!(p.markup_for(Some("Shaker  (80000)")), d("20"), "then the name before the code");
        assert_eq!(p.markup_for(Some("Decorative (Imperial")), d("5"), "a code Saberis cut off");
        assert_eq!(p.markup_for(Some("Decorative Imperial")), d("10"));
        assert_eq!(p.markup_for(Some("Shaker (a) b")), d("10"), "the code must end the name");
    }

    #[test]
    fn a_star_key_covers_every_version_of_a_catalog_the_longest_first() {
        let p = pricing(&[("KWP_*", "30"), ("KWP_25*", "35"), ("KWP_24C1", "28")]);
        assert_eq!(p.markup_for(Some("KWP_24C1")), d("28"), "the exact name before any prefix");
        assert_eq!(p.markup_for(Some("KWP_23A1")), d("30"));
        assert_eq!(p.markup_for(Some("kwp_25d1")), d("35"), "the longest prefix");
        assert_eq!(p.markup_for(Some("FWA0724B")), d("10"));
    }

    #[test]
    fn pricing_problems_name_the_key() {
        let mut p =
            pricing(&[("KWP_24C1", "-100"), ("kwp_24c1 ", "5"), ("K*P", "1"), ("*", "1"), (" ", "2")]);
        p.round_to = Decimal::ZERO;
        let problems = problems(&p, &QuoteSettings::default());
        let text = problems.join("\n");
        assert!(text.contains("pricing.round_to: 0 must be above zero"), "{text}");
        assert!(text.contains("pricing.catalog_markups.\"KWP_24C1\": -100 would make"), "{text}");
        assert!(
            text.contains("pricing.catalog_markups.\"kwp_24c1 \": names the same catalog as \"KWP_24C1\"")
        );
        assert!(text.contains("pricing.catalog_markups.\"K*P\": `*` may only end a name"), "{text}");
        assert!(text.contains("pricing.catalog_markups.\"*\": matches every catalog"), "{text}");
        assert!(text.contains("pricing.catalog_markups.\" \": a catalog name is needed"), "{text}");
        assert_eq!(problems.len(), 6, "{text}");
    }

    #[test]
    fn the_default_templates_are_valid_and_unknown_fields_are_named() {
        assert!(problems(&PricingSettings::default(), &QuoteSettings::default()).is_empty());
        let quote = QuoteSettings {
            title: "Order[ {custmer_name}]".to_owned(),
            message: "Total {total}\n{settings".to_owned(),
            tags: [("{10b}".to_owned(), "Finished end left".to_owned()), ("7a".to_owned(), " ".to_owned())]
                .into(),
            ..QuoteSettings::default()
        };
        let text = problems(&PricingSettings::default(), &quote).join("\n");
        assert!(
            text.contains(
                "quote.title: unknown field {custmer_name} at character 8; the fields are customer_name,"
            ),
            "{text}"
        );
        assert!(text.contains("quote.message: `{` at character 15 is never closed"), "{text}");
        assert!(text.contains("quote.tags.\"{10b}\": write the tag without braces"), "{text}");
        assert!(text.contains("quote.tags.\"7a\": the tag's meaning is empty"), "{text}");
        let empty = QuoteSettings { title: " ".to_owned(), ..QuoteSettings::default() };
        let text = problems(&PricingSettings::default(), &empty).join("\n");
        assert!(text.contains("quote.title: must not be empty"), "{text}");
    }

    #[test]
    fn markups_load_from_toml_and_from_the_environment() {
        let path = std::env::temp_dir().join(format!("sj-pricing-test-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[pricing]\nmarkup_percent = 12.5\nround_to = \"0.05\"\nrounding = \"half-even\"\n\
             [pricing.catalog_markups]\n\"KWP_*\" = 30\n\"Decorative (Imperial\" = \"7.25\"\n\
             [quote]\nsection_headers = true\n[quote.tags]\n10b = \"Finished end left\"\n",
        )
        .unwrap();
        let settings = Settings::load_from(Some(&path), figment::providers::Env::prefixed("SJT_PRICE0_"));
        std::fs::remove_file(&path).unwrap();
        let settings = settings.unwrap();
        assert_eq!(settings.pricing.markup_percent, d("12.5"));
        assert_eq!(settings.pricing.round_to, d("0.05"));
        assert_eq!(settings.pricing.rounding, Rounding::HalfEven);
        assert_eq!(settings.pricing.markup_for(Some("KWP_25D1")), d("30"));
        assert_eq!(settings.pricing.markup_for(Some("decorative (imperial")), d("7.25"));
        assert_eq!(settings.quote.tags["10b"], "Finished end left");
        assert!(settings.quote.section_headers);

        // From the environment: a whole table as an inline dict, or one key per variable (the
        // variable's name is lower-cased, which the case-insensitive match does not mind).
        std::env::set_var(
            "SJT_PRICE1_PRICING__CATALOG_MARKUPS",
            r#"{"KWP_24C1"="30","Decorative (Imperial"=5}"#,
        );
        std::env::set_var("SJT_PRICE1_PRICING__PRICE_FIELD", "list");
        let settings = Settings::load_from(None, figment::providers::Env::prefixed("SJT_PRICE1_")).unwrap();
        assert_eq!(settings.pricing.markup_for(Some("KWP_24C1")), d("30"));
        assert_eq!(settings.pricing.markup_for(Some("Decorative (Imperial")), d("5"));
        assert_eq!(settings.pricing.price_field, PriceField::List);
        std::env::set_var("SJT_PRICE2_PRICING__CATALOG_MARKUPS__KWP_24C1", "17.5");
        let settings = Settings::load_from(None, figment::providers::Env::prefixed("SJT_PRICE2_")).unwrap();
        assert_eq!(settings.pricing.markup_for(Some("KWP_24C1")), d("17.5"));
    }
}
