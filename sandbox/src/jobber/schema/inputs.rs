//! Jobber's input types and input enums, as the mutations take them.
//!
//! As Jobber's public schema of version 2025-04-16 has them (a subset of each input's fields; every
//! required one). Non-null fields are non-null here too, so a missing `propertyId`, `lineItems` or
//! `saveToProductsAndServices` fails GraphQL validation exactly as in Jobber.

use async_graphql::{Enum, InputObject};

use super::types::{
    CostModifierTypeEnum, DateTime, JobStatusTypeEnum, ProductsAndServicesCategory, QuoteStatusTypeEnum,
};
use crate::jobber::ids::EncodedId;
use crate::state::{AddressRecord, CostModifierRecord};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ClientTitle {
    Mr,
    Ms,
    Mrs,
    Miss,
    Dr,
}

impl ClientTitle {
    /// How Jobber shows the title on the client (`Client.title: String`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Mr => "Mr.",
            Self::Ms => "Ms.",
            Self::Mrs => "Mrs.",
            Self::Miss => "Miss",
            Self::Dr => "Dr.",
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum PhoneNumberDescription {
    Main,
    Work,
    Mobile,
    Home,
    Fax,
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum EmailDescription {
    Main,
    Work,
    Personal,
    Other,
}

/// Attributes of a phone number.
#[derive(InputObject)]
pub struct PhoneNumberCreateAttributes {
    pub description: Option<PhoneNumberDescription>,
    pub number: Option<String>,
    pub sms_allowed: Option<bool>,
    pub primary: Option<bool>,
}

/// Attributes for updating a phone number.
#[derive(InputObject)]
pub struct PhoneNumberUpdateAttributes {
    pub description: Option<PhoneNumberDescription>,
    pub number: Option<String>,
    pub sms_allowed: Option<bool>,
    pub primary: Option<bool>,
    pub id: EncodedId,
}

/// Attributes of an email address.
#[derive(InputObject)]
pub struct EmailCreateAttributes {
    pub description: Option<EmailDescription>,
    pub address: Option<String>,
    pub primary: Option<bool>,
}

/// Attributes for updating an email address.
#[derive(InputObject)]
pub struct EmailUpdateAttributes {
    pub description: Option<EmailDescription>,
    pub address: Option<String>,
    pub primary: Option<bool>,
    pub id: EncodedId,
}

/// Attributes of an address.
#[derive(InputObject, Clone)]
pub struct AddressAttributes {
    pub street1: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub province: Option<String>,
    pub postal_code: Option<String>,
}

impl AddressAttributes {
    /// Applies the given fields over an existing address (absent fields stay).
    pub fn apply_to(&self, address: &mut AddressRecord) {
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(v) = value {
                *target = v.trim().to_string();
            }
        };
        set(&mut address.street1, &self.street1);
        set(&mut address.street2, &self.street2);
        set(&mut address.city, &self.city);
        set(&mut address.country, &self.country);
        set(&mut address.province, &self.province);
        set(&mut address.postal_code, &self.postal_code);
    }

    pub fn to_record(&self) -> AddressRecord {
        let mut address = AddressRecord::default();
        self.apply_to(&mut address);
        address
    }
}

/// Attributes of a property.
#[derive(InputObject)]
pub struct PropertyAttributes {
    pub address: AddressAttributes,
}

/// A custom field value for a new record (the configuration id is nullable in Jobber's schema;
/// a missing one is a "not found" user error here).
#[derive(InputObject)]
pub struct CustomFieldCreateInput {
    pub custom_field_configuration_id: Option<EncodedId>,
    pub value_text: Option<String>,
    pub value_numeric: Option<f64>,
    pub value_dropdown: Option<String>,
}

/// Attributes for creating a new client.
#[derive(InputObject)]
pub struct ClientCreateInput {
    pub title: Option<ClientTitle>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub is_company: Option<bool>,
    pub phones: Option<Vec<PhoneNumberCreateAttributes>>,
    pub emails: Option<Vec<EmailCreateAttributes>>,
    pub properties: Option<Vec<PropertyAttributes>>,
    pub billing_address: Option<AddressAttributes>,
    pub custom_fields: Option<Vec<CustomFieldCreateInput>>,
}

/// Attributes for updating a client.
#[derive(InputObject)]
pub struct ClientEditInput {
    pub title: Option<ClientTitle>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub is_company: Option<bool>,
    pub phones_to_add: Option<Vec<PhoneNumberCreateAttributes>>,
    pub phones_to_edit: Option<Vec<PhoneNumberUpdateAttributes>>,
    pub phones_to_delete: Option<Vec<EncodedId>>,
    pub emails_to_add: Option<Vec<EmailCreateAttributes>>,
    pub emails_to_edit: Option<Vec<EmailUpdateAttributes>>,
    pub emails_to_delete: Option<Vec<EncodedId>>,
    pub billing_address: Option<AddressAttributes>,
}

/// Attributes for creating new properties.
#[derive(InputObject)]
pub struct PropertyCreateInput {
    pub properties: Option<Vec<PropertyAttributes>>,
}

/// A discount or deposit: a percentage or a fixed amount.
#[derive(InputObject)]
pub struct CostModifierAttributes {
    pub rate: f64,
    #[graphql(name = "type")]
    pub kind: CostModifierTypeEnum,
}

impl From<&CostModifierAttributes> for CostModifierRecord {
    fn from(m: &CostModifierAttributes) -> Self {
        Self { rate: m.rate, percent: m.kind == CostModifierTypeEnum::Percent }
    }
}

/// Attributes for creating a new line item in quotes (`unitPrice` and `quantity` are nullable in
/// Jobber's schema: the sandbox takes a missing price as 0 and a missing quantity as 1).
#[derive(InputObject)]
pub struct QuoteCreateLineItemAttributes {
    pub name: String,
    pub description: Option<String>,
    pub category: Option<ProductsAndServicesCategory>,
    pub unit_price: Option<f64>,
    pub quantity: Option<f64>,
    pub taxable: Option<bool>,
    pub save_to_products_and_services: bool,
    pub unit_cost: Option<f64>,
    pub optional: Option<bool>,
    pub recommended: Option<bool>,
}

/// Attributes for creating a new text line item in quotes.
#[derive(InputObject)]
pub struct QuoteCreateTextLineItemAttributes {
    pub name: String,
    pub description: Option<String>,
    pub category: Option<ProductsAndServicesCategory>,
}

/// Attributes for modifying existing line items on an existing quote.
#[derive(InputObject)]
pub struct QuoteEditLineItemAttributes {
    pub line_item_id: EncodedId,
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit_price: Option<f64>,
    pub quantity: Option<f64>,
    pub taxable: Option<bool>,
    pub category: Option<ProductsAndServicesCategory>,
    pub sort_order: Option<i32>,
    pub unit_cost: Option<f64>,
    pub optional: Option<bool>,
    pub recommended: Option<bool>,
}

/// Attributes for creating a new quote.
#[derive(InputObject)]
pub struct QuoteCreateAttributes {
    pub title: Option<String>,
    pub message: Option<String>,
    pub quote_number: Option<i32>,
    pub deposit: Option<CostModifierAttributes>,
    pub discount: Option<CostModifierAttributes>,
    pub client_id: EncodedId,
    pub property_id: EncodedId,
    pub line_items: Vec<QuoteCreateLineItemAttributes>,
    pub custom_fields: Option<Vec<CustomFieldCreateInput>>,
}

/// Attributes for modifying an existing quote (line items are changed by their own mutations).
#[derive(InputObject)]
pub struct QuoteEditAttributes {
    pub title: Option<String>,
    pub message: Option<String>,
    pub quote_number: Option<String>,
    pub discount: Option<CostModifierAttributes>,
    pub deposit: Option<CostModifierAttributes>,
}

/// Attributes for creating a quote note.
#[derive(InputObject)]
pub struct QuoteCreateNoteInput {
    pub message: Option<String>,
}

/// Attributes for filtering clients.
#[derive(InputObject, Default)]
pub struct ClientFilterAttributes {
    pub is_company: Option<bool>,
    pub is_lead: Option<bool>,
    pub is_archived: Option<bool>,
    pub updated_at: Option<Iso8601DateTimeRangeInput>,
    pub created_at: Option<Iso8601DateTimeRangeInput>,
}

/// Fields a client search looks in (all of them when `searchFields` is not given). Billing
/// addresses are not among them.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientSearchField {
    /// first name, last name, company name
    Names,
    Emails,
    PrimaryEmail,
    Phones,
    /// The sandbox keeps no client notes: matches nothing.
    Notes,
    CustomFields,
    /// The client's property addresses.
    Properties,
}

