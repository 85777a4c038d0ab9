//! Jobber's output types, each a thin view over a record of `crate::state`.
//!
//! Field names, types and nullability follow `schema-subset-2022-03-10.graphql` exactly (checked by
//! `tests/it/sandbox/schema.rs`); only fields the bridge plausibly reads exist. Relations (a
//! quote's client, a client's quotes…) are looked up at resolve time so they are never stale.

use async_graphql::{Context, Enum, Object, Result, Scalar, ScalarType, SimpleObject, Union, Value};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use super::connection::{connection, paginate, PageArgs};
use super::Session;
use crate::clock::iso8601;
use crate::config::{CustomFieldTarget, CustomFieldValueType};
use crate::jobber::ids::EncodedId;
use crate::state::{
    AddressRecord, ClientRecord, CostModifierRecord, CustomFieldConfigurationRecord, CustomFieldValue,
    CustomFieldValueRecord, EmailRecord, LineItemRecord, NoteRecord, PhoneRecord, PropertyRecord,
    QuoteRecord, QuoteStatus,
};

/// Jobber's `ISO8601DateTime` (output only in this sandbox: no filter takes dates).
#[derive(Clone, Copy, Debug)]
pub struct DateTime(pub i64);

#[Scalar(name = "ISO8601DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        Err(async_graphql::InputValueError::custom(format!(
            "date inputs are not supported by sj-sandbox: {value}"
        )))
    }

    fn to_value(&self) -> Value {
        Value::String(iso8601(self.0))
    }
}

