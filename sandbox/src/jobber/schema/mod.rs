//! The Jobber GraphQL schema: the subset of Jobber's types the bridge uses, resolved against the
//! sandbox's store.

pub mod connection;
pub mod inputs;
mod mutation;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Object, Result, Schema};

use self::connection::{paginate, PageArgs};
use self::inputs::{
    ClientFilterAttributes, CustomFieldConfigurationsFilterInput, PropertiesFilterAttributes,
    QuoteFilterAttributes,
};
use self::types::{
    AccountView, Client, ClientConnection, CustomFieldConfiguration, CustomFieldConfigurationConnection,
    Property, PropertyConnection, Quote, QuoteConnection,
};
use crate::app::Shared;
use crate::jobber::ids::EncodedId;
use crate::state::{Account, ClientRecord, Store};

pub use self::mutation::Mutation;

pub type JobberSchema = Schema<Query, Mutation, EmptySubscription>;

/// Builds the schema. Introspection stays on: Jobber's GraphiQL uses it and so can a developer.
pub fn build() -> JobberSchema {
    Schema::build(Query, Mutation, EmptySubscription).finish()
}

/// The authenticated caller of one GraphQL request: which account its token belongs to.
pub struct Session {
    pub shared: Arc<Shared>,
    pub account_id: u64,
}

impl Session {
    pub fn of<'a>(ctx: &'a Context<'_>) -> &'a Session {
        ctx.data_unchecked::<Session>()
    }

    /// Reads this session's account.
    pub fn read<R>(&self, f: impl FnOnce(&Account) -> R) -> R {
        self.shared.read(|store| match store.accounts.get(&self.account_id) {
            Some(account) => f(account),
            // The account of a live token always exists; an empty one reads as "nothing here".
            None => f(&Account::default()),
        })
    }

    /// Changes the store on behalf of this session's account.
    pub fn write<R>(&self, f: impl FnOnce(&mut Store, u64) -> R) -> R {
        self.shared.write(|store| f(store, self.account_id))
    }

    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }
}

/// Lower-cased text a client search looks in: names, company, emails, phones (also as bare
/// digits) and the billing and property addresses.
fn client_search_text(account: &Account, client: &ClientRecord) -> String {
    let mut text = vec![client.first_name.clone(), client.last_name.clone()];
    text.extend(client.company_name.clone());
    text.extend(client.emails.iter().map(|e| e.address.clone()));
    for phone in &client.phones {
        text.push(phone.number.clone());
        text.push(phone.number.chars().filter(char::is_ascii_digit).collect());
    }
    text.extend(client.billing_address.iter().map(|a| a.search_text()));
    text.extend(
        account.properties.values().filter(|p| p.client_id == client.id).map(|p| p.address.search_text()),
    );
    text.join(" ").to_lowercase()
}

/// Every word of the search term must occur somewhere in the client's searchable text.
fn matches_search(haystack: &str, term: &str) -> bool {
    term.split_whitespace().all(|word| haystack.contains(&word.to_lowercase()))
}

pub struct Query;

#[Object]
impl Query {
    /// The account the authenticated user belongs to.
    async fn account(&self, ctx: &Context<'_>) -> Option<AccountView> {
        let session = Session::of(ctx);
        Some(session.read(|account| AccountView {
            id: EncodedId::new("Account", session.account_id),
            name: account.name.clone(),
        }))
    }

    /// Single client by unique identifier belonging to the account.
    async fn client(&self, ctx: &Context<'_>, id: EncodedId) -> Option<Client> {
        let number = id.number_of("Client")?;
        Session::of(ctx).read(|account| account.clients.get(&number).cloned().map(Client))
    }

