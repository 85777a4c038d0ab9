//! Everything the sandbox remembers, in one serializable store behind one lock.
//!
//! Records are plain data; the GraphQL layer (`jobber::schema`) turns them into Jobber's types.
//! The whole store is written to `--state FILE` as JSON, so a demo can stop and resume.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Config, CustomFieldTarget, CustomFieldValueType};

/// The id of the account every grant belongs to unless a test asks for another one.
pub const DEFAULT_ACCOUNT_ID: u64 = 1;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Store {
    /// One sequence for every Jobber record id, as in Jobber where ids are global: an id from
    /// another account is a real id that this account cannot see.
    pub next_id: u64,
    pub accounts: BTreeMap<u64, Account>,
    pub oauth: OAuthStore,
    pub saberis: SaberisStore,
    pub sheets: SheetsStore,
    /// Source of refresh tokens, codes and session tokens (see `crate::tokens`).
    pub token_counter: u64,
}

impl Store {
    /// A store with the default account set up from `config`.
    pub fn new(config: &Config) -> Self {
        let mut store = Store::default();
        store.add_account(DEFAULT_ACCOUNT_ID, config);
        for sheet in &config.sheets.spreadsheets {
            store.sheets.spreadsheets.insert(sheet.id.clone(), Spreadsheet::with_tabs(&sheet.sheets));
        }
        store
    }

