//! The GraphQL operations the bridge runs, with the few fields it reads back. `userErrors` are
//! turned into [`JobberErrorKind::UserError`], so a mutation that Jobber refused never passes for
//! a success.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{JobberClient, JobberError, JobberErrorKind};
use crate::message::Address;

/// A client as found by a search, with its properties.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSummary {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub billing_address: Option<JobberAddress>,
    #[serde(default)]
    pub properties: Vec<PropertySummary>,
}

impl ClientSummary {
    /// Every address Jobber knows for the client: its properties', then its billing address.
    pub fn addresses(&self) -> impl Iterator<Item = &JobberAddress> {
        self.properties.iter().map(|p| &p.address).chain(self.billing_address.as_ref())
    }
}

/// The client fields every client query reads.
const CLIENT_FIELDS: &str = "id name billingAddress { street1 street2 city province postalCode country } \
                             properties { id address { street1 street2 city province postalCode country } }";

/// An existing quote found by its number (PO routing), with what the bridge needs to add to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRef {
    pub id: String,
    pub quote_number: String,
    pub title: String,
    /// Text custom field values (where a quote the bridge created carries its marker).
    pub markers: Vec<String>,
    pub client_id: String,
    pub client_name: String,
}

/// A line item of an existing quote.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItemSummary {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PropertySummary {
    pub id: String,
    pub address: JobberAddress,
}

/// An address as Jobber writes it (empty strings for missing parts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobberAddress {
    pub street1: String,
    pub street2: String,
    pub city: String,
    pub province: String,
    pub postal_code: String,
    pub country: String,
}

impl From<&Address> for JobberAddress {
    fn from(a: &Address) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            street1: s(&a.street1),
            street2: s(&a.street2),
            city: s(&a.city),
            province: s(&a.province),
            postal_code: s(&a.postal_code),
            country: s(&a.country),
        }
    }
}

/// A quote written (or found) in Jobber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteSummary {
    pub id: String,
    pub quote_number: String,
    pub title: String,
    pub markers: Vec<String>,
}

/// One line item of a quote to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItemInput {
    pub name: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: f64,
    pub unit_cost: f64,
    pub save_to_products_and_services: bool,
}

/// The quote to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteInput {
    pub client_id: String,
    pub property_id: String,
    pub title: String,
    pub message: String,
    pub line_items: Vec<LineItemInput>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<Value>,
}

const USER_ERRORS: &str = "userErrors { message path }";

/// Stand-in ids of what a dry run would have created.
pub const DRY_RUN_CLIENT: &str = "dry-run-client";
pub const DRY_RUN_PROPERTY: &str = "dry-run-property";

