//! `[jobs]`: how a document's cabinets are written to a Jobber job its PO names
//! (`quote.po_job_pattern`; docs/architecture.md, "PO routing").

use serde::{Deserialize, Serialize};

/// `[jobs]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSettings {
    /// The unit price of each line added to a job: `zero` (the default: the dealer's practice,
    /// jobs carry the cabinets for inventory and job costing, the unit cost being the line's
    /// cost) or `customer` (the customer's unit price, as a quote would have it).
    pub line_price: JobLinePrice,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self { line_price: JobLinePrice::Zero }
    }
}

/// `jobs.line_price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobLinePrice {
    /// 0.00: the job carries the cost only.
    Zero,
    /// The customer's unit price (`[pricing]`).
    Customer,
}

impl JobsSettings {
    /// Nothing the types do not check already; here so that the section checks itself like the
    /// others (`jobs.line_price` is `zero` or `customer`).
    pub(super) fn validate(&self, _problems: &mut Vec<String>) {}
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format as _, Serialized, Toml};
    use figment::Figment;

    use super::*;

    #[test]
    fn zero_by_default_and_customer_on_request() {
        assert_eq!(JobsSettings::default().line_price, JobLinePrice::Zero);
        let read = |toml: &str| {
            Figment::from(Serialized::defaults(JobsSettings::default()))
                .merge(Toml::string(toml))
                .extract::<JobsSettings>()
                .map(|s| s.line_price)
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("line_price = \"customer\""), Ok(JobLinePrice::Customer));
        let err = read("line_price = \"list\"").unwrap_err();
        assert!(err.contains("zero") && err.contains("customer"), "{err}");
    }
}
