//! The GraphQL operations the bridge runs, with the few fields it reads back. `userErrors` are
//! turned into [`JobberErrorKind::UserError`], so a mutation that Jobber refused never passes for
//! a success.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::operations::{self, Operation};
use super::{JobberClient, JobberError, JobberErrorKind};
use crate::address::Address;
use crate::ids::{ClientId, LineItemId, PropertyId, QuoteId};

/// A client with its addresses, as a search or a look-up by id finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSummary {
    pub id: ClientId,
    pub name: String,
    pub billing_address: Option<JobberAddress>,
    /// Every property of the client (all pages of `clientProperties`).
    pub properties: Vec<PropertySummary>,
}

impl ClientSummary {
    /// Every address Jobber knows for the client: its properties', then its billing address.
    pub fn addresses(&self) -> impl Iterator<Item = &JobberAddress> {
        self.properties.iter().map(|p| &p.address).chain(self.billing_address.as_ref())
    }

    /// Its properties' addresses only: what Jobber's client search matches (`PROPERTIES`); a
    /// billing address is never searched.
    pub fn property_addresses(&self) -> impl Iterator<Item = &JobberAddress> {
        self.properties.iter().map(|p| &p.address)
    }
}

/// A client node as `ClientFields` reads it: the first page of its properties.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientNode {
    id: ClientId,
    name: String,
    #[serde(default)]
    billing_address: Option<JobberAddress>,
    client_properties: Page<PropertySummary>,
}

/// One page of a connection.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Page<T> {
    pub(super) nodes: Vec<T>,
    #[serde(default)]
    page_info: Option<PageInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The cursor of the next page, when there is one.
    pub(super) fn next(&self) -> Option<&str> {
        self.page_info.as_ref().filter(|p| p.has_next_page).and_then(|p| p.end_cursor.as_deref())
    }
}

/// An existing quote found by its number (PO routing), with what the bridge needs to add to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRef {
    pub id: QuoteId,
    pub quote_number: String,
    pub title: String,
    /// Text custom field values (where a quote the bridge created carries its marker).
    pub markers: Vec<String>,
    pub client_id: ClientId,
    pub client_name: String,
}

/// A line item of an existing quote or job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItemSummary {
    pub id: LineItemId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Read for a quote's lines (a template line's values, kept so `sjctl undo` can restore
    /// them); absent where the query does not ask.
    #[serde(default)]
    pub quantity: Option<f64>,
    #[serde(default)]
    pub unit_price: Option<f64>,
    #[serde(default)]
    pub unit_cost: Option<f64>,
}

/// New values for an existing line item of a quote (`quoteEditLineItems`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItemEdit {
    pub line_item_id: LineItemId,
    pub description: String,
    pub quantity: f64,
    pub unit_price: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertySummary {
    pub id: PropertyId,
    /// `Property.address` is non-null, its parts are not.
    pub address: JobberAddress,
}

/// An address as the bridge compares and writes it: a missing part is an empty string, whether
/// Jobber left it out or sent `null` (every `PropertyAddress` part is nullable in Jobber).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobberAddress {
    #[serde(deserialize_with = "null_as_empty")]
    pub street1: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub street2: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub city: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub province: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub postal_code: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub country: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteSummary {
    pub id: QuoteId,
    pub quote_number: String,
    pub title: String,
    pub markers: Vec<String>,
}

/// One line item to create (of a quote; of a job, as `JobCreateLineItemAttributes`, the same
/// fields).
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
    pub client_id: ClientId,
    pub property_id: PropertyId,
    pub title: String,
    pub message: String,
    pub line_items: Vec<LineItemInput>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<Value>,
}

/// Stand-in ids of what a dry run would have created.
pub const DRY_RUN_CLIENT: &str = "dry-run-client";
pub const DRY_RUN_PROPERTY: &str = "dry-run-property";

