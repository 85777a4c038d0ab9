//! Sanity rules a dealer configures: what a plausible order looks like.
//!
//! Real exports carry slips from catalog data (a cabinet at 1,399,998.60; another at 100,660.00).
//! A document that breaks a rule was read fine, so this is not a parse error: it is reported as
//! its own kind (`sanity.<rule>`), listing every line that breaks a rule, so the dealer fixes the
//! order in Saberis (or raises the limit) and sends it again.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::failure::SanityRule;
use crate::message::{Line, QuoteRequest, Section};
use crate::saberis::{DocumentError, ErrorKind, Place};

/// `[sanity]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SanityRules {
    /// The highest unit price (list, selling or cost) accepted; `"off"` disables the rule.
    #[serde(with = "limit")]
    pub max_unit_price: Option<Decimal>,
    /// Accept negative prices and quantities (credits written as lines).
    pub allow_negative: bool,
    /// Refuse a document without a single product line.
    pub require_product_line: bool,
}

impl Default for SanityRules {
    fn default() -> Self {
        Self {
            max_unit_price: Some(Decimal::new(10_000_000, 2)),
            allow_negative: false,
            require_product_line: true,
        }
    }
}

impl SanityRules {
    /// Checks the `[sanity]` section; every problem names its key.
    pub(crate) fn validate(&self, problems: &mut Vec<String>) {
        if let Some(max) = self.max_unit_price {
            if max <= Decimal::ZERO {
                problems.push(format!(
                    "sanity.max_unit_price: {max} must be above zero (or \"off\" to disable the rule)"
                ));
            }
        }
    }

    /// Every broken rule, the first as the error and the rest in [`DocumentError::more`].
    pub fn check(&self, request: &QuoteRequest) -> Result<(), DocumentError> {
        let mut problems = Vec::new();
        if self.require_product_line && request.totals.product_lines == 0 {
            problems.push(DocumentError::new(
                ErrorKind::Sanity(SanityRule::NoProductLines),
                "the document has no product line: there is nothing to quote",
                None,
            ));
        }
        for (section, line) in request.lines() {
            let prices = [("list", line.unit_list), ("selling", line.unit_selling), ("cost", line.unit_cost)];
            if !self.allow_negative {
                let negative: Vec<String> = std::iter::once(("quantity", line.quantity))
                    .chain(prices)
                    .filter(|(_, value)| value.is_sign_negative() && !value.is_zero())
                    .map(|(name, value)| format!("{name} {value}"))
                    .collect();
                if !negative.is_empty() {
                    problems.push(problem(
                        SanityRule::Negative,
                        format!("negative {} (sanity.allow_negative is off)", negative.join(", ")),
                        section,
                        line,
                    ));
                }
            }
            if let Some(max) = self.max_unit_price {
                let above: Vec<&str> =
                    prices.iter().filter(|(_, value)| *value > max).map(|(name, _)| *name).collect();
                if let Some(price) = prices.iter().find(|(_, value)| *value > max).map(|(_, value)| value) {
                    problems.push(problem(
                        SanityRule::PriceAboveLimit,
                        format!(
                            "unit price {price} ({}) is above the limit of {max} (sanity.max_unit_price)",
                            above.join(", ")
                        ),
                        section,
                        line,
                    ));
                }
            }
        }
        let mut problems = problems.into_iter();
        match problems.next() {
            None => Ok(()),
            Some(mut first) => {
                first.more = problems.collect();
                Err(first)
            }
        }
    }
}

fn problem(rule: SanityRule, reason: String, section: &Section, line: &Line) -> DocumentError {
    let place =
        Place::Line { line_id: line.line_id, code: line.code.clone(), catalog: section.catalog.clone() };
    DocumentError::new(ErrorKind::Sanity(rule), reason, Some(place))
}

/// A decimal limit written as a string (`"100000.00"`), a number, or `"off"`.
mod limit {
    use rust_decimal::Decimal;
    use serde::{de, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&d.to_string()),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Option<Decimal>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal amount such as \"100000.00\", or \"off\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let v = v.trim();
                if v.eq_ignore_ascii_case("off") {
                    return Ok(None);
                }
                v.parse::<Decimal>().map(Some).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(Decimal::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(Decimal::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}
