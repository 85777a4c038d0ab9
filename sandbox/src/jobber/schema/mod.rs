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
    ClientFilterAttributes, ClientSearchField, CustomFieldConfigurationsFilterInput, JobFilterAttributes,
    PropertiesFilterAttributes, QuoteFilterAttributes, QuotesSortInput, QuotesSortKey, SortDirectionEnum,
};
use self::types::{
    AccountView, Client, ClientConnection, CustomFieldConfiguration, CustomFieldConfigurationConnection, Job,
    JobConnection, Property, PropertyConnection, Quote, QuoteAmounts, QuoteConnection,
};
use crate::context::Shared;
use crate::jobber::ids::EncodedId;
use crate::state::{Account, ClientRecord, CustomFieldValue, JobRecord, QuoteRecord, QuoteStatus, Store};

pub use self::mutation::Mutation;

pub type JobberSchema = Schema<Query, Mutation, EmptySubscription>;

/// Builds the schema. Introspection stays on: Jobber's GraphiQL uses it and so can a developer.
pub fn build() -> JobberSchema {
    Schema::build(Query, Mutation, EmptySubscription).finish()
}

/// The authenticated caller of one GraphQL request: which account its token belongs to.
pub struct Session {
    pub shared: Arc<Shared>,
    /// Jobber's machinery (webhooks fire from mutations).
    pub jobber: Arc<super::Runtime>,
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

/// Lower-cased text a client search looks in: the chosen fields (every field when `fields` is
/// `None`). Names are first, last and company name; phones also count as bare digits; properties
/// are the client's property addresses. Billing addresses are never searched (as in Jobber).
fn client_search_text(
    account: &Account,
    client: &ClientRecord,
    fields: Option<&[ClientSearchField]>,
) -> String {
    let wanted = |field: ClientSearchField| fields.is_none_or(|f| f.contains(&field));
    let mut text = Vec::new();
    if wanted(ClientSearchField::Names) {
        text.extend([client.first_name.clone(), client.last_name.clone()]);
        text.extend(client.company_name.clone());
    }
    if wanted(ClientSearchField::Emails) {
        text.extend(client.emails.iter().map(|e| e.address.clone()));
    } else if wanted(ClientSearchField::PrimaryEmail) {
        text.extend(client.emails.iter().filter(|e| e.primary).map(|e| e.address.clone()));
    }
    if wanted(ClientSearchField::Phones) {
        for phone in &client.phones {
            text.push(phone.number.clone());
            text.push(phone.number.chars().filter(char::is_ascii_digit).collect());
        }
    }
    // ClientSearchField::Notes: the sandbox keeps no client notes.
    if wanted(ClientSearchField::CustomFields) {
        text.extend(client.custom_fields.iter().map(|v| match &v.value {
            CustomFieldValue::Text(t) => t.clone(),
            CustomFieldValue::Numeric(n) => n.to_string(),
        }));
    }
    if wanted(ClientSearchField::Properties) {
        text.extend(
            account.properties.values().filter(|p| p.client_id == client.id).map(|p| p.address.search_text()),
        );
    }
    text.join(" ").to_lowercase()
}

/// A quote's value for one sort key; `None` (no such date) sorts after every value ascending,
/// before every value descending (as PostgreSQL's NULLS LAST / NULLS FIRST defaults do).
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum SortValue {
    Number(f64),
    Text(String),
}

fn sort_value(account: &Account, quote: &QuoteRecord, key: QuotesSortKey) -> Option<SortValue> {
    let client = account.clients.get(&quote.client_id);
    // Jobber's descriptions: a company sorts by its company name; a person by first (or last)
    // name, falling back to the other.
    let name = |first: bool| -> Option<SortValue> {
        let client = client?;
        let company = client.company_name.clone().filter(|_| client.is_company);
        let (a, b) = if first {
            (&client.first_name, &client.last_name)
        } else {
            (&client.last_name, &client.first_name)
        };
        let person = [a, b].into_iter().find(|s| !s.is_empty()).cloned();
        company.or(person).or(client.company_name.clone()).map(|n| SortValue::Text(n.to_lowercase()))
    };
    let date = |ms: Option<i64>| ms.map(|ms| SortValue::Number(ms as f64));
    match key {
        QuotesSortKey::PropertyStreet1 => account
            .properties
            .get(&quote.property_id)
            .map(|p| SortValue::Text(p.address.street1.to_lowercase())),
        QuotesSortKey::ClientPrimaryName | QuotesSortKey::ClientFirstName => name(true),
        QuotesSortKey::ClientLastName => name(false),
        QuotesSortKey::CreatedAt => date(Some(quote.created_at)),
        QuotesSortKey::ApprovedAt => date(quote.approved_at),
        QuotesSortKey::ArchivedAt => date(quote.archived_at),
        QuotesSortKey::LastSentAt | QuotesSortKey::LastChangesRequestedAt | QuotesSortKey::ConvertedAt => {
            None
        }
        QuotesSortKey::QuoteNumber => Some(match quote.quote_number.parse::<f64>() {
            Ok(n) => SortValue::Number(n),
            Err(_) => SortValue::Text(quote.quote_number.clone()),
        }),
        // Workflow order (the sandbox's reading of "in workflow order").
        QuotesSortKey::QuoteStatus => Some(SortValue::Number(match quote.status {
            QuoteStatus::Draft => 0.0,
            QuoteStatus::AwaitingResponse => 1.0,
            QuoteStatus::ChangesRequested => 2.0,
            QuoteStatus::Approved => 3.0,
            QuoteStatus::Converted => 4.0,
            QuoteStatus::Archived => 5.0,
        })),
        QuotesSortKey::QuoteTotal => Some(SortValue::Number(QuoteAmounts::of(quote).total)),
    }
}

/// Sorts quotes by the given keys in order (stable: ties keep creation order).
fn sort_quotes(account: &Account, quotes: &mut [QuoteRecord], sorts: &[QuotesSortInput]) {
    use std::cmp::Ordering;
    quotes.sort_by(|a, b| {
        for sort in sorts {
            let (x, y) = (sort_value(account, a, sort.key), sort_value(account, b, sort.key));
            let ascending = match (&x, &y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            };
            let order = match sort.direction {
                SortDirectionEnum::Ascending => ascending,
                SortDirectionEnum::Descending => ascending.reverse(),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
}

/// Lower-cased text a job search looks in: its number, its title, its client's name and its
/// property's address. (Jobber does not document what its job search covers; the sandbox's
/// reading: what Jobber Online's job list shows.)
fn job_search_text(account: &Account, job: &JobRecord) -> String {
    let client = account.clients.get(&job.client_id).map(ClientRecord::name).unwrap_or_default();
    let address =
        account.properties.get(&job.property_id).map(|p| p.address.search_text()).unwrap_or_default();
    format!("{} {} {client} {address}", job.job_number, job.title.as_deref().unwrap_or("")).to_lowercase()
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

    /// Clients satisfying a filter and a search term (over `searchFields`, or every field).
    #[allow(clippy::too_many_arguments)]
    async fn clients(
        &self,
        ctx: &Context<'_>,
        filter: Option<ClientFilterAttributes>,
        search_term: Option<String>,
        search_fields: Option<Vec<ClientSearchField>>,
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
                .filter(|c| filter.created_at.as_ref().is_none_or(|r| r.contains(c.created_at)))
                .filter(|c| filter.updated_at.as_ref().is_none_or(|r| r.contains(c.updated_at)))
                .filter(|c| {
                    term.trim().is_empty()
                        || matches_search(&client_search_text(account, c, search_fields.as_deref()), &term)
                })
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

    /// Quotes satisfying a filter and a search term (title, number), sorted by `sort` (creation
    /// order without one).
    #[allow(clippy::too_many_arguments)]
    async fn quotes(
        &self,
        ctx: &Context<'_>,
        filter: Option<QuoteFilterAttributes>,
        search_term: Option<String>,
        sort: Option<Vec<QuotesSortInput>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<QuoteConnection> {
        let filter = filter.unwrap_or_default();
        let term = search_term.unwrap_or_default();
        let all = Session::of(ctx).read(|account| {
            let mut quotes = account
                .quotes
                .values()
                .filter(|q| {
                    filter.client_id.as_ref().is_none_or(|c| c.number_of("Client") == Some(q.client_id))
                })
                .filter(|q| filter.status.is_none_or(|s| q.status == s.into()))
                .filter(|q| {
                    filter.quote_number.as_ref().is_none_or(|range| {
                        q.quote_number.trim().parse::<i64>().is_ok_and(|n| range.contains(n))
                    })
                })
                .filter(|q| filter.cost.as_ref().is_none_or(|r| r.contains(QuoteAmounts::of(q).total)))
                .filter(|q| filter.created_at.as_ref().is_none_or(|r| r.contains(q.created_at)))
                .filter(|q| filter.updated_at.as_ref().is_none_or(|r| r.contains(q.updated_at)))
                .filter(|q| {
                    let text =
                        format!("{} {}", q.quote_number, q.title.as_deref().unwrap_or("")).to_lowercase();
                    term.trim().is_empty() || matches_search(&text, &term)
                })
                .cloned()
                .collect::<Vec<_>>();
            sort_quotes(account, &mut quotes, sort.as_deref().unwrap_or_default());
            quotes.into_iter().map(Quote).collect()
        });
        Ok(paginate(all, &PageArgs { after, before, first, last })?.into())
    }

    /// Single job by unique identifier.
    async fn job(&self, ctx: &Context<'_>, id: EncodedId) -> Option<Job> {
        let number = id.number_of("Job")?;
        Session::of(ctx).read(|account| account.jobs.get(&number).cloned().map(Job))
    }

    /// Jobs satisfying a filter and a search term (number, title, client name, property
    /// address), in creation order.
    #[allow(clippy::too_many_arguments)]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        filter: Option<JobFilterAttributes>,
        search_term: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<JobConnection> {
        let filter = filter.unwrap_or_default();
        let term = search_term.unwrap_or_default();
        let all = Session::of(ctx).read(|account| {
            account
                .jobs
                .values()
                .filter(|j| {
                    filter
                        .ids
                        .as_ref()
                        .is_none_or(|ids| ids.iter().any(|id| id.number_of("Job") == Some(j.id)))
                })
                .filter(|j| filter.status.is_none_or(|s| j.status.matches(s.into())))
                .filter(|j| filter.created_at.as_ref().is_none_or(|r| r.contains(j.created_at)))
                .filter(|j| term.trim().is_empty() || matches_search(&job_search_text(account, j), &term))
                .cloned()
                .map(Job)
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