/// A quote node as Jobber returns it (quote numbers may come as strings or numbers).
fn quote_summary(node: &Value) -> QuoteSummary {
    let text = |name: &str| node.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    QuoteSummary {
        id: QuoteId::new(text("id")),
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
pub(super) fn payload(data: &Value, field: &str) -> Result<Value, JobberError> {
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
        crate::observe::metrics().jobber_user_error(field);
        return Err(JobberError::new(JobberErrorKind::UserError, format!("{field}: {}", errors.join("; "))));
    }
    Ok(payload)
}

pub(super) fn field<T: for<'de> Deserialize<'de>>(value: &Value, pointer: &str) -> Result<T, JobberError> {
    let found = value.pointer(pointer).cloned().unwrap_or(Value::Null);
    serde_json::from_value(found).map_err(|e| {
        JobberError::new(JobberErrorKind::Invalid, format!("unexpected response at {pointer}: {e}"))
    })
}

/// Jobber's search fields (`ClientSearchField`) for a search by name.
pub const SEARCH_NAMES: &[&str] = &["NAMES"];
/// … and for a search by address: property addresses only (billing addresses are not searched).
pub const SEARCH_PROPERTIES: &[&str] = &["PROPERTIES"];

/// A quote as an operator sees it (`sjctl undo`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteView {
    pub id: QuoteId,
    pub quote_number: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub title: String,
    /// `draft`, `awaiting_response`, `approved`, `archived`, `converted`, `changes_requested`.
    pub quote_status: String,
    /// The quote's page in Jobber's web app.
    pub jobber_web_uri: String,
    /// `amounts.total`.
    #[serde(default, rename = "amounts", deserialize_with = "total")]
    pub total: f64,
    /// `client.name`.
    #[serde(default, rename = "client", deserialize_with = "client_name")]
    pub client_name: String,
}

fn total<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Value::deserialize(deserializer)?.get("total").and_then(Value::as_f64).unwrap_or_default())
}

pub(super) fn client_name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(value.get("name").and_then(Value::as_str).unwrap_or_default().to_owned())
}

impl JobberClient {
    /// The id of the quote custom field named `name` (text), if the account has one.
    pub async fn quote_custom_field(&self, name: &str) -> Result<Option<String>, JobberError> {
        let data = self.execute(operations::CUSTOM_FIELDS, json!({})).await?;
        let nodes: Vec<Value> = field(&data, "/customFieldConfigurations/nodes")?;
        Ok(nodes
            .iter()
            .find(|n| {
                n.get("name").and_then(Value::as_str) == Some(name)
                    && n.get("appliesTo").and_then(Value::as_str) == Some("ALL_QUOTES")
            })
            .and_then(|n| n.get("id").and_then(Value::as_str).map(str::to_owned)))
    }

    /// Clients matching a search term in the given `ClientSearchField`s ([`SEARCH_NAMES`],
    /// [`SEARCH_PROPERTIES`]), each with every property.
    pub async fn search_clients(
        &self,
        term: &str,
        fields: &[&str],
    ) -> Result<Vec<ClientSummary>, JobberError> {
        // Every page: a match past the first page is still a match (the one client of that name
        // missed would be created a second time).
        let nodes: Vec<ClientNode> = self
            .every_page(operations::FIND_CLIENTS, json!({"term": term, "fields": fields}), "/clients")
            .await?
            .unwrap_or_default();
        let mut clients = Vec::with_capacity(nodes.len());
        for node in nodes {
            clients.push(self.with_every_property(node).await?);
        }
        Ok(clients)
    }

