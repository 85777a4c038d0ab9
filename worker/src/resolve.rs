//! Who the document's customer is in Jobber: the configured strategies in order, then the
//! no-match policy, all under a per-customer lock so that workers racing on one new customer
//! create one client (and one mapping row).
//!
//! 1. `mapping`: the mapping table, by customer key, then by address;
//! 2. `jobber-name`: Jobber's client search by name, accepted when exactly one client has the
//!    name and its addresses agree with the document's;
//! 3. `jobber-address`: the search by street among property addresses (Jobber's client search
//!    does not cover billing addresses), accepted when exactly one client has a property at the
//!    document's address;
//! 4. otherwise `mapping.on_no_match`: `create` the client (and write the mapping row back) or
//!    `park` with the row to add. Customers without a name follow `mapping.unnamed_customer`.
//!
//! Addresses "agree" when they do not contradict each other: when both sides have a street, the
//! streets must be equal and, with `street` strictness, the postal codes or cities too (`exact`:
//! both). The property is the document's site (shipping address, else the customer's): an equal
//! property of the client is reused, else one is created.

use std::time::Duration;

use sj_shared::address::Address;
use sj_shared::config::{AddressAgreement, MappingSettings, NoMatch, Strategy, UnnamedCustomer};
use sj_shared::failure::FailureKind;
use sj_shared::jobber::ops::{
    ClientSummary, JobberAddress, PropertySummary, SEARCH_NAMES, SEARCH_PROPERTIES,
};
use sj_shared::jobber::JobberClient;
use sj_shared::mapping::{
    address_key, address_text, normalize_name, AddressKey, CustomerKey, Mapping, MappingRow, AUTO,
};
use sj_shared::message::QuoteRequest;
use sj_shared::store::{Keys, RedisLock};

use sj_shared::ids::{ClientId, PropertyId};

use crate::client_cache::ClientCache;
use crate::effects::Effects;
use crate::failure::Failure;

/// The client and property a document's quote goes to, and how they were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub client_id: ClientId,
    pub property_id: PropertyId,
    pub how: How,
    /// The client came from the worker's cache, not from Jobber: a refusal by Jobber means
    /// resolving again from Jobber ([`Resolver::resolve`] with `fresh`).
    pub cached: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    MappingKey,
    MappingAddress,
    JobberName,
    JobberAddress,
    Created,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::MappingKey => "mapping-key",
            How::MappingAddress => "mapping-address",
            How::JobberName => "jobber-name",
            How::JobberAddress => "jobber-address",
            How::Created => "created",
        }
    }
}

pub struct Resolver {
    pub jobber: JobberClient,
    pub mapping: Mapping,
    pub settings: MappingSettings,
    pub pool: deadpool_redis::Pool,
    pub keys: Keys,
    /// How long the per-customer lock is held at most: longer than the Jobber calls made under
    /// it can take, or a second worker could create the same client while the first waits.
    pub customer_lease: Duration,
    /// Clients read recently, so a known customer's document costs no Jobber read.
    pub cache: ClientCache,
    /// The cache entries of what this worker created, and mapping rows (logged in a dry run).
    pub effects: Effects,
}

/// What the document says about its customer, reduced for matching.
struct Customer {
    key: CustomerKey,
    name: Option<String>,
    billing: JobberAddress,
    site: JobberAddress,
    site_key: Option<AddressKey>,
    /// `street | city | postal code`, as the mapping table's `saberis_address` column reads.
    site_text: String,
}

impl Resolver {
    /// The document's client and property; `fresh` reads the mapped client from Jobber even
    /// when the cache has it (Jobber refused what the cache said).
    pub async fn resolve(&self, request: &QuoteRequest, fresh: bool) -> Result<Resolved, Failure> {
        let Some(key) = CustomerKey::of(&request.customer, &request.shipping) else {
            return Err(Failure::new(
                FailureKind::MappingNoCustomer,
                "the document names no customer: no number, no name and no address; fill in the customer \
                 in Saberis and export again",
            ));
        };
        let site_address: &Address =
            if request.shipping.is_empty() { &request.customer.address } else { &request.shipping };
        let customer = Customer {
            key,
            name: request.customer.name.clone().filter(|n| !n.trim().is_empty()),
            billing: JobberAddress::from(&request.customer.address),
            site: JobberAddress::from(site_address),
            site_key: address_key(site_address),
            site_text: address_text(site_address),
        };
        // One lock for the customer, one for the site: two customers of one site (a builder's
        // order and the homeowner's, keyed apart) must not both create a client there, or every
        // later order at that address is ambiguous. Taken in one order, so never a deadlock.
        let mut names = vec![format!("customer:{}", customer.key)];
        if let Some(site) = &customer.site_key {
            names.push(format!("site:{site}"));
        }
        names.sort();
        let mut held = Vec::new();
        for name in &names {
            let key = self.keys.key("lock", name);
            match RedisLock::acquire(&self.pool, &key, self.customer_lease, self.customer_lease).await {
                Ok(Some(lock)) => held.push(lock),
                outcome => {
                    for lock in held {
                        lock.release(&self.pool).await;
                    }
                    outcome?;
                    return Err(Failure::new(
                        FailureKind::WorkerCustomerBusy,
                        format!("{name} is locked by another worker"),
                    ));
                }
            }
        }
        let locks: Vec<&RedisLock> = held.iter().collect();
        let result = RedisLock::keep_alive_while(
            &self.pool,
            &locks,
            self.customer_lease,
            self.resolve_locked(&customer, fresh),
        )
        .await;
        for lock in held {
            lock.release(&self.pool).await;
        }
        result
    }

