//! Jobber's input types and input enums, as the mutations take them.
//!
//! Non-null fields are non-null here too, so a missing `propertyId`, `lineItems` or
//! `saveToProductsAndServices` fails GraphQL validation exactly as in Jobber. Two later changes
//! recorded in jobber-api.md are applied: `PropertyAttributes.address` is non-null (2023-08-18) and
//! `customFields` inputs are `[CustomFieldCreateInput!]`.

use async_graphql::{Enum, InputObject};

use super::types::{CostModifierTypeEnum, QuoteStatusTypeEnum};
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

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "PascalCase")]
pub enum WorkItemCategoryTypeEnum {
    Product,
    Service,
    Package,
}

impl WorkItemCategoryTypeEnum {
    pub fn label(self) -> &'static str {
        match self {
            Self::Product => "Product",
            Self::Service => "Service",
            Self::Package => "Package",
        }
    }
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

/// Attributes of a property (address non-null since 2023-08-18).
#[derive(InputObject)]
pub struct PropertyAttributes {
    pub address: AddressAttributes,
}

/// A custom field value for a new record (the 2023-08-18 form).
#[derive(InputObject)]
pub struct CustomFieldCreateInput {
    pub custom_field_configuration_id: EncodedId,
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

/// Attributes for updating a property.
#[derive(InputObject)]
pub struct PropertyEditInput {
    pub address: Option<AddressAttributes>,
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

/// Attributes for creating a new line item in quotes.
#[derive(InputObject)]
pub struct QuoteCreateLineItemAttributes {
    pub name: String,
    pub description: Option<String>,
    pub category: Option<WorkItemCategoryTypeEnum>,
    pub unit_price: f64,
    pub quantity: f64,
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
    pub category: Option<WorkItemCategoryTypeEnum>,
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
    pub category: Option<WorkItemCategoryTypeEnum>,
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
}

/// Attributes for filtering properties.
#[derive(InputObject, Default)]
pub struct PropertiesFilterAttributes {
    pub client_id: Option<EncodedId>,
}

/// Select a range of Int: `eq`, or `min` and/or `max`.
#[derive(InputObject)]
pub struct IntRangeInput {
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub eq: Option<i32>,
}

/// Attributes for filtering quotes.
#[derive(InputObject, Default)]
pub struct QuoteFilterAttributes {
    pub client_id: Option<EncodedId>,
    pub quote_number: Option<IntRangeInput>,
    pub status: Option<QuoteStatusTypeEnum>,
}

/// CustomFieldConfigurations filter input.
#[derive(InputObject, Default)]
pub struct CustomFieldConfigurationsFilterInput {
    pub applies_to: Option<super::types::CustomFieldAppliesTo>,
    pub value_type: Option<super::types::CustomFieldConfigurationValueType>,
}