    /// One client by id, with its addresses; `None` when Jobber has no such client.
    pub async fn client_by_id(&self, id: &ClientId) -> Result<Option<ClientSummary>, JobberError> {
        let data = match self.execute(operations::CLIENT, json!({"id": id})).await {
            Ok(data) => data,
            // A malformed id is "no such client" to the caller (a person typed it in the table).
            Err(e) if e.kind == JobberErrorKind::Invalid || e.kind == JobberErrorKind::UserError => {
                tracing::debug!(%id, error = %e, "client look-up refused");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        match field::<Option<ClientNode>>(&data, "/client")? {
            Some(node) => Ok(Some(self.with_every_property(node).await?)),
            None => Ok(None),
        }
    }

    /// A client node with the rest of its properties read, when it has more than one page.
    async fn with_every_property(&self, node: ClientNode) -> Result<ClientSummary, JobberError> {
        let next = node.client_properties.next().map(str::to_owned);
        let mut properties = node.client_properties.nodes;
        if let Some(after) = next {
            let rest: Vec<PropertySummary> = self
                .every_page(
                    operations::CLIENT_PROPERTIES,
                    json!({"id": node.id, "after": after}),
                    "/client/clientProperties",
                )
                .await?
                .unwrap_or_default();
            properties.extend(rest);
        }
        Ok(ClientSummary { id: node.id, name: node.name, billing_address: node.billing_address, properties })
    }

    /// The quote with this number, if any. Quote numbers are GraphQL `Int`s (32 bits): a larger
    /// number names no quote, and is not sent.
    pub async fn quote_by_number(&self, number: i64) -> Result<Option<QuoteRef>, JobberError> {
        let Ok(number) = i32::try_from(number) else {
            tracing::debug!(number, "a quote number beyond GraphQL's Int names no quote");
            return Ok(None);
        };
        let data = self.execute(operations::QUOTE_BY_NUMBER, json!({"n": number})).await?;
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
                client_id: ClientId::new(text("/client/id")),
                client_name: text("/client/name"),
            }
        }))
    }

    /// A quote as an operator sees it; `None` when Jobber no longer has it (deleted there).
    pub async fn quote_view(&self, quote_id: &QuoteId) -> Result<Option<QuoteView>, JobberError> {
        let data = self.execute(operations::QUOTE, json!({"id": quote_id})).await?;
        field(&data, "/quote")
    }

    /// Every line item of a quote (all pages).
    pub async fn quote_line_items(&self, quote_id: &QuoteId) -> Result<Vec<LineItemSummary>, JobberError> {
        self.every_page(operations::QUOTE_LINES, json!({"id": quote_id}), "/quote/lineItems")
            .await?
            .ok_or_else(|| {
                JobberError::new(
                    JobberErrorKind::UserError,
                    format!("quote {quote_id} does not exist (deleted?)"),
                )
            })
    }

    /// Every node of the connection at `at` (`/clients`), page after page. The operation takes
    /// `$after: String` and reads `pageInfo { hasNextPage endCursor }`. `None` when the
    /// connection's owner is missing (`quote(id:)` of a deleted quote).
    pub(super) async fn every_page<T: for<'de> Deserialize<'de>>(
        &self,
        op: Operation,
        mut variables: Value,
        at: &str,
    ) -> Result<Option<Vec<T>>, JobberError> {
        let mut nodes = Vec::new();
        loop {
            let data = self.execute(op, variables.clone()).await?;
            if data.pointer(at).is_none_or(Value::is_null) {
                return Ok(None);
            }
            let page: Page<T> = field(&data, at)?;
            let next = page.next().map(str::to_owned);
            nodes.extend(page.nodes);
            match next {
                Some(cursor) => variables["after"] = json!(cursor),
                None => return Ok(Some(nodes)),
            }
        }
    }

    /// Adds line items to an existing quote in one mutation; returns the new items' ids.
    pub async fn add_line_items(
        &self,
        quote_id: &QuoteId,
        items: &[LineItemInput],
    ) -> Result<Vec<LineItemId>, JobberError> {
        let variables = json!({"quote": quote_id, "items": items});
        if self.withhold(operations::ADD_LINES, &variables) {
            return Ok(Vec::new());
        }
        let data = self.execute(operations::ADD_LINES, variables).await?;
        let payload = payload(&data, "quoteCreateLineItems")?;
        let created: Vec<Value> = field(&payload, "/createdLineItems")?;
        Ok(created.iter().filter_map(|v| v.get("id").and_then(Value::as_str).map(LineItemId::new)).collect())
    }

    /// Changes line items of an existing quote in one mutation (a template's lines filled in by
    /// PO routing, or put back by `sjctl undo`).
    pub async fn edit_line_items(
        &self,
        quote_id: &QuoteId,
        items: &[LineItemEdit],
    ) -> Result<(), JobberError> {
        let variables = json!({"quote": quote_id, "items": items});
        if self.withhold(operations::EDIT_LINES, &variables) {
            return Ok(());
        }
        let data = self.execute(operations::EDIT_LINES, variables).await?;
        payload(&data, "quoteEditLineItems").map(|_| ())
    }

    /// Deletes line items of a quote (`sjctl undo` of lines added by PO routing).
    pub async fn delete_line_items(&self, quote_id: &QuoteId, ids: &[LineItemId]) -> Result<(), JobberError> {
        let data = self.execute(operations::DELETE_LINES, json!({"quote": quote_id, "ids": ids})).await?;
        payload(&data, "quoteDeleteLineItems").map(|_| ())
    }

    /// Creates a client (a company, named `name`) with the document's address as its billing
    /// address and its first property; returns (client id, property id).
    pub async fn create_client(
        &self,
        name: &str,
        billing: &JobberAddress,
        property: &JobberAddress,
    ) -> Result<(ClientId, PropertyId), JobberError> {
        let input = json!({
            "companyName": name, "isCompany": true,
            "billingAddress": billing, "properties": [{"address": property}],
        });
        let variables = json!({ "input": input });
        if self.withhold(operations::CREATE_CLIENT, &variables) {
            return Ok((ClientId::new(DRY_RUN_CLIENT), PropertyId::new(DRY_RUN_PROPERTY)));
        }
        let data = self.execute(operations::CREATE_CLIENT, variables).await?;
        let payload = payload(&data, "clientCreate")?;
        let client_id: ClientId = field(&payload, "/client/id")?;
        let property_id: PropertyId = field(&payload, "/client/clientProperties/nodes/0/id")?;
        crate::observe::metrics().clients_created.inc();
        Ok((client_id, property_id))
    }

    /// Adds a property to a client; returns its id.
    pub async fn create_property(
        &self,
        client_id: &ClientId,
        address: &JobberAddress,
    ) -> Result<PropertyId, JobberError> {
        let variables = json!({"client": client_id, "input": {"properties": [{"address": address}]}});
        if self.withhold(operations::CREATE_PROPERTY, &variables) {
            return Ok(PropertyId::new(DRY_RUN_PROPERTY));
        }
        let data = self.execute(operations::CREATE_PROPERTY, variables).await?;
        let payload = payload(&data, "propertyCreate")?;
        field(&payload, "/properties/0/id")
    }

    /// A client's quotes, with titles and text custom field values (where markers live): every
    /// quote, or only those created after `since` (Unix seconds).
    pub async fn client_quotes(
        &self,
        client_id: &ClientId,
        since: Option<u64>,
    ) -> Result<Vec<QuoteSummary>, JobberError> {
        let (op, variables) = match since {
            Some(since) => {
                let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(since);
                let since = humantime::format_rfc3339_seconds(at).to_string();
                (operations::RECENT_CLIENT_QUOTES, json!({"client": client_id, "since": since}))
            }
            // Every page: a quote from a crashed attempt may be older than the newest hundred.
            None => (operations::CLIENT_QUOTES, json!({"client": client_id})),
        };
        let nodes: Vec<Value> = self.every_page(op, variables, "/quotes").await?.unwrap_or_default();
        Ok(nodes.iter().map(quote_summary).collect())
    }

    /// Creates a quote with its line items in one mutation; returns it.
    pub async fn create_quote(&self, input: &QuoteInput) -> Result<QuoteSummary, JobberError> {
        let variables = json!({ "attributes": input });
        if self.withhold(operations::CREATE_QUOTE, &variables) {
            let title = input.title.clone();
            return Ok(QuoteSummary {
                id: "dry-run-quote".into(),
                quote_number: "(dry run)".into(),
                title,
                markers: vec![],
            });
        }
        let data = self.execute(operations::CREATE_QUOTE, variables).await?;
        let payload = payload(&data, "quoteCreate")?;
        let quote = payload.get("quote").cloned().unwrap_or(Value::Null);
        let _: String = field(&quote, "/id")?; // a created quote has an id
        Ok(quote_summary(&quote))
    }

    /// The connected account: `(id, name)`.
    pub async fn account(&self) -> Result<(String, String), JobberError> {
        let data = self.execute(operations::ACCOUNT, json!({})).await?;
        let id: String = field(&data, "/account/id")?;
        let name: String = field(&data, "/account/name")?;
        Ok((id, name))
    }

    /// Disconnects the app from the account (`appDisconnect`): every token dies.
    pub async fn disconnect(&self) -> Result<(), JobberError> {
        let data = self.execute(operations::DISCONNECT, json!({})).await?;
        payload(&data, "appDisconnect").map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_address_parts_read_as_empty() {
        let node: ClientNode = serde_json::from_value(json!({
            "id": "c1", "name": "Côté",
            "billingAddress": null,
            "clientProperties": {
                "nodes": [{"id": "p1", "address": {"street1": "12 Main St", "street2": null, "city": null,
                    "province": null, "postalCode": "62704", "country": null}}],
                "pageInfo": {"hasNextPage": false, "endCursor": null}
            }
        }))
        .expect("nullable parts are read");
        let address = &node.client_properties.nodes[0].address;
        assert_eq!(address.street1, "12 Main St");
        assert_eq!(address.street2, "");
        assert_eq!(address.postal_code, "62704");
        assert!(node.billing_address.is_none());
        assert!(node.client_properties.next().is_none());
    }

    #[test]
    fn a_page_with_more_gives_its_cursor() {
        let page: Page<Value> = serde_json::from_value(
            json!({"nodes": [], "pageInfo": {"hasNextPage": true, "endCursor": "MQ"}}),
        )
        .unwrap();
        assert_eq!(page.next(), Some("MQ"));
    }
}
