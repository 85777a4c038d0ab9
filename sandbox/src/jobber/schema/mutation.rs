//! Jobber's mutations, with its business rules reported as `userErrors` (HTTP 200, null entity).
//!
//! Each mutation validates everything first and changes the store only when nothing failed, so a
//! failed mutation leaves no half-made record behind. Ids that are well formed but of the wrong
//! type, of another account or of nothing are all "not found": Jobber does not tell them apart.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::inputs::*;
use super::types::{Client, Job, JobLineItem, MutationErrors, Property, Quote, QuoteLineItem};
use super::Session;
use crate::config::{CustomFieldTarget, CustomFieldValueType};
use crate::jobber::ids::EncodedId;
use crate::jobber::webhooks::Topic;
use crate::state::{
    Account, AddressRecord, ClientRecord, CostModifierRecord, CustomFieldValue, CustomFieldValueRecord,
    EmailRecord, LineItemRecord, NoteRecord, PhoneRecord, PropertyRecord, QuoteRecord, QuoteStatus, Store,
};

// Messages of the business rules. "Property already exists" is documented; the others are the
// sandbox's wording of rules whose exact Jobber text is unknown (clients must match on
// `userErrors` being non-empty, not on the text).
pub const CLIENT_NEEDS_NAME: &str = "Client must have a first name, last name or company name";
pub const PROPERTY_EXISTS: &str = "Property already exists";
pub const CLIENT_NOT_FOUND: &str = "Client not found";
pub const PROPERTY_NOT_FOUND: &str = "Property not found";
pub const QUOTE_NOT_FOUND: &str = "Quote not found";
pub const JOB_NOT_FOUND: &str = "Job not found";
pub const QUOTE_NEEDS_LINE_ITEMS: &str = "Quote must have at least one line item";
pub const LINE_ITEM_NOT_FOUND: &str = "Line item not found";
pub const PROPERTY_OF_OTHER_CLIENT: &str = "Property does not belong to the client";
pub const CUSTOM_FIELD_NOT_FOUND: &str = "Custom field configuration not found";
pub const CUSTOM_FIELD_WRONG_TARGET: &str = "Custom field does not apply to this object";
pub const CUSTOM_FIELD_WRONG_VALUE: &str = "Custom field value does not match its type";

fn client_in(account: &Account, id: &EncodedId) -> Option<u64> {
    id.number_of("Client").filter(|n| account.clients.contains_key(n))
}

fn quote_in(account: &Account, id: &EncodedId) -> Option<u64> {
    id.number_of("Quote").filter(|n| account.quotes.contains_key(n))
}

fn job_in(account: &Account, id: &EncodedId) -> Option<u64> {
    id.number_of("Job").filter(|n| account.jobs.contains_key(n))
}

fn non_blank(value: &Option<String>) -> Option<String> {
    value.as_ref().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Two addresses are the same property when their lines match, ignoring case and spacing.
fn same_address(a: &AddressRecord, b: &AddressRecord) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    [
        (&a.street1, &b.street1),
        (&a.street2, &b.street2),
        (&a.city, &b.city),
        (&a.province, &b.province),
        (&a.postal_code, &b.postal_code),
        (&a.country, &b.country),
    ]
    .iter()
    .all(|(x, y)| norm(x) == norm(y))
}

/// Validates custom field inputs for a record of `target`; ids are assigned by the caller.
fn custom_field_values(
    account: &Account,
    inputs: &[CustomFieldCreateInput],
    target: CustomFieldTarget,
    path: &[&str],
) -> Result<Vec<(u64, CustomFieldValue)>, MutationErrors> {
    inputs
        .iter()
        .map(|input| {
            let config = input
                .custom_field_configuration_id
                .as_ref()
                .and_then(|id| id.number_of("CustomFieldConfiguration"))
                .and_then(|n| account.custom_field_configurations.get(&n))
                .ok_or_else(|| MutationErrors::new(CUSTOM_FIELD_NOT_FOUND, path))?;
            if config.applies_to != target {
                return Err(MutationErrors::new(CUSTOM_FIELD_WRONG_TARGET, path));
            }
            let value = match (config.value_type, &input.value_text, input.value_numeric) {
                (CustomFieldValueType::Text, Some(text), None) if input.value_dropdown.is_none() => {
                    CustomFieldValue::Text(text.clone())
                }
                (CustomFieldValueType::Numeric, None, Some(n)) if input.value_dropdown.is_none() => {
                    CustomFieldValue::Numeric(n)
                }
                _ => return Err(MutationErrors::new(CUSTOM_FIELD_WRONG_VALUE, path)),
            };
            Ok((config.id, value))
        })
        .collect()
}