    /// Creates an account with the configured custom fields (or returns the existing one).
    pub fn add_account(&mut self, account_id: u64, config: &Config) -> &mut Account {
        if !self.accounts.contains_key(&account_id) {
            let mut account = Account {
                id: account_id,
                name: config.account.name.clone(),
                next_quote_number: 1,
                ..Account::default()
            };
            for setup in &config.account.custom_fields {
                let id = self.next_id();
                account.custom_field_configurations.insert(
                    id,
                    CustomFieldConfigurationRecord {
                        id,
                        name: setup.name.clone(),
                        value_type: setup.value_type,
                        applies_to: setup.applies_to,
                        default_value: setup.default_value.clone(),
                        sort_order: account.custom_field_configurations.len() as i32 + 1,
                        created_at: 0,
                    },
                );
            }
            self.accounts.insert(account_id, account);
        }
        self.accounts.get_mut(&account_id).expect("inserted above")
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn load(path: &Path) -> anyhow::Result<Option<Store>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes atomically (temp file + rename) so a crash never leaves half a state file.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// One Jobber account (a dealer's business).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    pub id: u64,
    pub name: String,
    /// Quote numbers increase per account, starting at 1.
    pub next_quote_number: u64,
    pub clients: BTreeMap<u64, ClientRecord>,
    pub properties: BTreeMap<u64, PropertyRecord>,
    pub quotes: BTreeMap<u64, QuoteRecord>,
    /// Job numbers increase per account, starting at 1 (0 in a state file from before jobs: 1).
    pub next_job_number: u64,
    /// Jobs, made by staff (the admin API, as in Jobber Online: the bridge only adds lines).
    pub jobs: BTreeMap<u64, JobRecord>,
    pub custom_field_configurations: BTreeMap<u64, CustomFieldConfigurationRecord>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AddressRecord {
    pub street1: String,
    pub street2: String,
    pub city: String,
    pub province: String,
    pub postal_code: String,
    pub country: String,
}

impl AddressRecord {
    /// Jobber's `street`: both street lines joined.
    pub fn street(&self) -> String {
        [self.street1.as_str(), self.street2.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The text a client search matches against.
    pub fn search_text(&self) -> String {
        [&self.street1, &self.street2, &self.city, &self.province, &self.postal_code, &self.country]
            .map(String::as_str)
            .join(" ")
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientRecord {
    pub id: u64,
    pub title: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub company_name: Option<String>,
    pub is_company: bool,
    pub is_archived: bool,
    pub is_lead: bool,
    pub emails: Vec<EmailRecord>,
    pub phones: Vec<PhoneRecord>,
    pub billing_address: Option<AddressRecord>,
    pub custom_fields: Vec<CustomFieldValueRecord>,
    /// Clients created through the API get the app's name as lead source.
    pub lead_source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ClientRecord {
    /// Jobber's `name`: the company name for a company, else first and last name.
    pub fn name(&self) -> String {
        let person = format!("{} {}", self.first_name, self.last_name).trim().to_string();
        match &self.company_name {
            Some(company) if self.is_company || person.is_empty() => company.clone(),
            _ => person,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailRecord {
    pub id: u64,
    pub address: String,
    pub description: String,
    pub primary: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneRecord {
    pub id: u64,
    pub number: String,
    pub description: String,
    pub primary: bool,
    pub sms_allowed: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PropertyRecord {
    pub id: u64,
    pub client_id: u64,
    pub address: AddressRecord,
    pub is_billing_address: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Jobber's `QuoteStatusTypeEnum`, spelled as Jobber spells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteStatus {
    #[default]
    Draft,
    AwaitingResponse,
    Archived,
    Approved,
    Converted,
    ChangesRequested,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QuoteRecord {
    pub id: u64,
    pub client_id: u64,
    pub property_id: u64,
    pub quote_number: String,
    pub title: Option<String>,
    pub message: Option<String>,
    pub status: QuoteStatus,
    pub line_items: Vec<LineItemRecord>,
    pub notes: Vec<NoteRecord>,
    pub discount: Option<CostModifierRecord>,
    pub deposit: Option<CostModifierRecord>,
    pub custom_fields: Vec<CustomFieldValueRecord>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When it was last approved / archived (admin routes, as a person in Jobber's web UI).
    pub approved_at: Option<i64>,
    pub archived_at: Option<i64>,
}

/// Jobber's `JobStatusTypeEnum`, spelled as Jobber spells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    RequiresInvoicing,
    Archived,
    Late,
    Today,
    #[default]
    Upcoming,
    ActionRequired,
    OnHold,
    Unscheduled,
    Active,
    #[serde(rename = "expiring_within_30_days")]
    ExpiringWithin30Days,
}

impl JobStatus {
    /// Whether a filter on `status` takes a job of this status: `active` takes every job in
    /// progress (late, today, upcoming, on hold…), as Jobber's description says.
    pub fn matches(self, wanted: JobStatus) -> bool {
        match wanted {
            JobStatus::Active => !matches!(self, JobStatus::Archived | JobStatus::RequiresInvoicing),
            JobStatus::OnHold | JobStatus::ActionRequired => {
                matches!(self, JobStatus::OnHold | JobStatus::ActionRequired)
            }
            other => self == other,
        }
    }
}

/// A job: work for a client at one of its properties, made by staff; its line items carry cost
/// (job costing) and price.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobRecord {
    pub id: u64,
    pub client_id: u64,
    pub property_id: u64,
    pub job_number: u64,
    pub title: Option<String>,
    pub status: JobStatus,
    pub line_items: Vec<LineItemRecord>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LineItemRecord {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub category: Option<String>,
    pub quantity: f64,
    pub unit_price: f64,
    pub unit_cost: f64,
    pub taxable: bool,
    pub optional: bool,
    pub recommended: bool,
    pub text_only: bool,
    pub save_to_products_and_services: bool,
    pub sort_order: i32,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NoteRecord {
    pub id: u64,
    pub message: String,
    pub created_at: i64,
}

/// A discount or deposit: `Percent` of the amount or a fixed `Unit` amount.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CostModifierRecord {
    pub rate: f64,
    pub percent: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CustomFieldConfigurationRecord {
    pub id: u64,
    pub name: String,
    pub value_type: CustomFieldValueType,
    pub applies_to: CustomFieldTarget,
    pub default_value: String,
    pub sort_order: i32,
    pub created_at: i64,
}

/// A custom field's value on a record; `value` is text whatever the type (as Jobber's inputs are).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CustomFieldValueRecord {
    pub id: u64,
    pub configuration_id: u64,
    pub value: CustomFieldValue,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldValue {
    Text(String),
    Numeric(f64),
}

/// OAuth grants (one per app connection), pending authorization codes and live refresh tokens.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthStore {
    pub grants: BTreeMap<String, GrantRecord>,
    pub codes: BTreeMap<String, AuthorizationCode>,
    /// The one live refresh token of each grant → grant id. Rotation replaces the entry.
    pub refresh_tokens: BTreeMap<String, String>,
}

/// An app's authorization on one account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantRecord {
    pub id: String,
    pub account_id: u64,
    pub revoked: bool,
    /// Access tokens carry the generation they were issued in; bumping it (admin API) makes every
    /// outstanding access token of the grant invalid at once, as an expiry would.
    pub generation: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub account_id: u64,
    pub client_id: String,
    pub redirect_uri: String,
    pub expires_at_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SaberisStore {
    /// In the order they became available (the order `GET /export` lists them).
    pub documents: Vec<SaberisDocument>,
    /// Session token → expiry (Unix ms).
    pub sessions: BTreeMap<String, i64>,
}

/// One order document as SaberisConnect serves it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaberisDocument {
    pub guid: String,
    /// Where it came from (file name, or `admin`), for the admin listing.
    pub source: String,
    /// The JSON form as received (raw text: element order matters and is kept), if any.
    pub json: Option<String>,
    /// The XML form as received, if any.
    pub xml: Option<String>,
    /// Times `export/json|xml/{guid}` served it.
    pub fetch_count: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SheetsStore {
    pub spreadsheets: BTreeMap<String, Spreadsheet>,
    /// Bearer token → expiry (Unix ms).
    pub tokens: BTreeMap<String, i64>,
}

/// A spreadsheet: tab name → rows of cells (ragged, as the Sheets API returns them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Spreadsheet {
    pub sheets: BTreeMap<String, Vec<Vec<String>>>,
    /// The tabs in the spreadsheet's order: a tab added goes last (as Google's `addSheet`
    /// without an index, or "+" in the browser). The first is the one a range naming no tab
    /// reads. Empty in a state saved before it was kept: then the names' order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<String>,
}

impl Spreadsheet {
    /// A spreadsheet of these tabs, empty, in this order.
    pub fn with_tabs(names: &[String]) -> Self {
        let mut spreadsheet = Spreadsheet::default();
        for name in names {
            spreadsheet.set_tab(name, Vec::new());
        }
        spreadsheet
    }

    /// The first tab: what Google reads for a range that names none.
    pub fn first_tab(&self) -> Option<&String> {
        self.order.iter().find(|name| self.sheets.contains_key(*name)).or_else(|| self.sheets.keys().next())
    }

    /// Sets a tab's rows, adding the tab (last) when it does not exist.
    pub fn set_tab(&mut self, name: &str, rows: Vec<Vec<String>>) {
        if !self.order.iter().any(|n| n == name) {
            self.order.push(name.to_owned());
        }
        self.sheets.insert(name.to_owned(), rows);
    }
}

/// A fresh opaque token (refresh tokens, codes, session tokens): 64 hex characters.
///
/// Unguessability does not matter in a sandbox; uniqueness does, and the counter in the store
/// guarantees it even across restarts with `--state`.
pub fn fresh_token(store: &mut Store, salt: &str) -> String {
    store.token_counter += 1;
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(store.token_counter.to_be_bytes())
        .chain_update(nanos.to_be_bytes())
        .chain_update(std::process::id().to_be_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
