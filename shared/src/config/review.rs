//! `[review]`: which documents wait for a person's approval in the console before anything is
//! written to Jobber (docs/console.md, "Reviewing documents"; docs/architecture.md, "The review
//! gate").

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `[review]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewSettings {
    /// When a document waits for approval in the console instead of being written at once: any
    /// of `always`, `new-customer` (no mapping row for its customer yet), `unpriced-catalog` (a
    /// catalog without a usable row in the catalog table), `total-above:AMOUNT` (the customer
    /// total above AMOUNT, e.g. `total-above:25000`), `po-target` (its PO names a quote or a
    /// job), `sanity` (the sanity rules refuse it: the reviewer sees the offending lines instead
    /// of the document being refused; unreadable documents stay refused). Empty (the default):
    /// every document is written automatically.
    pub when: Vec<String>,
}

/// One entry of `review.when`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewRule {
    Always,
    NewCustomer,
    UnpricedCatalog,
    TotalAbove(Decimal),
    PoTarget,
    Sanity,
}

impl ReviewRule {
    /// Reads one entry (`total-above:1000`).
    pub fn parse(text: &str) -> Result<ReviewRule, String> {
        let text = text.trim();
        Ok(match text {
            "always" => ReviewRule::Always,
            "new-customer" => ReviewRule::NewCustomer,
            "unpriced-catalog" => ReviewRule::UnpricedCatalog,
            "po-target" => ReviewRule::PoTarget,
            "sanity" => ReviewRule::Sanity,
            _ => match text.strip_prefix("total-above:") {
                Some(amount) => {
                    let amount: Decimal =
                        amount.trim().replace(',', "").parse().map_err(|_| {
                            format!("{text:?}: {amount:?} is not an amount (total-above:25000)")
                        })?;
                    if amount < Decimal::ZERO {
                        return Err(format!("{text:?}: the amount must not be negative"));
                    }
                    ReviewRule::TotalAbove(amount)
                }
                None => {
                    return Err(format!(
                        "{text:?} is not one of always, new-customer, unpriced-catalog, total-above:AMOUNT, \
                         po-target, sanity"
                    ))
                }
            },
        })
    }

    /// As written in `review.when` (`total-above:1000`).
    pub fn name(&self) -> String {
        match self {
            ReviewRule::Always => "always".to_owned(),
            ReviewRule::NewCustomer => "new-customer".to_owned(),
            ReviewRule::UnpricedCatalog => "unpriced-catalog".to_owned(),
            ReviewRule::TotalAbove(amount) => format!("total-above:{amount}"),
            ReviewRule::PoTarget => "po-target".to_owned(),
            ReviewRule::Sanity => "sanity".to_owned(),
        }
    }
}

impl ReviewSettings {
    /// The rules of `review.when` (entries that do not read are left out: `validate` refused
    /// them at start).
    pub fn rules(&self) -> Vec<ReviewRule> {
        self.when.iter().filter_map(|w| ReviewRule::parse(w).ok()).collect()
    }

    /// Whether `rule` is asked for.
    pub fn has(&self, rule: &ReviewRule) -> bool {
        self.rules().contains(rule)
    }

    /// Whether documents the sanity rules refuse go to review (`sanity` in `review.when`).
    pub fn sanity(&self) -> bool {
        self.has(&ReviewRule::Sanity)
    }

    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        for entry in &self.when {
            if let Err(e) = ReviewRule::parse(entry) {
                problems.push(format!("review.when: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_reads_and_names_itself() {
        let settings = ReviewSettings {
            when: [
                "always",
                "new-customer",
                "unpriced-catalog",
                "total-above:1,000.50",
                "po-target",
                "sanity",
            ]
            .map(str::to_owned)
            .to_vec(),
        };
        let mut problems = Vec::new();
        settings.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<String> = settings.rules().iter().map(ReviewRule::name).collect();
        assert_eq!(
            names,
            ["always", "new-customer", "unpriced-catalog", "total-above:1000.50", "po-target", "sanity"]
        );
        assert!(settings.sanity());
        assert!(ReviewSettings::default().rules().is_empty());
    }

    #[test]
    fn problems_name_the_key() {
        let settings = ReviewSettings { when: vec!["sometimes".to_owned(), "total-above:lots".to_owned()] };
        let mut problems = Vec::new();
        settings.validate(&mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| p.starts_with("review.when: ")), "{problems:?}");
        assert!(problems[1].contains("\"lots\" is not an amount"), "{problems:?}");
    }
}