/// A quote node as Jobber returns it (quote numbers may come as strings or numbers).
fn quote_summary(node: &Value) -> QuoteSummary {
    let text = |name: &str| node.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    QuoteSummary {
        id: text("id"),
        quote_number: node
            .get("quoteNumber")
            .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
            .unwrap_or_default(),
        title: text("title"),
        markers: node
            .get("customFields")
            .and_then(Value::as_array)
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| f.get("valueText").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Fails on non-empty `userErrors` at `data.<field>.userErrors`.
fn payload(data: &Value, field: &str) -> Result<Value, JobberError> {
    let payload = data.get(field).cloned().unwrap_or(Value::Null);
    let errors: Vec<String> = payload
        .get("userErrors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let message = e.get("message").and_then(Value::as_str).unwrap_or("(no message)");
                    let path = e.get("path").map(Value::to_string).unwrap_or_default();
                    format!("{message} {path}").trim().to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    if !errors.is_empty() {
        return Err(JobberError::new(JobberErrorKind::UserError, format!("{field}: {}", errors.join("; "))));
    }
    Ok(payload)
}

fn field<T: for<'de> Deserialize<'de>>(value: &Value, pointer: &str) -> Result<T, JobberError> {
    let found = value.pointer(pointer).cloned().unwrap_or(Value::Null);
    serde_json::from_value(found).map_err(|e| {
        JobberError::new(JobberErrorKind::Invalid, format!("unexpected response at {pointer}: {e}"))
    })
}

impl JobberClient {
    /// The id of the quote custom field named `name` (text), if the account has one.
    pub async fn quote_custom_field(&self, name: &str) -> Result<Option<String>, JobberError> {
        let query = "query CustomFields { customFieldConfigurations(first: 100) { nodes { \
                     ... on CustomFieldConfigurationText { id name appliesTo } } } }";
        let data = self.execute(query, json!({})).await?;
        let nodes: Vec<Value> = field(&data, "/customFieldConfigurations/nodes")?;
        Ok(nodes
            .iter()
            .find(|n| {
                n.get("name").and_then(Value::as_str) == Some(name)
                    && n.get("appliesTo").and_then(Value::as_str) == Some("ALL_QUOTES")
            })
            .and_then(|n| n.get("id").and_then(Value::as_str).map(str::to_owned)))
    }

    /// Clients matching a search term (names, company, emails, phones, addresses).
    pub async fn search_clients(&self, term: &str) -> Result<Vec<ClientSummary>, JobberError> {
        let query = format!(
            "query FindClients($term: String, $after: String) {{ clients(searchTerm: $term, first: 50, after: $after) \
             {{ nodes {{ {CLIENT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        // Every page: a match past the first page is still a match (the one client of that name
        // missed would be created a second time).
        let clients = self.every_page(&query, json!({"term": term}), "/clients").await?;
        Ok(clients.unwrap_or_default())
    }

    /// One client by id, with its addresses; `None` when Jobber has no such client.
    pub async fn client_by_id(&self, id: &str) -> Result<Option<ClientSummary>, JobberError> {
        let query = format!("query Client($id: EncodedId!) {{ client(id: $id) {{ {CLIENT_FIELDS} }} }}");
        let data = match self.execute(&query, json!({"id": id})).await {
            Ok(data) => data,
            // A malformed id is "no such client" to the caller (a person typed it in the table).
            Err(e) if e.kind == JobberErrorKind::Invalid || e.kind == JobberErrorKind::UserError => {
                tracing::debug!(%id, error = %e, "client look-up refused");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        field(&data, "/client")
    }

    /// The quote with this number, if any.
    pub async fn quote_by_number(&self, number: i64) -> Result<Option<QuoteRef>, JobberError> {
        let query =
            "query QuoteByNumber($n: Int) { quotes(filter: {quoteNumber: {eq: $n}}, first: 5) { nodes { \
                     id quoteNumber title customFields { ... on CustomFieldText { label valueText } } \
                     client { id name } } } }";
        let data = self.execute(query, json!({"n": number})).await?;
        let nodes: Vec<Value> = field(&data, "/quotes/nodes")?;
        Ok(nodes.first().map(|node| {
            let summary = quote_summary(node);
            let text =
                |pointer: &str| node.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
            QuoteRef {
                id: summary.id,
                quote_number: summary.quote_number,
                title: summary.title,
                markers: summary.markers,
                client_id: text("/client/id"),
                client_name: text("/client/name"),
            }
        }))
    }

    /// Every line item of a quote (all pages).
    pub async fn quote_line_items(&self, quote_id: &str) -> Result<Vec<LineItemSummary>, JobberError> {
        let query = "query QuoteLines($id: EncodedId!, $after: String) { quote(id: $id) { \
                     lineItems(first: 100, after: $after) { nodes { id name description } \
                     pageInfo { hasNextPage endCursor } } } }";
        self.every_page(query, json!({"id": quote_id}), "/quote/lineItems").await?.ok_or_else(|| {
            JobberError::new(
                JobberErrorKind::UserError,
                format!("quote {quote_id} does not exist (deleted?)"),
            )
        })
    }

    /// Every node of the connection at `at` (`/clients`), page after page. `query` takes
    /// `$after: String` and reads `pageInfo { hasNextPage endCursor }`. `None` when the
    /// connection's owner is missing (`quote(id:)` of a deleted quote).
    async fn every_page<T: for<'de> Deserialize<'de>>(
        &self,
        query: &str,
        mut variables: Value,
        at: &str,
    ) -> Result<Option<Vec<T>>, JobberError> {
        let mut nodes = Vec::new();
        loop {
            let data = self.execute(query, variables.clone()).await?;
            if data.pointer(at).is_none_or(Value::is_null) {
                return Ok(None);
            }
            let page: Vec<T> = field(&data, &format!("{at}/nodes"))?;
            nodes.extend(page);
            let next: bool = field(&data, &format!("{at}/pageInfo/hasNextPage")).unwrap_or(false);
            match field::<String>(&data, &format!("{at}/pageInfo/endCursor")) {
                Ok(cursor) if next => variables["after"] = json!(cursor),
                _ => return Ok(Some(nodes)),
            }
        }
    }

    /// Adds line items to an existing quote in one mutation; returns the new items' ids.
    pub async fn add_line_items(
        &self,
        quote_id: &str,
        items: &[LineItemInput],
    ) -> Result<Vec<String>, JobberError> {
        let query = format!(
            "mutation AddLines($quote: EncodedId!, $items: [QuoteCreateLineItemAttributes!]!) {{ \
             quoteCreateLineItems(quoteId: $quote, lineItems: $items) {{ createdLineItems {{ id }} {USER_ERRORS} }} }}"
        );
        let variables = json!({"quote": quote_id, "items": items});
        if self.withhold(&query, &variables) {
            return Ok(Vec::new());
        }
        let data = self.execute(&query, variables).await?;
        let payload = payload(&data, "quoteCreateLineItems")?;
        let created: Vec<Value> = field(&payload, "/createdLineItems")?;
        Ok(created.iter().filter_map(|v| v.get("id").and_then(Value::as_str).map(str::to_owned)).collect())
    }

    /// Deletes a quote (`sjctl undo`).
    pub async fn delete_quote(&self, quote_id: &str) -> Result<(), JobberError> {
        let query = format!(
            "mutation DeleteQuote($quote: EncodedId!) {{ quoteDelete(quoteId: $quote) {{ deletedQuote {{ id }} {USER_ERRORS} }} }}"
        );
        let data = self.execute(&query, json!({"quote": quote_id})).await?;
        payload(&data, "quoteDelete").map(|_| ())
    }

    /// Deletes line items of a quote (`sjctl undo` of lines added by PO routing).
    pub async fn delete_line_items(&self, quote_id: &str, ids: &[String]) -> Result<(), JobberError> {
        let query = format!(
            "mutation DeleteLines($quote: EncodedId!, $ids: [EncodedId!]!) {{ \
             quoteDeleteLineItems(quoteId: $quote, lineItemIds: $ids) {{ deletedLineItems {{ id }} {USER_ERRORS} }} }}"
        );
        let data = self.execute(&query, json!({"quote": quote_id, "ids": ids})).await?;
        payload(&data, "quoteDeleteLineItems").map(|_| ())
    }

    /// Creates a client (a company, named `name`) with the document's address as its billing
    /// address and its first property; returns (client id, property id).
    pub async fn create_client(
        &self,
        name: &str,
        billing: &JobberAddress,
        property: &JobberAddress,
    ) -> Result<(String, String), JobberError> {
        let query = format!(
            "mutation CreateClient($input: ClientCreateInput!) {{ clientCreate(input: $input) {{ \
             client {{ id properties {{ id }} }} {USER_ERRORS} }} }}"
        );
        let input = json!({
            "companyName": name, "isCompany": true,
            "billingAddress": billing, "properties": [{"address": property}],
        });
        let variables = json!({ "input": input });
        if self.withhold(&query, &variables) {
            return Ok((DRY_RUN_CLIENT.to_owned(), DRY_RUN_PROPERTY.to_owned()));
        }
        let data = self.execute(&query, variables).await?;
        let payload = payload(&data, "clientCreate")?;
        let client_id: String = field(&payload, "/client/id")?;
        let property_id: String = field(&payload, "/client/properties/0/id")?;
        Ok((client_id, property_id))
    }

    /// Adds a property to a client; returns its id.
    pub async fn create_property(
        &self,
        client_id: &str,
        address: &JobberAddress,
    ) -> Result<String, JobberError> {
        let query = format!(
            "mutation CreateProperty($client: EncodedId!, $input: PropertyCreateInput!) {{ \
             propertyCreate(clientId: $client, input: $input) {{ properties {{ id }} {USER_ERRORS} }} }}"
        );
        let variables = json!({"client": client_id, "input": {"properties": [{"address": address}]}});
        if self.withhold(&query, &variables) {
            return Ok(DRY_RUN_PROPERTY.to_owned());
        }
        let data = self.execute(&query, variables).await?;
        let payload = payload(&data, "propertyCreate")?;
        field(&payload, "/properties/0/id")
    }

    /// A client's quotes, with titles and text custom field values (where markers live).
    pub async fn client_quotes(&self, client_id: &str) -> Result<Vec<QuoteSummary>, JobberError> {
        let query = "query ClientQuotes($client: EncodedId!, $after: String) { \
                     quotes(filter: {clientId: $client}, first: 100, after: $after) { \
                     nodes { id quoteNumber title customFields { ... on CustomFieldText { label valueText } } } \
                     pageInfo { hasNextPage endCursor } } }";
        // Every page: a quote from a crashed attempt may be older than the newest hundred.
        let nodes: Vec<Value> =
            self.every_page(query, json!({"client": client_id}), "/quotes").await?.unwrap_or_default();
        Ok(nodes.iter().map(quote_summary).collect())
    }

    /// Creates a quote with its line items in one mutation; returns it.
    pub async fn create_quote(&self, input: &QuoteInput) -> Result<QuoteSummary, JobberError> {
        let query = format!(
            "mutation CreateQuote($attributes: QuoteCreateAttributes!) {{ quoteCreate(attributes: $attributes) {{ \
             quote {{ id quoteNumber title }} {USER_ERRORS} }} }}"
        );
        let variables = json!({ "attributes": input });
        if self.withhold(&query, &variables) {
            let title = input.title.clone();
            return Ok(QuoteSummary {
                id: "dry-run-quote".into(),
                quote_number: "(dry run)".into(),
                title,
                markers: vec![],
            });
        }
        let data = self.execute(&query, variables).await?;
        let payload = payload(&data, "quoteCreate")?;
        let quote = payload.get("quote").cloned().unwrap_or(Value::Null);
        let _: String = field(&quote, "/id")?; // a created quote has an id
        Ok(quote_summary(&quote))
    }
}