    /// Clients satisfying a filter and a search term.
    #[allow(clippy::too_many_arguments)]
    async fn clients(
        &self,
        ctx: &Context<'_>,
        filter: Option<ClientFilterAttributes>,
        search_term: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<ClientConnection> {
        let filter = filter.unwrap_or_default();
        let term = search_term.unwrap_or_default();
        let all = Session::of(ctx).read(|account| {
            account
                .clients
                .values()
                .filter(|c| filter.is_company.is_none_or(|v| c.is_company == v))
                .filter(|c| filter.is_lead.is_none_or(|v| c.is_lead == v))
                .filter(|c| filter.is_archived.is_none_or(|v| c.is_archived == v))
                .filter(|c| term.trim().is_empty() || matches_search(&client_search_text(account, c), &term))
                .cloned()
                .map(Client)
                .collect()
        });
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }

    /// Single property by unique identifier.
    async fn property(&self, ctx: &Context<'_>, id: EncodedId) -> Option<Property> {
        let number = id.number_of("Property")?;
        Session::of(ctx).read(|account| account.properties.get(&number).cloned().map(Property))
    }

    /// Properties, optionally of one client.
    #[allow(clippy::too_many_arguments)]
    async fn properties(
        &self,
        ctx: &Context<'_>,
        filter: Option<PropertiesFilterAttributes>,
        search_term: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<PropertyConnection> {
        let client = filter.and_then(|f| f.client_id);
        let term = search_term.unwrap_or_default();
        let all = Session::of(ctx).read(|account| {
            account
                .properties
                .values()
                .filter(|p| client.as_ref().is_none_or(|c| c.number_of("Client") == Some(p.client_id)))
                .filter(|p| {
                    term.trim().is_empty() || matches_search(&p.address.search_text().to_lowercase(), &term)
                })
                .cloned()
                .map(Property)
                .collect()
        });
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }

    /// Single quote by unique identifier.
    async fn quote(&self, ctx: &Context<'_>, id: EncodedId) -> Option<Quote> {
        let number = id.number_of("Quote")?;
        Session::of(ctx).read(|account| account.quotes.get(&number).cloned().map(Quote))
    }

    /// Quotes satisfying a filter (client, number, status) and a search term (title, number).
    #[allow(clippy::too_many_arguments)]
    async fn quotes(
        &self,
        ctx: &Context<'_>,
        filter: Option<QuoteFilterAttributes>,
        search_term: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<QuoteConnection> {
        let filter = filter.unwrap_or_default();
        let term = search_term.unwrap_or_default();
        let all = Session::of(ctx).read(|account| {
            account
                .quotes
                .values()
                .filter(|q| {
                    filter.client_id.as_ref().is_none_or(|c| c.number_of("Client") == Some(q.client_id))
                })
                .filter(|q| filter.status.is_none_or(|s| q.status == s.into()))
                .filter(|q| {
                    filter.quote_number.as_ref().is_none_or(|range| {
                        let Ok(n) = q.quote_number.parse::<i32>() else { return false };
                        range.eq.is_none_or(|eq| n == eq)
                            && range.min.is_none_or(|min| n >= min)
                            && range.max.is_none_or(|max| n <= max)
                    })
                })
                .filter(|q| {
                    let text =
                        format!("{} {}", q.quote_number, q.title.as_deref().unwrap_or("")).to_lowercase();
                    term.trim().is_empty() || matches_search(&text, &term)
                })
                .cloned()
                .map(Quote)
                .collect()
        });
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }

    /// The account's custom field configurations.
    async fn custom_field_configurations(
        &self,
        ctx: &Context<'_>,
        filter: Option<CustomFieldConfigurationsFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<CustomFieldConfigurationConnection> {
        let filter = filter.unwrap_or_default();
        let all = Session::of(ctx).read(|account| {
            account
                .custom_field_configurations
                .values()
                .filter(|c| filter.applies_to.is_none_or(|a| a == c.applies_to.into()))
                .cloned()
                .map(CustomFieldConfiguration::from)
                .filter(|c| {
                    filter.value_type.is_none_or(|v| match c {
                        CustomFieldConfiguration::CustomFieldConfigurationText(_) => {
                            v == types::CustomFieldConfigurationValueType::Text
                        }
                        CustomFieldConfiguration::CustomFieldConfigurationNumeric(_) => {
                            v == types::CustomFieldConfigurationValueType::Numeric
                        }
                    })
                })
                .collect()
        });
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }
}