fn attach_ids(store: &mut Store, values: Vec<(u64, CustomFieldValue)>) -> Vec<CustomFieldValueRecord> {
    values
        .into_iter()
        .map(|(configuration_id, value)| CustomFieldValueRecord {
            id: store.next_id(),
            configuration_id,
            value,
        })
        .collect()
}

fn new_email(store: &mut Store, e: &EmailCreateAttributes) -> EmailRecord {
    EmailRecord {
        id: store.next_id(),
        address: e.address.clone().unwrap_or_default().trim().to_string(),
        description: String::new(),
        primary: e.primary.unwrap_or(false),
    }
}

fn new_phone(store: &mut Store, p: &PhoneNumberCreateAttributes) -> PhoneRecord {
    PhoneRecord {
        id: store.next_id(),
        number: p.number.clone().unwrap_or_default().trim().to_string(),
        description: String::new(),
        primary: p.primary.unwrap_or(false),
        sms_allowed: p.sms_allowed.unwrap_or(false),
    }
}

fn account_mut(store: &mut Store, account_id: u64) -> &mut Account {
    store.accounts.entry(account_id).or_default()
}

fn new_line_item(
    store: &mut Store,
    now: i64,
    sort_order: i32,
    li: &QuoteCreateLineItemAttributes,
) -> LineItemRecord {
    LineItemRecord {
        id: store.next_id(),
        name: li.name.clone(),
        description: li.description.clone().unwrap_or_default(),
        category: li.category.map(|c| c.label().to_string()),
        quantity: li.quantity.unwrap_or(1.0),
        unit_price: li.unit_price.unwrap_or(0.0),
        unit_cost: li.unit_cost.unwrap_or(0.0),
        taxable: li.taxable.unwrap_or(true),
        optional: li.optional.unwrap_or(false),
        recommended: li.recommended.unwrap_or(false),
        text_only: false,
        save_to_products_and_services: li.save_to_products_and_services,
        sort_order,
        created_at: now,
        updated_at: now,
    }
}

fn new_text_line_item(
    store: &mut Store,
    now: i64,
    sort_order: i32,
    li: &QuoteCreateTextLineItemAttributes,
) -> LineItemRecord {
    LineItemRecord {
        id: store.next_id(),
        name: li.name.clone(),
        description: li.description.clone().unwrap_or_default(),
        category: li.category.map(|c| c.label().to_string()),
        text_only: true,
        taxable: false,
        sort_order,
        created_at: now,
        updated_at: now,
        ..LineItemRecord::default()
    }
}