    async fn resolve_locked(&self, customer: &Customer, fresh: bool) -> Result<Resolved, Failure> {
        for strategy in &self.settings.strategies {
            let found = match strategy {
                Strategy::Mapping => self.by_mapping(customer, fresh).await?,
                Strategy::JobberName => self.by_name(customer).await?,
                Strategy::JobberAddress => self.by_address(customer).await?,
            };
            if let Some(resolved) = found {
                tracing::info!(customer = %customer.key, client = %resolved.client_id, how = resolved.how.as_str(),
                    "client resolved");
                return Ok(resolved);
            }
        }
        self.no_match(customer).await
    }

    async fn by_mapping(&self, customer: &Customer, fresh: bool) -> Result<Option<Resolved>, Failure> {
        let (row, how) = match self.mapping.lookup(&customer.key).await? {
            Some(row) => (row, How::MappingKey),
            None => match &customer.site_key {
                Some(site) => match self.mapping.lookup_address(site).await? {
                    Some(row) => (row, How::MappingAddress),
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        if !fresh {
            if let Some(client) = self.cache.get(&row.client_id).await {
                match self.property(&client, row.property_id.as_ref(), &customer.site).await {
                    Ok(property_id) => {
                        return Ok(Some(Resolved { client_id: client.id, property_id, how, cached: true }))
                    }
                    // Refused for what the cache said (the client gone, or the property there
                    // after all): Jobber decides.
                    Err(f) if f.kind == FailureKind::JobberUserError => {
                        tracing::info!(client = %client.id, reason = %f.reason,
                            "Jobber refused a property for the cached client: reading the client again");
                        self.cache.forget(&client.id).await;
                    }
                    Err(f) => return Err(f),
                }
            }
        }
        let Some(client) = self.jobber.client_by_id(&row.client_id).await? else {
            return Err(Failure::new(
                FailureKind::MappingClientMissing,
                format!(
                    "the mapping row for {} (made by {}) names Jobber client {}, which Jobber does not have \
                     (deleted, or a typo?): correct the row in {}, then replay",
                    row.key,
                    row.made_by,
                    row.client_id,
                    self.mapping.describe()
                ),
            ));
        };
        self.cache.put(&client).await;
        let property_id = self.property(&client, row.property_id.as_ref(), &customer.site).await?;
        Ok(Some(Resolved { client_id: client.id, property_id, how, cached: false }))
    }

    /// Forgets the cached client (Jobber refused a quote for it).
    pub async fn forget_cached(&self, client_id: &ClientId) {
        self.cache.forget(client_id).await;
    }

    async fn by_name(&self, customer: &Customer) -> Result<Option<Resolved>, Failure> {
        let Some(name) = &customer.name else { return Ok(None) };
        let wanted = normalize_name(name);
        let candidates: Vec<ClientSummary> = self
            .jobber
            .search_clients(name, SEARCH_NAMES)
            .await?
            .into_iter()
            .filter(|c| normalize_name(&c.name) == wanted)
            .filter(|c| self.agrees(c, &customer.site) || self.agrees(c, &customer.billing))
            .collect();
        self.accept(customer, candidates, How::JobberName, "named").await
    }

    async fn by_address(&self, customer: &Customer) -> Result<Option<Resolved>, Failure> {
        if customer.site.street1.trim().is_empty() {
            return Ok(None);
        }
        // At least the street must be equal here: an address search that accepted anything
        // would hand the document to whichever client came first.
        let strictness = match self.settings.address_agreement {
            AddressAgreement::None => AddressAgreement::Street,
            other => other,
        };
        let candidates: Vec<ClientSummary> = self
            .jobber
            .search_clients(&customer.site.street1, SEARCH_PROPERTIES)
            .await?
            .into_iter()
            .filter(|c| {
                c.property_addresses().any(|a| same_place(a, &customer.site, strictness) == Some(true))
            })
            .collect();
        self.accept(customer, candidates, How::JobberAddress, "at the address of").await
    }

    /// A unique candidate is the client (and its mapping row is written back); several are a
    /// question only a person can answer.
    async fn accept(
        &self,
        customer: &Customer,
        candidates: Vec<ClientSummary>,
        how: How,
        what: &str,
    ) -> Result<Option<Resolved>, Failure> {
        match candidates.as_slice() {
            [] => Ok(None),
            [client] => {
                self.cache.put(client).await;
                let property_id = self.property(client, None, &customer.site).await?;
                self.write_back(customer, &client.id, &property_id, how).await;
                Ok(Some(Resolved { client_id: client.id.clone(), property_id, how, cached: false }))
            }
            several => Err(Failure::new(
                FailureKind::MappingAmbiguousClient,
                format!(
                    "{} Jobber clients are {what} the customer {} ({}); the bridge will not guess: add the right \
                     one to the mapping table (sjctl mapping set '{}' CLIENT_ID), then replay",
                    several.len(),
                    customer.key,
                    several.iter().map(|c| format!("{} {:?}", c.id, c.name)).collect::<Vec<_>>().join(", "),
                    customer.key,
                ),
            )),
        }
    }

    async fn no_match(&self, customer: &Customer) -> Result<Resolved, Failure> {
        let name = match (&customer.name, self.settings.unnamed_customer) {
            (Some(name), _) => name.clone(),
            (None, UnnamedCustomer::CreateFromAddress) if !customer.site.street1.trim().is_empty() => {
                one_line(&customer.site)
            }
            (None, _) => {
                return Err(Failure::new(
                    FailureKind::MappingNoCustomerName,
                    format!(
                        "the document has no customer name (address: {}) and no mapping row for {}: add one \
                         (sjctl mapping set '{}' CLIENT_ID, or a row in {}), or name the customer in Saberis and \
                         export again; mapping.unnamed_customer = \"create-from-address\" names new clients after \
                         the address",
                        if customer.site.street1.trim().is_empty() { "none".to_owned() } else { one_line(&customer.site) },
                        customer.key,
                        customer.key,
                        self.mapping.describe()
                    ),
                ))
            }
        };
        if self.settings.on_no_match == NoMatch::Park {
            return Err(Failure::new(
                FailureKind::MappingNoMatch,
                format!(
                    "no Jobber client found for {} ({name}): add a mapping row (sjctl mapping set '{}' CLIENT_ID, \
                     or a row in {}), then replay",
                    customer.key,
                    customer.key,
                    self.mapping.describe()
                ),
            ));
        }
        let (client_id, property_id) =
            self.jobber.create_client(&name, &customer.billing, &customer.site).await?;
        tracing::info!(client = %client_id, customer = %customer.key, %name, "created the Jobber client");
        let property = PropertySummary { id: property_id.clone(), address: customer.site.clone() };
        self.effects
            .cache_created(&ClientSummary {
                id: client_id.clone(),
                name,
                billing_address: Some(customer.billing.clone()),
                properties: vec![property],
            })
            .await;
        self.write_back(customer, &client_id, &property_id, How::Created).await;
        Ok(Resolved { client_id, property_id, how: How::Created, cached: false })
    }

    /// The client's property for the document: the mapped one when the document has no address
    /// (or has the mapped one's), else an equal one, else a new one.
    async fn property(
        &self,
        client: &ClientSummary,
        mapped: Option<&PropertyId>,
        site: &JobberAddress,
    ) -> Result<PropertyId, Failure> {
        let mapped = mapped.and_then(|id| client.properties.iter().find(|p| &p.id == id));
        if site.street1.trim().is_empty() {
            if let Some(property) = mapped.or(client.properties.first()) {
                return Ok(property.id.clone());
            }
        } else if let Some(property) = mapped
            .filter(|p| same_site(&p.address, site))
            .or_else(|| client.properties.iter().find(|p| same_site(&p.address, site)))
        {
            return Ok(property.id.clone());
        }
        let property = self.jobber.create_property(&client.id, site).await?;
        tracing::info!(client = %client.id, %property, "created the property");
        // The next document of this client knows the new property without asking Jobber.
        let mut known = client.clone();
        known.properties.push(PropertySummary { id: property.clone(), address: site.clone() });
        self.effects.cache_created(&known).await;
        Ok(property)
    }

    fn agrees(&self, client: &ClientSummary, address: &JobberAddress) -> bool {
        if self.settings.address_agreement == AddressAgreement::None {
            return true;
        }
        // Nothing to contradict on either side: the name alone decides.
        let mut known = client.addresses().filter(|a| !a.street1.trim().is_empty()).peekable();
        if address.street1.trim().is_empty() || known.peek().is_none() {
            return true;
        }
        known.any(|a| same_place(a, address, self.settings.address_agreement) == Some(true))
    }

    /// The mapping row that makes the next document of this customer a table look-up. A row
    /// that cannot be written costs a search next time, not a duplicate: logged, not failed.
    async fn write_back(
        &self,
        customer: &Customer,
        client_id: &ClientId,
        property_id: &PropertyId,
        how: How,
    ) {
        let row = MappingRow {
            key: customer.key.clone(),
            client_id: client_id.clone(),
            property_id: Some(property_id.clone()).filter(|p| !p.is_empty()),
            saberis_name: customer.name.clone().unwrap_or_default(),
            saberis_address: customer.site_text.clone(),
            made_by: AUTO.to_owned(),
            made_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            note: match how {
                How::Created => "client created by the bridge".to_owned(),
                found => format!("found by {}", found.as_str()),
            },
        };
        self.effects.write_mapping_row(&row).await;
    }
}

/// `Some(true)` when both have a street and they agree at `strictness`; `None` when a side has
/// no street.
fn same_place(a: &JobberAddress, b: &JobberAddress, strictness: AddressAgreement) -> Option<bool> {
    let norm = |x: &JobberAddress| {
        address_key(&Address {
            street1: Some(x.street1.clone()),
            city: Some(x.city.clone()),
            postal_code: Some(x.postal_code.clone()),
            ..Address::default()
        })
    };
    let (a, b) = (norm(a)?, norm(b)?);
    let (a, b) = (a.parts(), b.parts());
    let street = a[0] == b[0];
    let equal_known = |i: usize| !a[i].is_empty() && a[i] == b[i];
    let both_blank = |i: usize| a[i].is_empty() || b[i].is_empty();
    Some(match strictness {
        AddressAgreement::None => true,
        AddressAgreement::Exact => street && a[1] == b[1] && a[2] == b[2],
        AddressAgreement::Street => {
            street && (equal_known(1) || equal_known(2) || (both_blank(1) && both_blank(2)))
        }
    })
}

/// One site: street, city and postal code agree (normalized), and the second address lines too
/// when both have one (a property typed without "Lot 12" is still that lot).
fn same_site(a: &JobberAddress, b: &JobberAddress) -> bool {
    let line2 = |x: &JobberAddress| sj_shared::mapping::normalize_name(&x.street2);
    let (a2, b2) = (line2(a), line2(b));
    same_place(a, b, AddressAgreement::Exact) == Some(true) && (a2.is_empty() || b2.is_empty() || a2 == b2)
}

fn one_line(a: &JobberAddress) -> String {
    [&a.street1, &a.street2, &a.city, &a.province, &a.postal_code]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(street: &str, city: &str, postal: &str) -> JobberAddress {
        JobberAddress {
            street1: street.into(),
            city: city.into(),
            postal_code: postal.into(),
            ..JobberAddress::default()
        }
    }

    #[test]
    fn a_site_is_one_whether_or_not_its_second_line_was_typed() {
        let mut lot = at("1410 Aspen Ridge Ct", "Bozeman", "59718");
        lot.street2 = "Lot 12".into();
        assert!(same_site(&at("1410 Aspen Ridge Court", "bozeman", "59718"), &lot));
        let mut other = lot.clone();
        other.street2 = "Lot 14".into();
        assert!(!same_site(&other, &lot));
        assert!(!same_site(&at("1410 Aspen Ridge Ct", "Bozeman", "59715"), &lot));
    }

    #[test]
    fn addresses_agree_by_strictness() {
        use AddressAgreement::*;
        let doc = at("12 Main Street", "Springfield", "62704");
        assert_eq!(same_place(&at("12 main st.", "Shelbyville", "62704"), &doc, Street), Some(true));
        assert_eq!(same_place(&at("12 Main St", "springfield", ""), &doc, Street), Some(true));
        assert_eq!(same_place(&at("12 Main St", "Shelbyville", "99999"), &doc, Street), Some(false));
        assert_eq!(same_place(&at("14 Main St", "Springfield", "62704"), &doc, Street), Some(false));
        assert_eq!(same_place(&at("12 Main St", "", ""), &at("12 Main St", "", ""), Street), Some(true));
        assert_eq!(same_place(&at("12 Main St", "Shelbyville", "62704"), &doc, Exact), Some(false));
        assert_eq!(same_place(&at("12 MAIN STREET", "Springfield", "62 704"), &doc, Exact), Some(true));
        assert_eq!(same_place(&at("", "Springfield", "62704"), &doc, Street), Option::None);
    }
}