/// Attributes for filtering properties.
#[derive(InputObject, Default)]
pub struct PropertiesFilterAttributes {
    pub client_id: Option<EncodedId>,
}

/// Select a range of Int: `eq`, or `min` and/or `max` (bounds included).
#[derive(InputObject)]
pub struct IntRangeInput {
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub eq: Option<i32>,
}

impl IntRangeInput {
    pub fn contains(&self, n: i64) -> bool {
        self.eq.is_none_or(|eq| n == i64::from(eq))
            && self.min.is_none_or(|min| n >= i64::from(min))
            && self.max.is_none_or(|max| n <= i64::from(max))
    }
}

/// Select a range of Float: `eq`, or `min` and/or `max` (bounds included).
#[derive(InputObject)]
pub struct FloatRangeInput {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub eq: Option<f64>,
}

impl FloatRangeInput {
    pub fn contains(&self, x: f64) -> bool {
        self.eq.is_none_or(|eq| (x - eq).abs() < 0.005)
            && self.min.is_none_or(|min| x >= min)
            && self.max.is_none_or(|max| x <= max)
    }
}

/// Select a range of ISO8601DateTime: `eq`, or `after` and/or `before`. The sandbox compares at
/// the second (the precision the type shows) and includes the bounds.
#[derive(InputObject)]
pub struct Iso8601DateTimeRangeInput {
    pub before: Option<DateTime>,
    pub after: Option<DateTime>,
    pub eq: Option<DateTime>,
}

