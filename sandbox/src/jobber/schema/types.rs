//! Jobber's output types, each a thin view over a record of `crate::state`.
//!
//! Names, types, nullability, arguments and deprecations follow Jobber's public schema of version
//! 2025-04-16 (`schema-2025-04-16-subset.graphql`; `tests/it/sandbox/schema.rs` checks every
//! served type, field and argument against it); only fields the bridge plausibly reads exist, and
//! none whose type the reference gives only as a placeholder. Relations (a quote's client, a
//! client's quotes…) are looked up at resolve time so they are never stale.

use async_graphql::{Context, Enum, Object, Result, Scalar, ScalarType, SimpleObject, Union, Value};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use super::connection::{connection, paginate, PageArgs};
use super::Session;
use crate::clock::{iso8601, parse_iso8601};
use crate::config::{CustomFieldTarget, CustomFieldValueType};
use crate::jobber::ids::EncodedId;
use crate::state::{
    AddressRecord, ClientRecord, CostModifierRecord, CustomFieldConfigurationRecord, CustomFieldValue,
    CustomFieldValueRecord, EmailRecord, JobRecord, JobStatus, LineItemRecord, PhoneRecord, PropertyRecord,
    QuoteRecord, QuoteStatus,
};

/// Jobber's `ISO8601DateTime` (Unix ms; shown to the second in UTC, `2025-07-08T17:02:11Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub i64);

#[Scalar(name = "ISO8601DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            Value::String(text) => parse_iso8601(text).map(DateTime).ok_or_else(|| {
                async_graphql::InputValueError::custom(format!("\"{text}\" is not a valid ISO8601DateTime"))
            }),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
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
    #[graphql(
        deprecation = "Favoring connection types, use `clientProperties`. Once confident all users have migrated, this field will become a connection type."
    )]
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

/// A client's email address.
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

/// A client's phone number.
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

/// A client's billing address: every part is `String!` in Jobber (empty when not set).
#[derive(Clone)]
pub struct ClientAddress(pub AddressRecord);