#[derive(SimpleObject, Default)]
pub struct ClientCreatePayload {
    client: Option<Client>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct ClientEditPayload {
    client: Option<Client>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct PropertyCreatePayload {
    client: Option<Client>,
    properties: Vec<Property>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct QuoteCreatePayload {
    quote: Option<Quote>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct QuoteCreateLineItemsPayload {
    created_line_items: Option<Vec<QuoteLineItem>>,
    quote: Option<Quote>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct QuoteCreateTextLineItemsPayload {
    created_line_items: Option<Vec<QuoteLineItem>>,
    quote: Option<Quote>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct QuoteEditLineItemsPayload {
    modified_line_items: Option<Vec<QuoteLineItem>>,
    quote: Option<Quote>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct QuoteDeleteLineItemsPayload {
    deleted_line_items: Vec<QuoteLineItem>,
    quote: Option<Quote>,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct QuoteEditPayload {
    quote: Option<Quote>,
    user_errors: Vec<MutationErrors>,
}

/// Its `quoteNote` is not served: `QuoteNote` is only a placeholder in Jobber's schema file.
#[derive(SimpleObject, Default)]
pub struct QuoteCreateNotePayload {
    quote: Option<Quote>,
    user_errors: Vec<MutationErrors>,
}

/// Shorthand for a payload that carries one business error.
fn failed<T: Default>(set: impl FnOnce(&mut T, Vec<MutationErrors>), error: MutationErrors) -> T {
    let mut payload = T::default();
    set(&mut payload, vec![error]);
    payload
}

/// Appends line items built by `make` (product or text lines) to the end of a quote; returns
/// the quote's number and the new items.
fn append_line_items<A>(
    session: &Session,
    quote_id: &EncodedId,
    items: &[A],
    make: fn(&mut Store, i64, i32, &A) -> LineItemRecord,
) -> Result<(u64, Vec<LineItemRecord>), MutationErrors> {
    let account_id = session.account_id;
    with_quote(session, quote_id, "quoteId", |store, number, now| {
        // After the last line's place (not the count: deleted lines leave gaps).
        let start = store.accounts[&account_id].quotes[&number]
            .line_items
            .iter()
            .map(|li| li.sort_order)
            .max()
            .unwrap_or(0);
        let created: Vec<LineItemRecord> =
            items.iter().enumerate().map(|(i, li)| make(store, now, start + i as i32 + 1, li)).collect();
        account_mut(store, account_id)
            .quotes
            .get_mut(&number)
            .expect("checked")
            .line_items
            .extend(created.clone());
        Ok((number, created))
    })
}

/// Runs `change` on one quote of the account, or reports it missing at `path`.
fn with_quote<T>(
    session: &Session,
    id: &EncodedId,
    path: &str,
    change: impl FnOnce(&mut Store, u64, i64) -> Result<T, MutationErrors>,
) -> Result<T, MutationErrors> {
    let now = session.now_ms();
    session.write(|store, account_id| {
        let number = quote_in(account_mut(store, account_id), id)
            .ok_or_else(|| MutationErrors::new(QUOTE_NOT_FOUND, &[path]))?;
        let result = change(store, number, now)?;
        if let Some(quote) = account_mut(store, account_id).quotes.get_mut(&number) {
            quote.updated_at = now;
        }
        Ok(result)
    })
}

fn quote_snapshot(store: &Store, account_id: u64, number: u64) -> Option<Quote> {
    store.accounts.get(&account_id)?.quotes.get(&number).cloned().map(Quote)
}

fn new_job_line_item(
    store: &mut Store,
    now: i64,
    sort_order: i32,
    li: &JobCreateLineItemAttributes,
) -> LineItemRecord {
    LineItemRecord {
        id: store.next_id(),
        name: li.name.clone(),
        description: li.description.clone().unwrap_or_default(),
        category: li.category.map(|c| c.label().to_string()),
        quantity: li.quantity,
        unit_price: li.unit_price,
        unit_cost: li.unit_cost.unwrap_or(0.0),
        taxable: li.taxable.unwrap_or(true),
        save_to_products_and_services: li.save_to_products_and_services,
        sort_order,
        created_at: now,
        updated_at: now,
        ..LineItemRecord::default()
    }
}

/// `job` and `createdLineItems` are non-null in Jobber: a job that does not exist cannot be
/// answered with a null job, so it is a GraphQL error (see `job_create_line_items`).
#[derive(SimpleObject)]
pub struct JobCreateLineItemsPayload {
    created_line_items: Vec<JobLineItem>,
    job: Job,
    user_errors: Vec<MutationErrors>,
}

#[derive(SimpleObject, Default)]
pub struct JobDeleteLineItemsPayload {
    deleted_line_items: Vec<JobLineItem>,
    job: Option<Job>,
    user_errors: Vec<MutationErrors>,
}

/// Its `app` is not served: `Application` is only a placeholder in Jobber's schema file.
#[derive(SimpleObject, Default)]
pub struct AppDisconnectPayload {
    user_errors: Vec<MutationErrors>,
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Disconnect the app from the account: every grant of the app on it is revoked (its access
    /// and refresh tokens stop working at once, this request's token included) and the
    /// `APP_DISCONNECT` webhook fires.
    async fn app_disconnect(&self, ctx: &Context<'_>) -> AppDisconnectPayload {
        let session = Session::of(ctx);
        session.write(crate::jobber::oauth::revoke_account);
        session.jobber.webhooks.emit(
            &session.shared,
            Topic::AppDisconnect,
            session.account_id,
            "Account",
            session.account_id,
        );
        AppDisconnectPayload { user_errors: vec![] }
    }

    /// Create a client.
    async fn client_create(&self, ctx: &Context<'_>, input: ClientCreateInput) -> ClientCreatePayload {
        let session = Session::of(ctx);
        let (first, last, company) =
            (non_blank(&input.first_name), non_blank(&input.last_name), non_blank(&input.company_name));
        if first.is_none() && last.is_none() && company.is_none() {
            return failed(
                |p: &mut ClientCreatePayload, e| p.user_errors = e,
                MutationErrors::new(CLIENT_NEEDS_NAME, &["input"]),
            );
        }
        let now = session.now_ms();
        let result = session.write(|store, account_id| {
            let account = account_mut(store, account_id);
            let values = custom_field_values(
                account,
                input.custom_fields.as_deref().unwrap_or_default(),
                CustomFieldTarget::AllClients,
                &["input", "customFields"],
            )?;
            let mut new_properties = Vec::new();
            for property in input.properties.iter().flatten() {
                let address = property.address.to_record();
                if new_properties.iter().any(|a| same_address(a, &address)) {
                    return Err(MutationErrors::new(PROPERTY_EXISTS, &["input", "properties"]));
                }
                new_properties.push(address);
            }
            let id = store.next_id();
            let client = ClientRecord {
                id,
                title: input.title.map(|t| t.label().to_string()),
                first_name: first.unwrap_or_default(),
                last_name: last.unwrap_or_default(),
                company_name: company,
                is_company: input.is_company.unwrap_or(false),
                is_archived: false,
                is_lead: false,
                emails: input.emails.iter().flatten().map(|e| new_email(store, e)).collect(),
                phones: input.phones.iter().flatten().map(|p| new_phone(store, p)).collect(),
                billing_address: input.billing_address.as_ref().map(AddressAttributes::to_record),
                custom_fields: attach_ids(store, values),
                lead_source: session.shared.config.webhooks.app_id.clone(),
                created_at: now,
                updated_at: now,
            };
            for address in new_properties {
                let property_id = store.next_id();
                let property = PropertyRecord {
                    id: property_id,
                    client_id: id,
                    address,
                    is_billing_address: false,
                    created_at: now,
                    updated_at: now,
                };
                account_mut(store, account_id).properties.insert(property_id, property);
            }
            account_mut(store, account_id).clients.insert(id, client.clone());
            Ok(client)
        });
        match result {
            Ok(client) => {
                session.jobber.webhooks.emit(
                    &session.shared,
                    Topic::ClientCreate,
                    session.account_id,
                    "Client",
                    client.id,
                );
                ClientCreatePayload { client: Some(Client(client)), user_errors: vec![] }
            }
            Err(e) => failed(|p: &mut ClientCreatePayload, e| p.user_errors = e, e),
        }
    }

    /// Update a client based on the provided ID.
    async fn client_edit(
        &self,
        ctx: &Context<'_>,
        client_id: EncodedId,
        input: ClientEditInput,
    ) -> ClientEditPayload {
        let session = Session::of(ctx);
        let now = session.now_ms();
        let result = session.write(|store, account_id| {
            let number = client_in(account_mut(store, account_id), &client_id)
                .ok_or_else(|| MutationErrors::new(CLIENT_NOT_FOUND, &["clientId"]))?;
            let mut client = account_mut(store, account_id).clients[&number].clone();
            let set = |target: &mut String, value: &Option<String>| {
                if let Some(v) = value {
                    *target = v.trim().to_string();
                }
            };
            set(&mut client.first_name, &input.first_name);
            set(&mut client.last_name, &input.last_name);
            if input.company_name.is_some() {
                client.company_name = non_blank(&input.company_name);
            }
            if let Some(is_company) = input.is_company {
                client.is_company = is_company;
            }
            if let Some(title) = input.title {
                client.title = Some(title.label().to_string());
            }
            if client.first_name.is_empty() && client.last_name.is_empty() && client.company_name.is_none() {
                return Err(MutationErrors::new(CLIENT_NEEDS_NAME, &["input"]));
            }
            for (i, edit) in input.emails_to_edit.iter().flatten().enumerate() {
                let email = edit
                    .id
                    .number_of("Email")
                    .and_then(|n| client.emails.iter_mut().find(|e| e.id == n))
                    .ok_or_else(|| {
                        MutationErrors::new(
                            "Email not found",
                            &["input", "emailsToEdit", &i.to_string(), "id"],
                        )
                    })?;
                if let Some(address) = &edit.address {
                    email.address = address.trim().to_string();
                }
                if let Some(primary) = edit.primary {
                    email.primary = primary;
                }
            }
            for (i, edit) in input.phones_to_edit.iter().flatten().enumerate() {
                let phone = edit
                    .id
                    .number_of("ClientPhoneNumber")
                    .and_then(|n| client.phones.iter_mut().find(|p| p.id == n))
                    .ok_or_else(|| {
                        MutationErrors::new(
                            "Phone number not found",
                            &["input", "phonesToEdit", &i.to_string(), "id"],
                        )
                    })?;
                if let Some(number) = &edit.number {
                    phone.number = number.trim().to_string();
                }
                if let Some(primary) = edit.primary {
                    phone.primary = primary;
                }
                if let Some(sms) = edit.sms_allowed {
                    phone.sms_allowed = sms;
                }
            }
            let doomed_emails: Vec<u64> =
                input.emails_to_delete.iter().flatten().filter_map(|id| id.number_of("Email")).collect();
            client.emails.retain(|e| !doomed_emails.contains(&e.id));
            let doomed_phones: Vec<u64> = input
                .phones_to_delete
                .iter()
                .flatten()
                .filter_map(|id| id.number_of("ClientPhoneNumber"))
                .collect();
            client.phones.retain(|p| !doomed_phones.contains(&p.id));
            for email in input.emails_to_add.iter().flatten() {
                let record = new_email(store, email);
                client.emails.push(record);
            }
            for phone in input.phones_to_add.iter().flatten() {
                let record = new_phone(store, phone);
                client.phones.push(record);
            }
            if let Some(address) = &input.billing_address {
                address.apply_to(client.billing_address.get_or_insert_with(AddressRecord::default));
            }
            client.updated_at = now;
            account_mut(store, account_id).clients.insert(number, client.clone());
            Ok(client)
        });
        match result {
            Ok(client) => ClientEditPayload { client: Some(Client(client)), user_errors: vec![] },
            Err(e) => failed(|p: &mut ClientEditPayload, e| p.user_errors = e, e),
        }
    }

    /// Creates new properties for an existing client; a duplicate address fails them all.
    async fn property_create(
        &self,
        ctx: &Context<'_>,
        client_id: EncodedId,
        input: PropertyCreateInput,
    ) -> PropertyCreatePayload {
        let session = Session::of(ctx);
        let now = session.now_ms();
        let result = session.write(|store, account_id| {
            let account = account_mut(store, account_id);
            let client = client_in(account, &client_id)
                .ok_or_else(|| MutationErrors::new(CLIENT_NOT_FOUND, &["clientId"]))?;
            let mut addresses: Vec<AddressRecord> = Vec::new();
            for property in input.properties.iter().flatten() {
                let address = property.address.to_record();
                let exists = account
                    .properties
                    .values()
                    .any(|p| p.client_id == client && same_address(&p.address, &address))
                    || addresses.iter().any(|a| same_address(a, &address));
                if exists {
                    return Err(MutationErrors::new(PROPERTY_EXISTS, &["input", "properties"]));
                }
                addresses.push(address);
            }
            let mut created = Vec::new();
            for address in addresses {
                let id = store.next_id();
                let record = PropertyRecord {
                    id,
                    client_id: client,
                    address,
                    is_billing_address: false,
                    created_at: now,
                    updated_at: now,
                };
                account_mut(store, account_id).properties.insert(id, record.clone());
                created.push(Property(record));
            }
            let client = account_mut(store, account_id).clients[&client].clone();
            Ok((client, created))
        });
        match result {
            Ok((client, properties)) => {
                PropertyCreatePayload { client: Some(Client(client)), properties, user_errors: vec![] }
            }
            Err(e) => failed(|p: &mut PropertyCreatePayload, e| p.user_errors = e, e),
        }
    }

    /// Create a new quote (draft) with its line items.
    async fn quote_create(&self, ctx: &Context<'_>, attributes: QuoteCreateAttributes) -> QuoteCreatePayload {
        let session = Session::of(ctx);
        let now = session.now_ms();
        let result = session.write(|store, account_id| {
            // Jobber makes no quote without a line (the list is required, and so is one line).
            if attributes.line_items.is_empty() {
                return Err(MutationErrors::new(QUOTE_NEEDS_LINE_ITEMS, &["attributes", "lineItems"]));
            }
            let account = account_mut(store, account_id);
            let client = client_in(account, &attributes.client_id)
                .ok_or_else(|| MutationErrors::new(CLIENT_NOT_FOUND, &["attributes", "clientId"]))?;
            let property = attributes
                .property_id
                .number_of("Property")
                .and_then(|n| account.properties.get(&n))
                .ok_or_else(|| MutationErrors::new(PROPERTY_NOT_FOUND, &["attributes", "propertyId"]))?;
            if property.client_id != client {
                return Err(MutationErrors::new(PROPERTY_OF_OTHER_CLIENT, &["attributes", "propertyId"]));
            }
            let property = property.id;
            let values = custom_field_values(
                account,
                attributes.custom_fields.as_deref().unwrap_or_default(),
                CustomFieldTarget::AllQuotes,
                &["attributes", "customFields"],
            )?;
            // The account's sequence moves on past any number given explicitly.
            let quote_number = match attributes.quote_number {
                Some(n) => {
                    account.next_quote_number = account.next_quote_number.max(n.max(0) as u64 + 1);
                    n.to_string()
                }
                None => {
                    account.next_quote_number += 1;
                    (account.next_quote_number - 1).to_string()
                }
            };
            let id = store.next_id();
            let line_items = attributes
                .line_items
                .iter()
                .enumerate()
                .map(|(i, li)| new_line_item(store, now, i as i32 + 1, li))
                .collect();
            let quote = QuoteRecord {
                id,
                client_id: client,
                property_id: property,
                quote_number,
                title: attributes.title.clone(),
                message: attributes.message.clone(),
                status: QuoteStatus::Draft,
                line_items,
                notes: Vec::new(),
                discount: attributes.discount.as_ref().map(CostModifierRecord::from),
                deposit: attributes.deposit.as_ref().map(CostModifierRecord::from),
                custom_fields: attach_ids(store, values),
                created_at: now,
                updated_at: now,
                approved_at: None,
                archived_at: None,
            };
            account_mut(store, account_id).quotes.insert(id, quote.clone());
            Ok(quote)
        });
        match result {
            Ok(quote) => {
                session.jobber.webhooks.emit(
                    &session.shared,
                    Topic::QuoteCreate,
                    session.account_id,
                    "Quote",
                    quote.id,
                );
                QuoteCreatePayload { quote: Some(Quote(quote)), user_errors: vec![] }
            }
            Err(e) => failed(|p: &mut QuoteCreatePayload, e| p.user_errors = e, e),
        }
    }

    /// Create line items on a quote.
    async fn quote_create_line_items(
        &self,
        ctx: &Context<'_>,
        quote_id: EncodedId,
        line_items: Vec<QuoteCreateLineItemAttributes>,
    ) -> QuoteCreateLineItemsPayload {
        let session = Session::of(ctx);
        let account_id = session.account_id;
        let result = append_line_items(session, &quote_id, &line_items, new_line_item);
        match result {
            Ok((number, created)) => QuoteCreateLineItemsPayload {
                created_line_items: Some(created.into_iter().map(QuoteLineItem).collect()),
                quote: session.shared.read(|s| quote_snapshot(s, account_id, number)),
                user_errors: vec![],
            },
            Err(e) => failed(|p: &mut QuoteCreateLineItemsPayload, e| p.user_errors = e, e),
        }
    }

    /// Create text line items on a quote.
    async fn quote_create_text_line_items(
        &self,
        ctx: &Context<'_>,
        quote_id: EncodedId,
        line_items: Vec<QuoteCreateTextLineItemAttributes>,
    ) -> QuoteCreateTextLineItemsPayload {
        let session = Session::of(ctx);
        let account_id = session.account_id;
        let result = append_line_items(session, &quote_id, &line_items, new_text_line_item);
        match result {
            Ok((number, created)) => QuoteCreateTextLineItemsPayload {
                created_line_items: Some(created.into_iter().map(QuoteLineItem).collect()),
                quote: session.shared.read(|s| quote_snapshot(s, account_id, number)),
                user_errors: vec![],
            },
            Err(e) => failed(|p: &mut QuoteCreateTextLineItemsPayload, e| p.user_errors = e, e),
        }
    }

    /// Edit line items on a quote; every id must be a line item of that quote.
    async fn quote_edit_line_items(
        &self,
        ctx: &Context<'_>,
        quote_id: EncodedId,
        line_items: Vec<QuoteEditLineItemAttributes>,
    ) -> QuoteEditLineItemsPayload {
        let session = Session::of(ctx);
        let account_id = session.account_id;
        let result = with_quote(session, &quote_id, "quoteId", |store, number, now| {
            let quote = account_mut(store, account_id).quotes.get_mut(&number).expect("checked");
            let mut items = quote.line_items.clone();
            let mut modified = Vec::new();
            for (i, edit) in line_items.iter().enumerate() {
                let item = edit
                    .line_item_id
                    .number_of("QuoteLineItem")
                    .and_then(|n| items.iter_mut().find(|li| li.id == n))
                    .ok_or_else(|| {
                        MutationErrors::new(LINE_ITEM_NOT_FOUND, &["lineItems", &i.to_string(), "lineItemId"])
                    })?;
                if let Some(v) = &edit.name {
                    item.name = v.clone();
                }
                if let Some(v) = &edit.description {
                    item.description = v.clone();
                }
                if let Some(v) = edit.unit_price {
                    item.unit_price = v;
                }
                if let Some(v) = edit.quantity {
                    item.quantity = v;
                }
                if let Some(v) = edit.unit_cost {
                    item.unit_cost = v;
                }
                if let Some(v) = edit.taxable {
                    item.taxable = v;
                }
                if let Some(v) = edit.optional {
                    item.optional = v;
                }
                if let Some(v) = edit.recommended {
                    item.recommended = v;
                }
                if let Some(v) = edit.category {
                    item.category = Some(v.label().to_string());
                }
                if let Some(v) = edit.sort_order {
                    item.sort_order = v;
                }
                item.updated_at = now;
                modified.push(item.clone());
            }
            items.sort_by_key(|li| li.sort_order);
            quote.line_items = items;
            Ok((number, modified))
        });
        match result {
            Ok((number, modified)) => QuoteEditLineItemsPayload {
                modified_line_items: Some(modified.into_iter().map(QuoteLineItem).collect()),
                quote: session.shared.read(|s| quote_snapshot(s, account_id, number)),
                user_errors: vec![],
            },
            Err(e) => failed(|p: &mut QuoteEditLineItemsPayload, e| p.user_errors = e, e),
        }
    }

    /// Delete line items on a quote; every id must be a line item of that quote.
    async fn quote_delete_line_items(
        &self,
        ctx: &Context<'_>,
        quote_id: EncodedId,
        line_item_ids: Vec<EncodedId>,
    ) -> QuoteDeleteLineItemsPayload {
        let session = Session::of(ctx);
        let account_id = session.account_id;
        let result = with_quote(session, &quote_id, "quoteId", |store, number, _now| {
            let quote = account_mut(store, account_id).quotes.get_mut(&number).expect("checked");
            let mut doomed = Vec::new();
            for (i, id) in line_item_ids.iter().enumerate() {
                let n = id
                    .number_of("QuoteLineItem")
                    .filter(|n| quote.line_items.iter().any(|li| li.id == *n))
                    .ok_or_else(|| {
                        MutationErrors::new(LINE_ITEM_NOT_FOUND, &["lineItemIds", &i.to_string()])
                    })?;
                doomed.push(n);
            }
            let deleted =
                quote.line_items.iter().filter(|li| doomed.contains(&li.id)).cloned().collect::<Vec<_>>();
            quote.line_items.retain(|li| !doomed.contains(&li.id));
            Ok((number, deleted))
        });
        match result {
            Ok((number, deleted)) => QuoteDeleteLineItemsPayload {
                deleted_line_items: deleted.into_iter().map(QuoteLineItem).collect(),
                quote: session.shared.read(|s| quote_snapshot(s, account_id, number)),
                user_errors: vec![],
            },
            Err(e) => failed(|p: &mut QuoteDeleteLineItemsPayload, e| p.user_errors = e, e),
        }
    }

    /// Edit a quote's own attributes (never its line items).
    async fn quote_edit(
        &self,
        ctx: &Context<'_>,
        quote_id: EncodedId,
        attributes: QuoteEditAttributes,
    ) -> QuoteEditPayload {
        let session = Session::of(ctx);
        let account_id = session.account_id;
        let result = with_quote(session, &quote_id, "quoteId", |store, number, _now| {
            let quote = account_mut(store, account_id).quotes.get_mut(&number).expect("checked");
            if attributes.title.is_some() {
                quote.title = attributes.title.clone();
            }
            if attributes.message.is_some() {
                quote.message = attributes.message.clone();
            }
            if let Some(n) = &attributes.quote_number {
                quote.quote_number = n.clone();
            }
            if let Some(d) = &attributes.discount {
                quote.discount = Some(d.into());
            }
            if let Some(d) = &attributes.deposit {
                quote.deposit = Some(d.into());
            }
            Ok(number)
        });
        match result {
            Ok(number) => QuoteEditPayload {
                quote: session.shared.read(|s| quote_snapshot(s, account_id, number)),
                user_errors: vec![],
            },
            Err(e) => failed(|p: &mut QuoteEditPayload, e| p.user_errors = e, e),
        }
    }

    /// Create a note on a quote.
    async fn quote_create_note(
        &self,
        ctx: &Context<'_>,
        quote_id: EncodedId,
        input: QuoteCreateNoteInput,
    ) -> QuoteCreateNotePayload {
        let session = Session::of(ctx);
        let account_id = session.account_id;
        let result = with_quote(session, &quote_id, "quoteId", |store, number, now| {
            let note = NoteRecord {
                id: store.next_id(),
                message: input.message.clone().unwrap_or_default(),
                created_at: now,
            };
            account_mut(store, account_id).quotes.get_mut(&number).expect("checked").notes.push(note);
            Ok(number)
        });
        match result {
            Ok(number) => QuoteCreateNotePayload {
                quote: session.shared.read(|s| quote_snapshot(s, account_id, number)),
                user_errors: vec![],
            },
            Err(e) => failed(|p: &mut QuoteCreateNotePayload, e| p.user_errors = e, e),
        }
    }

    /// Create line items on a job, after its last line. A job that does not exist is a GraphQL
    /// error: the payload's `job` is non-null in Jobber's schema.
    async fn job_create_line_items(
        &self,
        ctx: &Context<'_>,
        job_id: EncodedId,
        input: JobCreateLineItemsInput,
    ) -> Result<JobCreateLineItemsPayload> {
        let session = Session::of(ctx);
        let now = session.now_ms();
        let result = session.write(|store, account_id| {
            let number = job_in(account_mut(store, account_id), &job_id)?;
            let start = store.accounts[&account_id].jobs[&number]
                .line_items
                .iter()
                .map(|li| li.sort_order)
                .max()
                .unwrap_or(0);
            let created: Vec<LineItemRecord> = input
                .line_items
                .iter()
                .enumerate()
                .map(|(i, li)| new_job_line_item(store, now, start + i as i32 + 1, li))
                .collect();
            let job = account_mut(store, account_id).jobs.get_mut(&number).expect("checked");
            job.line_items.extend(created.clone());
            job.updated_at = now;
            Some((job.clone(), created))
        });
        let (job, created) = result.ok_or_else(|| async_graphql::Error::new(JOB_NOT_FOUND))?;
        Ok(JobCreateLineItemsPayload {
            created_line_items: created.into_iter().map(JobLineItem).collect(),
            job: Job(job),
            user_errors: vec![],
        })
    }

    /// Delete line items on a job; every id must be a line item of that job.
    async fn job_delete_line_items(
        &self,
        ctx: &Context<'_>,
        job_id: EncodedId,
        input: JobDeleteLineItemsInput,
    ) -> JobDeleteLineItemsPayload {
        let session = Session::of(ctx);
        let now = session.now_ms();
        let result = session.write(|store, account_id| {
            let account = account_mut(store, account_id);
            let number =
                job_in(account, &job_id).ok_or_else(|| MutationErrors::new(JOB_NOT_FOUND, &["jobId"]))?;
            let job = account.jobs.get_mut(&number).expect("checked");
            let mut doomed = Vec::new();
            for (i, id) in input.line_item_ids.iter().enumerate() {
                let n = id
                    .number_of("JobLineItem")
                    .filter(|n| job.line_items.iter().any(|li| li.id == *n))
                    .ok_or_else(|| {
                    MutationErrors::new(LINE_ITEM_NOT_FOUND, &["input", "lineItemIds", &i.to_string()])
                })?;
                doomed.push(n);
            }
            let deleted =
                job.line_items.iter().filter(|li| doomed.contains(&li.id)).cloned().collect::<Vec<_>>();
            job.line_items.retain(|li| !doomed.contains(&li.id));
            job.updated_at = now;
            Ok((job.clone(), deleted))
        });
        match result {
            Ok((job, deleted)) => JobDeleteLineItemsPayload {
                deleted_line_items: deleted.into_iter().map(JobLineItem).collect(),
                job: Some(Job(job)),
                user_errors: vec![],
            },
            Err(e) => failed(|p: &mut JobDeleteLineItemsPayload, e| p.user_errors = e, e),
        }
    }
}