impl Iso8601DateTimeRangeInput {
    pub fn contains(&self, unix_ms: i64) -> bool {
        let second = |ms: i64| ms.div_euclid(1000);
        let at = second(unix_ms);
        self.eq.is_none_or(|eq| at == second(eq.0))
            && self.after.is_none_or(|after| at >= second(after.0))
            && self.before.is_none_or(|before| at <= second(before.0))
    }
}

/// Attributes for filtering quotes (`cost` is the quote's total; the sandbox has no sent dates
/// or salespeople, so `sentAt` and `salespersonId` are not offered).
#[derive(InputObject, Default)]
pub struct QuoteFilterAttributes {
    pub client_id: Option<EncodedId>,
    pub quote_number: Option<IntRangeInput>,
    pub status: Option<QuoteStatusTypeEnum>,
    pub cost: Option<FloatRangeInput>,
    pub updated_at: Option<Iso8601DateTimeRangeInput>,
    pub created_at: Option<Iso8601DateTimeRangeInput>,
}

/// Sort directions.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum SortDirectionEnum {
    Ascending,
    Descending,
}

/// What quotes can be sorted by. Events the sandbox never records (sending, changes requested,
/// conversion) have no date: those keys sort every quote as "no date" (ties keep creation order).
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum QuotesSortKey {
    #[graphql(name = "PROPERTY_STREET1")]
    PropertyStreet1,
    ClientPrimaryName,
    ClientFirstName,
    ClientLastName,
    CreatedAt,
    LastSentAt,
    LastChangesRequestedAt,
    ApprovedAt,
    ConvertedAt,
    ArchivedAt,
    QuoteNumber,
    QuoteStatus,
    QuoteTotal,
}

/// One sort of a quotes list.
#[derive(InputObject, Clone, Copy)]
pub struct QuotesSortInput {
    pub key: QuotesSortKey,
    pub direction: SortDirectionEnum,
}

/// CustomFieldConfigurations filter input.
#[derive(InputObject, Default)]
pub struct CustomFieldConfigurationsFilterInput {
    pub applies_to: Option<super::types::CustomFieldAppliesTo>,
    pub value_type: Option<super::types::CustomFieldConfigurationValueType>,
}

/// Attributes for creating a new line item on a job (`unitPrice` and `quantity` are required,
/// unlike a quote line's).
#[derive(InputObject)]
pub struct JobCreateLineItemAttributes {
    pub name: String,
    pub description: Option<String>,
    pub category: Option<ProductsAndServicesCategory>,
    pub taxable: Option<bool>,
    pub save_to_products_and_services: bool,
    pub unit_cost: Option<f64>,
    pub unit_price: f64,
    pub quantity: f64,
}

/// Inputs for creating new line items on a job.
#[derive(InputObject)]
pub struct JobCreateLineItemsInput {
    pub line_items: Vec<JobCreateLineItemAttributes>,
}

/// Input for removing line items on a job.
#[derive(InputObject)]
pub struct JobDeleteLineItemsInput {
    pub line_item_ids: Vec<EncodedId>,
}

/// Attributes for filtering jobs (the sandbox offers `createdAt`, `ids` and `status`; `status:
/// active` takes every job in progress).
#[derive(InputObject, Default)]
pub struct JobFilterAttributes {
    pub created_at: Option<Iso8601DateTimeRangeInput>,
    pub ids: Option<Vec<EncodedId>>,
    pub status: Option<JobStatusTypeEnum>,
}
