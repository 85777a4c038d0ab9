//! `[mapping]`: who each Saberis customer is in Jobber, and what to do when nobody knows.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{secs, HumanDuration};

/// `[mapping]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingSettings {
    /// Where the mapping table lives: `csv` (a local file, the default) or `sheets` (a Google
    /// Sheet, edited by the dealer's staff in a browser).
    pub store: MappingStoreKind,
    /// The table as a CSV file (`store = "csv"`).
    pub csv: CsvStoreSettings,
    /// The table as a Google Sheet (`store = "sheets"`).
    pub sheets: SheetsStoreSettings,
    /// How often the Redis copy of the table is read again from the store (a person's edit is
    /// picked up within this long; `sjctl mapping refresh` does it at once).
    pub refresh: HumanDuration,
    /// The matching strategies, tried in order: `mapping` (the table, by customer key then by
    /// address), `jobber-name` (Jobber's client search by name), `jobber-address` (by address).
    pub strategies: Vec<Strategy>,
    /// How closely a client found by Jobber search must agree with the document's address:
    /// `street` (street and postal code or city), `exact` (street, city and postal code) or `none`.
    pub address_agreement: AddressAgreement,
    /// No strategy found the client: `create` it (with a property, and a mapping row written
    /// back) or `park` the document with a reason naming the mapping row to add.
    pub on_no_match: NoMatch,
    /// A document whose customer has no name and no mapping: `park` (the default) or
    /// `create-from-address` (a client named after the address).
    pub unnamed_customer: UnnamedCustomer,
}

impl Default for MappingSettings {
    fn default() -> Self {
        Self {
            store: MappingStoreKind::Csv,
            csv: CsvStoreSettings::default(),
            sheets: SheetsStoreSettings::default(),
            refresh: secs(60),
            strategies: vec![Strategy::Mapping, Strategy::JobberName, Strategy::JobberAddress],
            address_agreement: AddressAgreement::Street,
            on_no_match: NoMatch::Create,
            unnamed_customer: UnnamedCustomer::Park,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingStoreKind {
    Csv,
    Sheets,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Mapping,
    JobberName,
    JobberAddress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressAgreement {
    Exact,
    Street,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoMatch {
    Create,
    Park,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnnamedCustomer {
    Park,
    CreateFromAddress,
}

/// `[mapping.csv]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvStoreSettings {
    /// The table; created with its header row when missing.
    pub path: PathBuf,
    /// The catalog table (the dealer's multiplier and margin per catalog); created with its
    /// header row when missing. Unset: `catalogs.csv` in the folder of `path`.
    pub catalogs_path: Option<PathBuf>,
}

impl Default for CsvStoreSettings {
    fn default() -> Self {
        Self { path: PathBuf::from("mapping.csv"), catalogs_path: None }
    }
}

impl CsvStoreSettings {
    /// `catalogs_path`, or `catalogs.csv` beside the mapping table.
    pub fn catalogs(&self) -> PathBuf {
        match &self.catalogs_path {
            Some(path) => path.clone(),
            None => self.path.with_file_name("catalogs.csv"),
        }
    }
}

/// `[mapping.sheets]`: a Google Sheet read and appended through the Sheets v4 values API with a
/// service account (share the sheet with the service account's email, as editor).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SheetsStoreSettings {
    /// The API's base: `https://sheets.googleapis.com` for Google, the sandbox's `…/sheets`.
    pub api_url: String,
    /// The spreadsheet id (from its URL: `/spreadsheets/d/<id>/edit`).
    pub spreadsheet_id: String,
    /// The tab holding the table.
    pub tab: String,
    /// The tab holding the catalog table (the dealer's multiplier and margin per catalog).
    pub catalog_tab: String,
    /// The service account's JSON key file, as Google gives it (`client_email`, `private_key`,
    /// `token_uri`); required when `mapping.store = "sheets"`.
    pub service_account_file: Option<PathBuf>,
    /// Timeout of one request to Google.
    pub request_timeout: HumanDuration,
}

impl Default for SheetsStoreSettings {
    fn default() -> Self {
        Self {
            api_url: "http://127.0.0.1:8787/sheets".to_owned(),
            spreadsheet_id: "sandbox-mapping".to_owned(),
            tab: "Sheet1".to_owned(),
            catalog_tab: "Catalogs".to_owned(),
            service_account_file: None,
            request_timeout: secs(20),
        }
    }
}

impl MappingSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if self.strategies.is_empty() {
            problems.push(
                "mapping.strategies: at least one strategy is needed (mapping, jobber-name, jobber-address)"
                    .to_owned(),
            );
        }
        if self.store == MappingStoreKind::Sheets && self.sheets.catalog_tab.trim() == self.sheets.tab.trim()
        {
            problems.push(
                "mapping.sheets.catalog_tab: must differ from mapping.sheets.tab (the catalog table needs its own tab)"
                    .to_owned(),
            );
        }
        if self.store == MappingStoreKind::Csv && self.csv.catalogs() == self.csv.path {
            problems.push(
                "mapping.csv.catalogs_path: must differ from mapping.csv.path (the catalog table needs its own file)"
                    .to_owned(),
            );
        }
        if self.store == MappingStoreKind::Sheets {
            if self.sheets.service_account_file.is_none() {
                problems.push(
                    "mapping.sheets.service_account_file: required when mapping.store = \"sheets\" (the service account's JSON key)"
                        .to_owned(),
                );
            }
            if self.sheets.spreadsheet_id.trim().is_empty() {
                problems.push(
                    "mapping.sheets.spreadsheet_id: required when mapping.store = \"sheets\"".to_owned(),
                );
            }
        }
    }
}