/// `jobberWebUri`: the record's page in the sandbox's stand-in for Jobber Online
/// (`{base url}/web/{quotes,clients,properties}/{id}`, see `crate::jobber::web`).
fn web_uri(ctx: &Context<'_>, kind: &str, id: u64) -> String {
    crate::jobber::web::uri(Session::of(ctx).shared.base_url(), kind, id)
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Clients are the customers who pay for services.
#[derive(Clone)]
pub struct Client(pub ClientRecord);

impl Client {
    fn property_list(&self, ctx: &Context<'_>) -> Vec<Property> {
        let id = self.0.id;
        Session::of(ctx).read(|account| {
            account.properties.values().filter(|p| p.client_id == id).cloned().map(Property).collect()
        })
    }
}

#[Object]
impl Client {
    async fn id(&self) -> EncodedId {
        EncodedId::new("Client", self.0.id)
    }
    async fn name(&self) -> String {
        self.0.name()
    }
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    async fn company_name(&self) -> Option<&str> {
        self.0.company_name.as_deref()
    }
    async fn is_company(&self) -> bool {
        self.0.is_company
    }
    async fn is_archived(&self) -> bool {
        self.0.is_archived
    }
    async fn is_lead(&self) -> bool {
        self.0.is_lead
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    async fn emails(&self) -> Vec<Email> {
        self.0.emails.iter().cloned().map(Email).collect()
    }
    async fn phones(&self) -> Vec<ClientPhoneNumber> {
        self.0.phones.iter().cloned().map(ClientPhoneNumber).collect()
    }
    async fn billing_address(&self) -> Option<ClientAddress> {
        self.0.billing_address.clone().map(ClientAddress)
    }
    async fn properties(&self, ctx: &Context<'_>) -> Vec<Property> {
        self.property_list(ctx)
    }
    async fn client_properties(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<PropertyConnection> {
        let all = self.property_list(ctx);
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }
    async fn quotes(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<QuoteConnection> {
        let id = self.0.id;
        let all = Session::of(ctx).read(|account| {
            account.quotes.values().filter(|q| q.client_id == id).cloned().map(Quote).collect()
        });
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }
    async fn custom_fields(&self, ctx: &Context<'_>) -> Vec<CustomFieldUnion> {
        custom_field_values(ctx, &self.0.custom_fields)
    }
    async fn jobber_web_uri(&self, ctx: &Context<'_>) -> String {
        web_uri(ctx, "clients", self.0.id)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// A client's email address. `Email` is outside the 2022 schema extract; its fields follow
/// Jobber's public API documentation.
#[derive(Clone)]
pub struct Email(pub EmailRecord);

#[Object]
impl Email {
    async fn id(&self) -> EncodedId {
        EncodedId::new("Email", self.0.id)
    }
    async fn address(&self) -> &str {
        &self.0.address
    }
    async fn primary(&self) -> bool {
        self.0.primary
    }
}

/// A client's phone number (outside the 2022 extract, like [`Email`]).
#[derive(Clone)]
pub struct ClientPhoneNumber(pub PhoneRecord);

#[Object]
impl ClientPhoneNumber {
    async fn id(&self) -> EncodedId {
        EncodedId::new("ClientPhoneNumber", self.0.id)
    }
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn primary(&self) -> bool {
        self.0.primary
    }
    async fn sms_allowed(&self) -> bool {
        self.0.sms_allowed
    }
}

/// Address fields shared by [`ClientAddress`] and [`PropertyAddress`] (outside the 2022 extract).
macro_rules! address_type {
    ($name:ident) => {
        /// A postal address.
        #[derive(Clone)]
        pub struct $name(pub AddressRecord);

        #[Object]
        impl $name {
            async fn street1(&self) -> &str {
                &self.0.street1
            }
            async fn street2(&self) -> &str {
                &self.0.street2
            }
            async fn street(&self) -> String {
                self.0.street()
            }
            async fn city(&self) -> &str {
                &self.0.city
            }
            async fn province(&self) -> &str {
                &self.0.province
            }
            async fn postal_code(&self) -> &str {
                &self.0.postal_code
            }
            async fn country(&self) -> &str {
                &self.0.country
            }
        }
    };
}
address_type!(ClientAddress);
address_type!(PropertyAddress);

// ---------------------------------------------------------------------------------------------
// Properties

/// A location owned by a client where the work happens.
#[derive(Clone)]
pub struct Property(pub PropertyRecord);

#[Object]
impl Property {
    async fn id(&self) -> EncodedId {
        EncodedId::new("Property", self.0.id)
    }
    async fn address(&self) -> PropertyAddress {
        PropertyAddress(self.0.address.clone())
    }
    async fn client(&self, ctx: &Context<'_>) -> Option<Client> {
        let id = self.0.client_id;
        Session::of(ctx).read(|account| account.clients.get(&id).cloned().map(Client))
    }
    async fn street(&self) -> String {
        self.0.address.street()
    }
    async fn street1(&self) -> &str {
        &self.0.address.street1
    }
    async fn street2(&self) -> &str {
        &self.0.address.street2
    }
    async fn city(&self) -> &str {
        &self.0.address.city
    }
    async fn province(&self) -> &str {
        &self.0.address.province
    }
    async fn postal_code(&self) -> &str {
        &self.0.address.postal_code
    }
    async fn country(&self) -> &str {
        &self.0.address.country
    }
    async fn is_billing_address(&self) -> Option<bool> {
        Some(self.0.is_billing_address)
    }
    async fn jobber_web_uri(&self, ctx: &Context<'_>) -> String {
        web_uri(ctx, "properties", self.0.id)
    }
    async fn quotes(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<QuoteConnection> {
        let id = self.0.id;
        let all = Session::of(ctx).read(|account| {
            account.quotes.values().filter(|q| q.property_id == id).cloned().map(Quote).collect()
        });
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }
}

// ---------------------------------------------------------------------------------------------
// Quotes

/// Jobber's quote statuses, spelled in lower snake case as in its schema.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "QuoteStatusTypeEnum", rename_items = "snake_case")]
pub enum QuoteStatusTypeEnum {
    Draft,
    AwaitingResponse,
    Archived,
    Approved,
    Converted,
    ChangesRequested,
}

impl From<QuoteStatus> for QuoteStatusTypeEnum {
    fn from(status: QuoteStatus) -> Self {
        match status {
            QuoteStatus::Draft => Self::Draft,
            QuoteStatus::AwaitingResponse => Self::AwaitingResponse,
            QuoteStatus::Archived => Self::Archived,
            QuoteStatus::Approved => Self::Approved,
            QuoteStatus::Converted => Self::Converted,
            QuoteStatus::ChangesRequested => Self::ChangesRequested,
        }
    }
}

impl From<QuoteStatusTypeEnum> for QuoteStatus {
    fn from(status: QuoteStatusTypeEnum) -> Self {
        match status {
            QuoteStatusTypeEnum::Draft => Self::Draft,
            QuoteStatusTypeEnum::AwaitingResponse => Self::AwaitingResponse,
            QuoteStatusTypeEnum::Archived => Self::Archived,
            QuoteStatusTypeEnum::Approved => Self::Approved,
            QuoteStatusTypeEnum::Converted => Self::Converted,
            QuoteStatusTypeEnum::ChangesRequested => Self::ChangesRequested,
        }
    }
}

/// Percent of an amount, or a fixed (`Unit`) amount.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "PascalCase")]
pub enum CostModifierTypeEnum {
    Percent,
    Unit,
}

/// A discount or deposit on a quote.
#[derive(SimpleObject, Clone)]
pub struct CostModifier {
    pub rate: f64,
    #[graphql(name = "type")]
    pub kind: CostModifierTypeEnum,
}

impl From<&CostModifierRecord> for CostModifier {
    fn from(m: &CostModifierRecord) -> Self {
        let kind = if m.percent { CostModifierTypeEnum::Percent } else { CostModifierTypeEnum::Unit };
        Self { rate: m.rate, kind }
    }
}

/// A cost estimate sent to a client before any work is done.
#[derive(Clone)]
pub struct Quote(pub QuoteRecord);

#[Object]
impl Quote {
    async fn id(&self) -> EncodedId {
        EncodedId::new("Quote", self.0.id)
    }
    async fn quote_number(&self) -> &str {
        &self.0.quote_number
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    async fn quote_status(&self) -> QuoteStatusTypeEnum {
        self.0.status.into()
    }
    async fn amounts(&self) -> QuoteAmounts {
        QuoteAmounts::of(&self.0)
    }
    async fn discount(&self) -> Option<CostModifier> {
        self.0.discount.as_ref().map(CostModifier::from)
    }
    async fn deposit(&self) -> Option<CostModifier> {
        self.0.deposit.as_ref().map(CostModifier::from)
    }
    async fn line_items(
        &self,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<QuoteLineItemConnection> {
        let all = self.0.line_items.iter().cloned().map(QuoteLineItem).collect();
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }
    async fn notes(
        &self,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<QuoteNoteConnection> {
        let all = self.0.notes.iter().cloned().map(QuoteNote).collect();
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }
    async fn client(&self, ctx: &Context<'_>) -> Option<Client> {
        let id = self.0.client_id;
        Session::of(ctx).read(|account| account.clients.get(&id).cloned().map(Client))
    }
    async fn property(&self, ctx: &Context<'_>) -> Option<Property> {
        let id = self.0.property_id;
        Session::of(ctx).read(|account| account.properties.get(&id).cloned().map(Property))
    }
    async fn custom_fields(&self, ctx: &Context<'_>) -> Vec<CustomFieldUnion> {
        custom_field_values(ctx, &self.0.custom_fields)
    }
    async fn jobber_web_uri(&self, ctx: &Context<'_>) -> String {
        web_uri(ctx, "quotes", self.0.id)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// All amounts of a quote, computed from its line items (the sandbox has no tax rates).
#[derive(SimpleObject)]
pub struct QuoteAmounts {
    pub deposit_amount: f64,
    pub discount_amount: f64,
    pub non_tax_amount: f64,
    pub outstanding_deposit_amount: f64,
    pub subtotal: f64,
    pub tax_amount: f64,
    pub total: f64,
}

fn decimal(value: f64) -> Decimal {
    Decimal::from_f64(value).unwrap_or_default()
}

fn money(value: Decimal) -> f64 {
    value.round_dp(2).to_f64().unwrap_or_default()
}

impl QuoteAmounts {
    /// Sums in decimal (never binary floats), each line rounded to cents as an invoice shows it.
    /// Text lines and optional lines the client has not chosen (not recommended) count nothing.
    pub fn of(quote: &QuoteRecord) -> Self {
        let counted = quote.line_items.iter().filter(|li| !li.text_only && (!li.optional || li.recommended));
        let mut subtotal = Decimal::ZERO;
        let mut non_tax = Decimal::ZERO;
        for item in counted {
            let line = (decimal(item.quantity) * decimal(item.unit_price)).round_dp(2);
            subtotal += line;
            if !item.taxable {
                non_tax += line;
            }
        }
        let apply = |modifier: &Option<CostModifierRecord>, base: Decimal| match modifier {
            Some(m) if m.percent => (base * decimal(m.rate) / Decimal::ONE_HUNDRED).round_dp(2),
            Some(m) => decimal(m.rate),
            None => Decimal::ZERO,
        };
        let discount = apply(&quote.discount, subtotal);
        let total = subtotal - discount;
        let deposit = apply(&quote.deposit, total);
        Self {
            deposit_amount: money(deposit),
            discount_amount: money(discount),
            non_tax_amount: money(non_tax),
            outstanding_deposit_amount: money(deposit),
            subtotal: money(subtotal),
            tax_amount: 0.0,
            total: money(total),
        }
    }
}

/// One line of a quote.
#[derive(Clone)]
pub struct QuoteLineItem(pub LineItemRecord);

#[Object]
impl QuoteLineItem {
    async fn id(&self) -> EncodedId {
        EncodedId::new("QuoteLineItem", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn category(&self) -> &str {
        self.0.category.as_deref().unwrap_or("Product")
    }
    async fn quantity(&self) -> f64 {
        self.0.quantity
    }
    async fn qty(&self) -> f64 {
        self.0.quantity
    }
    async fn unit_price(&self) -> f64 {
        self.0.unit_price
    }
    async fn unit_cost(&self) -> f64 {
        self.0.unit_cost
    }
    async fn total_price(&self) -> f64 {
        money((decimal(self.0.quantity) * decimal(self.0.unit_price)).round_dp(2))
    }
    async fn taxable(&self) -> bool {
        self.0.taxable
    }
    async fn optional(&self) -> bool {
        self.0.optional
    }
    async fn recommended(&self) -> Option<bool> {
        Some(self.0.recommended)
    }
    async fn text_only(&self) -> bool {
        self.0.text_only
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// A note on a quote.
#[derive(Clone)]
pub struct QuoteNote(pub NoteRecord);

#[Object]
impl QuoteNote {
    async fn id(&self) -> EncodedId {
        EncodedId::new("QuoteNote", self.0.id)
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

// ---------------------------------------------------------------------------------------------
// Custom fields

/// What a custom field configuration applies to.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CustomFieldAppliesTo {
    AllProperties,
    AllClients,
    AllQuotes,
    AllJobs,
    AllInvoices,
    Team,
}

impl From<CustomFieldTarget> for CustomFieldAppliesTo {
    fn from(target: CustomFieldTarget) -> Self {
        match target {
            CustomFieldTarget::AllClients => Self::AllClients,
            CustomFieldTarget::AllProperties => Self::AllProperties,
            CustomFieldTarget::AllQuotes => Self::AllQuotes,
            CustomFieldTarget::AllJobs => Self::AllJobs,
            CustomFieldTarget::AllInvoices => Self::AllInvoices,
        }
    }
}

/// The value type of a custom field configuration.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CustomFieldConfigurationValueType {
    Text,
    Link,
    Area,
    TrueFalse,
    Numeric,
    Dropdown,
}

/// A custom field configuration type: the fields they all share, plus `$extra` resolvers.
/// (The whole `#[Object]` impl comes from the macro: the attribute cannot see into a macro call
/// placed inside an impl block.)
macro_rules! custom_field_configuration_type {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(pub CustomFieldConfigurationRecord);

        #[Object]
        impl $name {
            async fn id(&self) -> EncodedId {
                EncodedId::new("CustomFieldConfiguration", self.0.id)
            }
            async fn name(&self) -> &str {
                &self.0.name
            }
            async fn applies_to(&self) -> CustomFieldAppliesTo {
                self.0.applies_to.into()
            }
            async fn read_only(&self) -> bool {
                false
            }
            async fn sort_order(&self) -> i32 {
                self.0.sort_order
            }
            async fn transferable(&self) -> bool {
                false
            }
            async fn created_at(&self) -> DateTime {
                DateTime(self.0.created_at)
            }
            async fn updated_at(&self) -> DateTime {
                DateTime(self.0.created_at)
            }
            $($extra)*
        }
    };
}

custom_field_configuration_type!(
    /// A text custom field configuration.
    CustomFieldConfigurationText {
        async fn value_type(&self) -> CustomFieldConfigurationValueType {
            CustomFieldConfigurationValueType::Text
        }
        async fn default_value(&self) -> &str {
            &self.0.default_value
        }
    }
);

custom_field_configuration_type!(
    /// A numeric custom field configuration.
    CustomFieldConfigurationNumeric {
        async fn value_type(&self) -> CustomFieldConfigurationValueType {
            CustomFieldConfigurationValueType::Numeric
        }
        async fn default_value(&self) -> f64 {
            self.0.default_value.trim().parse().unwrap_or(0.0)
        }
        async fn unit(&self) -> &str {
            ""
        }
    }
);

/// Custom Field Configuration Type (the sandbox implements the text and numeric members).
#[derive(Union, Clone)]
pub enum CustomFieldConfiguration {
    CustomFieldConfigurationNumeric(CustomFieldConfigurationNumeric),
    CustomFieldConfigurationText(CustomFieldConfigurationText),
}

impl From<CustomFieldConfigurationRecord> for CustomFieldConfiguration {
    fn from(record: CustomFieldConfigurationRecord) -> Self {
        match record.value_type {
            CustomFieldValueType::Text => {
                Self::CustomFieldConfigurationText(CustomFieldConfigurationText(record))
            }
            CustomFieldValueType::Numeric => {
                Self::CustomFieldConfigurationNumeric(CustomFieldConfigurationNumeric(record))
            }
        }
    }
}

connection!(CustomFieldConfigurationConnection, CustomFieldConfigurationEdge, CustomFieldConfiguration);

/// A text custom field value.
#[derive(SimpleObject, Clone)]
pub struct CustomFieldText {
    pub custom_field_configuration: CustomFieldConfigurationText,
    pub id: Option<EncodedId>,
    pub label: String,
    pub value_text: String,
}

/// A number custom field value.
#[derive(SimpleObject, Clone)]
pub struct CustomFieldNumber {
    pub custom_field_configuration: CustomFieldConfigurationNumeric,
    pub id: Option<EncodedId>,
    pub label: String,
    pub unit: String,
    pub value_number: f64,
}

/// Union of custom fields (the text and number members).
#[derive(Union, Clone)]
pub enum CustomFieldUnion {
    CustomFieldNumber(CustomFieldNumber),
    CustomFieldText(CustomFieldText),
}

/// A record's custom field values as Jobber returns them.
fn custom_field_values(ctx: &Context<'_>, values: &[CustomFieldValueRecord]) -> Vec<CustomFieldUnion> {
    Session::of(ctx).read(|account| {
        values
            .iter()
            .filter_map(|v| {
                let config = account.custom_field_configurations.get(&v.configuration_id)?.clone();
                let id = Some(EncodedId::new("CustomFieldValue", v.id));
                let label = config.name.clone();
                Some(match &v.value {
                    CustomFieldValue::Text(text) => CustomFieldUnion::CustomFieldText(CustomFieldText {
                        custom_field_configuration: CustomFieldConfigurationText(config),
                        id,
                        label,
                        value_text: text.clone(),
                    }),
                    CustomFieldValue::Numeric(number) => {
                        CustomFieldUnion::CustomFieldNumber(CustomFieldNumber {
                            custom_field_configuration: CustomFieldConfigurationNumeric(config),
                            id,
                            label,
                            unit: String::new(),
                            value_number: *number,
                        })
                    }
                })
            })
            .collect()
    })
}

connection!(ClientConnection, ClientEdge, Client);
connection!(PropertyConnection, PropertyEdge, Property);
connection!(QuoteConnection, QuoteEdge, Quote);
connection!(QuoteLineItemConnection, QuoteLineItemEdge, QuoteLineItem);
connection!(QuoteNoteConnection, QuoteNoteEdge, QuoteNote);

/// A business-rule failure of a mutation (Jobber's `MutationErrors`).
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct MutationErrors {
    pub message: String,
    pub path: Vec<String>,
}

impl MutationErrors {
    pub fn new(message: impl Into<String>, path: &[&str]) -> Self {
        Self { message: message.into(), path: path.iter().map(|s| s.to_string()).collect() }
    }
}

/// The company that authorized the app (Jobber's `Account`; the `account` query is available to
/// every app whatever its scopes).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Account")]
pub struct AccountView {
    pub id: EncodedId,
    pub name: String,
}

/// The app a token belongs to (Jobber's `Application`, outside the 2022 extract; only `name`,
/// whose type is certain).
#[derive(SimpleObject, Clone, Debug)]
pub struct Application {
    pub name: String,
}