#[Object]
impl ClientAddress {
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

/// A part of a property address: Jobber's parts are nullable, and an empty one is `null`.
fn part(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

/// A property's address: every part nullable (`null` when empty), `street` always a string.
#[derive(Clone)]
pub struct PropertyAddress(pub AddressRecord);

#[Object]
impl PropertyAddress {
    async fn street1(&self) -> Option<&str> {
        part(&self.0.street1)
    }
    async fn street2(&self) -> Option<&str> {
        part(&self.0.street2)
    }
    async fn street(&self) -> String {
        self.0.street()
    }
    async fn city(&self) -> Option<&str> {
        part(&self.0.city)
    }
    async fn province(&self) -> Option<&str> {
        part(&self.0.province)
    }
    async fn postal_code(&self) -> Option<&str> {
        part(&self.0.postal_code)
    }
    async fn country(&self) -> Option<&str> {
        part(&self.0.country)
    }
}

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
    #[graphql(deprecation = "Use the fields available on 'address' instead")]
    async fn street(&self) -> String {
        self.0.address.street()
    }
    #[graphql(deprecation = "Use the fields available on 'address' instead")]
    async fn street1(&self) -> &str {
        &self.0.address.street1
    }
    #[graphql(deprecation = "Use the fields available on 'address' instead")]
    async fn street2(&self) -> &str {
        &self.0.address.street2
    }
    #[graphql(deprecation = "Use the fields available on 'address' instead")]
    async fn city(&self) -> &str {
        &self.0.address.city
    }
    #[graphql(deprecation = "Use the fields available on 'address' instead")]
    async fn province(&self) -> &str {
        &self.0.address.province
    }
    #[graphql(deprecation = "Use the fields available on 'address' instead")]
    async fn postal_code(&self) -> &str {
        &self.0.address.postal_code
    }
    #[graphql(deprecation = "Use the fields available on 'address' instead")]
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
    async fn category(&self) -> ProductsAndServicesCategory {
        ProductsAndServicesCategory::from_label(self.0.category.as_deref())
    }
    async fn quantity(&self) -> f64 {
        self.0.quantity
    }
    #[graphql(deprecation = "Use `quantity` field")]
    async fn qty(&self) -> f64 {
        self.0.quantity
    }
    async fn sort_order(&self) -> Option<i32> {
        Some(self.0.sort_order)
    }
    async fn unit_price(&self) -> f64 {
        self.0.unit_price
    }
    async fn unit_cost(&self) -> Option<f64> {
        Some(self.0.unit_cost)
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

/// The category of a line item (Jobber's `ProductsAndServicesCategory`).
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProductsAndServicesCategory {
    Product,
    Service,
    Labour,
}

impl ProductsAndServicesCategory {
    /// How the record keeps it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Product => "Product",
            Self::Service => "Service",
            Self::Labour => "Labour",
        }
    }

    /// From the record; none (or an older label such as `Package`) reads as `PRODUCT`.
    pub fn from_label(label: Option<&str>) -> Self {
        match label.map(str::to_ascii_lowercase).as_deref() {
            Some("service") => Self::Service,
            Some("labour") => Self::Labour,
            _ => Self::Product,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Jobs

/// Jobber's job statuses (`JobStatusTypeEnum`), lower snake case as in its schema.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "JobStatusTypeEnum", rename_items = "snake_case")]
pub enum JobStatusTypeEnum {
    RequiresInvoicing,
    Archived,
    Late,
    Today,
    Upcoming,
    ActionRequired,
    OnHold,
    Unscheduled,
    Active,
    #[graphql(name = "expiring_within_30_days")]
    ExpiringWithin30Days,
}

impl From<JobStatus> for JobStatusTypeEnum {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::RequiresInvoicing => Self::RequiresInvoicing,
            JobStatus::Archived => Self::Archived,
            JobStatus::Late => Self::Late,
            JobStatus::Today => Self::Today,
            JobStatus::Upcoming => Self::Upcoming,
            JobStatus::ActionRequired => Self::ActionRequired,
            JobStatus::OnHold => Self::OnHold,
            JobStatus::Unscheduled => Self::Unscheduled,
            JobStatus::Active => Self::Active,
            JobStatus::ExpiringWithin30Days => Self::ExpiringWithin30Days,
        }
    }
}

impl From<JobStatusTypeEnum> for JobStatus {
    fn from(status: JobStatusTypeEnum) -> Self {
        match status {
            JobStatusTypeEnum::RequiresInvoicing => Self::RequiresInvoicing,
            JobStatusTypeEnum::Archived => Self::Archived,
            JobStatusTypeEnum::Late => Self::Late,
            JobStatusTypeEnum::Today => Self::Today,
            JobStatusTypeEnum::Upcoming => Self::Upcoming,
            JobStatusTypeEnum::ActionRequired => Self::ActionRequired,
            JobStatusTypeEnum::OnHold => Self::OnHold,
            JobStatusTypeEnum::Unscheduled => Self::Unscheduled,
            JobStatusTypeEnum::Active => Self::Active,
            JobStatusTypeEnum::ExpiringWithin30Days => Self::ExpiringWithin30Days,
        }
    }
}

/// A job's total: Σ quantity × unit price, each line to the cent.
pub fn job_total(job: &JobRecord) -> f64 {
    let total: Decimal =
        job.line_items.iter().map(|li| (decimal(li.quantity) * decimal(li.unit_price)).round_dp(2)).sum();
    money(total)
}

/// A detailed contract of work (Jobber's `Job`): the fields the bridge reads.
#[derive(Clone)]
pub struct Job(pub JobRecord);

#[Object]
impl Job {
    async fn id(&self) -> EncodedId {
        EncodedId::new("Job", self.0.id)
    }
    async fn job_number(&self) -> i32 {
        i32::try_from(self.0.job_number).unwrap_or(i32::MAX)
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    async fn job_status(&self) -> JobStatusTypeEnum {
        self.0.status.into()
    }
    /// Non-null in Jobber: a job whose client is gone (removed through the admin API) is an error.
    async fn client(&self, ctx: &Context<'_>) -> Result<Client> {
        let id = self.0.client_id;
        Session::of(ctx)
            .read(|account| account.clients.get(&id).cloned().map(Client))
            .ok_or_else(|| "the job's client no longer exists".into())
    }
    async fn property(&self, ctx: &Context<'_>) -> Result<Property> {
        let id = self.0.property_id;
        Session::of(ctx)
            .read(|account| account.properties.get(&id).cloned().map(Property))
            .ok_or_else(|| "the job's property no longer exists".into())
    }
    async fn line_items(
        &self,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<JobLineItemConnection> {
        let all = self.0.line_items.iter().cloned().map(JobLineItem).collect();
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }
    async fn total(&self) -> f64 {
        job_total(&self.0)
    }
    async fn jobber_web_uri(&self, ctx: &Context<'_>) -> String {
        web_uri(ctx, "jobs", self.0.id)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// One line of a job (no optional/recommended/text lines on a job).
#[derive(Clone)]
pub struct JobLineItem(pub LineItemRecord);

#[Object]
impl JobLineItem {
    async fn id(&self) -> EncodedId {
        EncodedId::new("JobLineItem", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn category(&self) -> ProductsAndServicesCategory {
        ProductsAndServicesCategory::from_label(self.0.category.as_deref())
    }
    async fn quantity(&self) -> f64 {
        self.0.quantity
    }
    async fn unit_price(&self) -> f64 {
        self.0.unit_price
    }
    async fn unit_cost(&self) -> Option<f64> {
        Some(self.0.unit_cost)
    }
    async fn total_price(&self) -> f64 {
        money((decimal(self.0.quantity) * decimal(self.0.unit_price)).round_dp(2))
    }
    async fn total_cost(&self) -> Option<f64> {
        Some(money((decimal(self.0.quantity) * decimal(self.0.unit_cost)).round_dp(2)))
    }
    async fn taxable(&self) -> bool {
        self.0.taxable
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
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
    AllProductsAndServices,
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
            async fn archived(&self) -> bool {
                false
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
    /// A numeric custom field configuration. Jobber's schema file gives this type only as a
    /// placeholder whose real type implements `CustomFieldConfigurationInterface`: it has exactly
    /// that interface's fields here, nothing of its own (no `defaultValue`, no `unit`).
    CustomFieldConfigurationNumeric {
        async fn value_type(&self) -> CustomFieldConfigurationValueType {
            CustomFieldConfigurationValueType::Numeric
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

/// The connection of custom field configurations. Its `edges` are not served: their type,
/// `CustomFieldConfigurationEdge`, is only a placeholder in Jobber's schema file.
#[derive(SimpleObject)]
pub struct CustomFieldConfigurationConnection {
    pub nodes: Vec<CustomFieldConfiguration>,
    pub page_info: super::connection::PageInfo,
    pub total_count: i32,
}

impl From<super::connection::Page<CustomFieldConfiguration>> for CustomFieldConfigurationConnection {
    fn from(page: super::connection::Page<CustomFieldConfiguration>) -> Self {
        Self {
            nodes: page.items.into_iter().map(|(_, node)| node).collect(),
            page_info: page.page_info,
            total_count: page.total_count,
        }
    }
}

/// A text custom field value.
#[derive(SimpleObject, Clone)]
pub struct CustomFieldText {
    pub custom_field_configuration: CustomFieldConfigurationText,
    pub id: Option<EncodedId>,
    pub label: String,
    pub value_text: String,
}

/// A numeric custom field value.
#[derive(SimpleObject, Clone)]
pub struct CustomFieldNumeric {
    pub custom_field_configuration: CustomFieldConfigurationNumeric,
    pub id: Option<EncodedId>,
    pub label: String,
    pub unit: String,
    pub value_numeric: f64,
}

/// Union of custom fields (the sandbox implements the text and numeric members).
#[derive(Union, Clone)]
pub enum CustomFieldUnion {
    CustomFieldNumeric(CustomFieldNumeric),
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
                        CustomFieldUnion::CustomFieldNumeric(CustomFieldNumeric {
                            custom_field_configuration: CustomFieldConfigurationNumeric(config),
                            id,
                            label,
                            unit: String::new(),
                            value_numeric: *number,
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
connection!(JobConnection, JobEdge, Job);
connection!(JobLineItemConnection, JobLineItemEdge, JobLineItem);

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
