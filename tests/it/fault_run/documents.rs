//! The fault run's world: the customers, what Jobber holds before the run, and the N documents
//! (each with what must become of it), all drawn from the run's seed.

use std::collections::BTreeMap;

use serde_json::json;
use sj_shared::intake::DocumentReader;
use sj_shared::message::{Source, SourceKind};

use crate::support::samples;

/// The customers of the run's valid orders. Two by two they share a billing address (a builder's
/// office, a design firm's); each builds at a site of its own.
pub const CUSTOMERS: [&str; 8] = [
    "Alder Creek Builders",
    "Birch Hollow Homes",
    "Cedar Point Cabinets Co",
    "Dogwood Renovations",
    "Elm Street Kitchens",
    "Fir Ridge Construction",
    "Glacier View Homes",
    "Hawthorn Design Build",
];
/// Customers 0..KNOWN are clients in Jobber before the run (0 and 1 with a mapping row, the
/// others found by Jobber's search); the rest are new: the bridge creates each once.
pub const KNOWN: usize = 4;
/// Customers with a mapping row written before the run (key and site address).
pub const MAPPED: usize = 2;
/// The customer of the ambiguous orders: two clients of this name at its site.
pub const TWIN: &str = "Twin Oaks Builders";
const TWIN_SITE: &str = "7 Twin Oaks Rd";
/// The client whose quotes the PO-routed orders name.
pub const PO_CLIENT: &str = "Aspen Ridge Homes";
/// Product lines of every order (the kitchen sample's).
pub const PRODUCT_LINES: usize = 5;

pub fn billing(customer: usize) -> String {
    format!("{} Quarry Rd", 10 + customer / 2)
}

pub fn site(customer: usize) -> String {
    format!("{} Aspen Ridge Ct", 100 + customer)
}

/// What must become of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A new quote, for the customer's client.
    Quote { customer: usize },
    /// An order without a customer name at a known customer's site: the site's client (found by
    /// the mapping table's address).
    Homeowner { customer: usize },
    /// The same order as document `of`, exported again (other layout, date, user): no new quote.
    Reexport { of: usize },
    /// The PO names quote `quote` (of [`World::po_quotes`]): its lines are added there, once.
    PoRouted { quote: usize },
    /// The poller refuses it (error kind).
    Invalid(&'static str),
    /// The worker parks it (error kind).
    Unresolvable(&'static str),
}

impl Kind {
    /// Parked, with an alert.
    pub fn parked(&self) -> Option<&'static str> {
        match self {
            Kind::Invalid(kind) | Kind::Unresolvable(kind) => Some(kind),
            _ => None,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Kind::Quote { .. } => "new quote",
            Kind::Homeowner { .. } => "homeowner (no name, known site)",
            Kind::Reexport { .. } => "re-export",
            Kind::PoRouted { .. } => "PO-routed",
            Kind::Invalid(_) => "invalid",
            Kind::Unresolvable(_) => "unresolvable",
        }
    }
}

pub struct Doc {
    pub name: String,
    pub bytes: Vec<u8>,
    pub kind: Kind,
    /// The content hash (as the poller computes it) of a document that reaches the workers.
    pub hash: Option<String>,
}

impl Doc {
    /// The marker the bridge writes on its quote or lines: `SJ-` + 12 hex digits of the hash.
    pub fn marker(&self) -> Option<String> {
        let hash = self.hash.as_deref()?;
        let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
        Some(format!("SJ-{}", &hex[..12]))
    }
}

/// What Jobber holds before the run, made through its API as people made it.
pub struct World {
    /// Client ids (EncodedId) of the known customers.
    pub known: Vec<String>,
    /// Quote numbers the PO-routed orders name.
    pub po_quotes: Vec<String>,
}

fn kitchen() -> String {
    std::fs::read_to_string(samples().join("saberis/kitchen-harbour-lane.xml")).unwrap()
}

/// The kitchen sample as another order: its customer (`None`: no name), billing street, site
/// street and PO number.
fn order(name: Option<&str>, billing: &str, site: &str, po: &str) -> String {
    kitchen()
        .replace("<Name>Harbour Lane Builders</Name>", &format!("<Name>{}</Name>", name.unwrap_or("")))
        .replace("<Address>88 Quarry Rd</Address>", &format!("<Address>{billing}</Address>"))
        .replace(
            "<Address>1410 Aspen Ridge Ct</Address><Address2>Lot 12</Address2>",
            &format!("<Address>{site}</Address><Address2></Address2>"),
        )
        .replace("PO-2231", po)
}

/// The same order as Saberis exports it again later: a byte-order mark, one item per line,
/// another date and user (none of which changes the order).
fn reexport(original: &str) -> String {
    format!(
        "\u{feff}{}",
        original
            .replace("  <Item>", "\n  <Item>")
            .replace("<Date>2026.03.14</Date>", "<Date>2026.03.16</Date>")
            .replace("mreyes_design", "mreyes_laptop")
    )
}

fn content_hash(name: &str, bytes: &[u8]) -> String {
    let source = Source::now(SourceKind::Folder, name);
    DocumentReader::default()
        .quote_request(bytes, None, source, true)
        .unwrap_or_else(|e| panic!("{name} is a valid order: {e}"))
        .content_hash
        .into()
}

/// The documents, in the order they are dropped into `incoming/`.
pub fn plan(n: usize, rng: &mut fastrand::Rng, world: &World) -> Vec<Doc> {
    // The mix, in hundredths of N: 8 invalid, 9 unresolvable, 8 PO-routed, 10 re-exports,
    // 7 homeowners, the rest new quotes of the eight customers.
    let count = |per_cent: usize| (n * per_cent).div_ceil(100);
    let mut kinds: Vec<&str> = Vec::with_capacity(n);
    for (what, share) in [
        ("invalid", count(8)),
        ("unresolvable", count(9)),
        ("po", world.po_quotes.len()),
        ("reexport", count(10)),
        ("homeowner", count(7)),
    ] {
        kinds.extend(std::iter::repeat_n(what, share));
    }
    kinds.truncate(n);
    kinds.resize(n, "quote");
    rng.shuffle(&mut kinds);

    let mut docs: Vec<Doc> = Vec::with_capacity(n);
    let (mut po, mut invalid, mut unresolvable) = (0, 0, 0);
    for (d, what) in kinds.into_iter().enumerate() {
        let po_number = format!("PO-{:05}", 10_000 + d);
        // A re-export needs an earlier order to repeat; before any, the document is a new quote.
        let earlier: Vec<usize> =
            (0..docs.len()).filter(|&i| matches!(docs[i].kind, Kind::Quote { .. })).collect();
        let what = if what == "reexport" && earlier.is_empty() { "quote" } else { what };
        let (name, text, kind) = match what {
            "quote" => {
                let c = rng.usize(..CUSTOMERS.len());
                let text = order(Some(CUSTOMERS[c]), &billing(c), &site(c), &po_number);
                (format!("{d:05}-order-c{c}.xml"), text, Kind::Quote { customer: c })
            }
            "homeowner" => {
                let c = rng.usize(..MAPPED);
                let text = order(None, &site(c), &site(c), &po_number);
                (format!("{d:05}-homeowner-c{c}.xml"), text, Kind::Homeowner { customer: c })
            }
            "reexport" => {
                let of = earlier[rng.usize(..earlier.len())];
                let text = reexport(std::str::from_utf8(&docs[of].bytes).unwrap());
                (format!("{d:05}-reexport-of-{of:05}.xml"), text, Kind::Reexport { of })
            }
            "po" => {
                let quote = po;
                po += 1;
                let c = rng.usize(..CUSTOMERS.len());
                let text = order(
                    Some(CUSTOMERS[c]),
                    &billing(c),
                    &site(c),
                    &format!("Q#{}", world.po_quotes[quote]),
                );
                (format!("{d:05}-po-q{}.xml", world.po_quotes[quote]), text, Kind::PoRouted { quote })
            }
            "invalid" => {
                invalid += 1;
                let c = rng.usize(..CUSTOMERS.len());
                let text = order(Some(CUSTOMERS[c]), &billing(c), &site(c), &po_number);
                match invalid % 3 {
                    0 => {
                        let cut = text.len() * 3 / 5;
                        (
                            format!("{d:05}-truncated.xml"),
                            text[..cut].to_owned(),
                            Kind::Invalid("parse.malformed-xml"),
                        )
                    }
                    1 => (
                        format!("{d:05}-price-slip.xml"),
                        text.replacen("<Selling>612.40</Selling>", "<Selling>1612400.00</Selling>", 1),
                        Kind::Invalid("sanity.price-above-limit"),
                    ),
                    _ => (
                        format!("{d:05}-quantity-not-a-number.xml"),
                        text.replacen("<Quantity>2</Quantity>", "<Quantity>two</Quantity>", 1),
                        Kind::Invalid("parse.invalid-value"),
                    ),
                }
            }
            _ => {
                unresolvable += 1;
                match unresolvable % 3 {
                    0 => (
                        format!("{d:05}-twin.xml"),
                        order(Some(TWIN), TWIN_SITE, TWIN_SITE, &po_number),
                        Kind::Unresolvable("mapping.ambiguous-client"),
                    ),
                    1 => (
                        format!("{d:05}-nameless.xml"),
                        order(
                            None,
                            &format!("{} Nowhere Ln", 900 + d),
                            &format!("{} Nowhere Ln", 900 + d),
                            &po_number,
                        ),
                        Kind::Unresolvable("mapping.no-customer-name"),
                    ),
                    _ => {
                        let c = rng.usize(..CUSTOMERS.len());
                        let text =
                            order(Some(CUSTOMERS[c]), &billing(c), &site(c), &format!("Q#{}", 90_000 + d));
                        (format!("{d:05}-po-missing.xml"), text, Kind::Unresolvable("routing.quote-missing"))
                    }
                }
            }
        };
        let bytes = text.into_bytes();
        let hash = match kind {
            Kind::Invalid(_) => None,
            _ => Some(content_hash(&name, &bytes)),
        };
        if let Kind::Reexport { of } = kind {
            assert_eq!(hash, docs[of].hash, "a re-export has its original's content hash");
        }
        docs.push(Doc { name, bytes, kind, hash });
    }
    docs
}

/// How many PO-routed documents the plan will hold (one existing quote each).
pub fn po_count(n: usize) -> usize {
    (n * 8).div_ceil(100)
}

async fn client(
    sandbox: &sj_sandbox::Sandbox,
    token: &str,
    name: &str,
    billing: &str,
    site: &str,
) -> (String, String) {
    let reply = crate::sandbox::gql(
        sandbox,
        token,
        "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id clientProperties(first: 1) { nodes { id } } } userErrors { message } } }",
        json!({"input": {"companyName": name, "isCompany": true,
            "billingAddress": {"street1": billing, "city": "Bozeman", "province": "MT", "postalCode": "59715"},
            "properties": [{"address": {"street1": site, "city": "Bozeman", "province": "MT", "postalCode": "59718"}}]}}),
    )
    .await;
    let client = &reply.json["data"]["clientCreate"]["client"];
    (
        client["id"].as_str().unwrap_or_else(|| panic!("{}", reply.text)).to_owned(),
        client["clientProperties"]["nodes"][0]["id"].as_str().unwrap().to_owned(),
    )
}

/// Jobber before the run: the known customers, the twins, and the quotes PO numbers name.
pub async fn setup(sandbox: &sj_sandbox::Sandbox, po_quotes: usize) -> World {
    let token = sandbox.issue_tokens().access_token;
    let mut known = Vec::new();
    for (c, name) in CUSTOMERS.iter().enumerate().take(KNOWN) {
        known.push(client(sandbox, &token, name, &billing(c), &site(c)).await.0);
    }
    for _ in 0..2 {
        client(sandbox, &token, TWIN, TWIN_SITE, TWIN_SITE).await;
    }
    let (po_client, po_property) =
        client(sandbox, &token, PO_CLIENT, "1 Aspen Ridge Ct", "1 Aspen Ridge Ct").await;
    let mut numbers = Vec::new();
    for n in 0..po_quotes {
        let reply = crate::sandbox::gql(
            sandbox,
            &token,
            "mutation($a: QuoteCreateAttributes!) { quoteCreate(attributes: $a) { quote { quoteNumber } userErrors { message } } }",
            json!({"a": {"clientId": po_client, "propertyId": po_property, "title": format!("Kitchen remodel {n}"),
                "lineItems": [{"name": "Design visit", "quantity": 1, "unitPrice": 150, "saveToProductsAndServices": false}]}}),
        )
        .await;
        numbers.push(
            reply.json["data"]["quoteCreate"]["quote"]["quoteNumber"].as_str().expect(&reply.text).to_owned(),
        );
    }
    World { known, po_quotes: numbers }
}

/// The mapping table before the run: rows (a person's) for customers 0..MAPPED, by name and with
/// their site's address, so a homeowner's nameless order there finds the client too.
pub fn mapping_csv(world: &World) -> String {
    let mut csv = String::from(
        "saberis_key,jobber_client_id,jobber_property_id,saberis_name,saberis_address,made_by,made_at,note\n",
    );
    for (c, client) in world.known.iter().enumerate().take(MAPPED) {
        let key = format!("name:{}", CUSTOMERS[c].to_lowercase());
        csv.push_str(&format!(
            "{key},{client},,{},{} | Bozeman | 59718,ops,2026-11-01,\n",
            CUSTOMERS[c],
            site(c)
        ));
    }
    csv
}

/// Documents per kind label, for the report.
pub fn mix(docs: &[Doc]) -> BTreeMap<&'static str, usize> {
    let mut mix = BTreeMap::new();
    for doc in docs {
        *mix.entry(doc.kind.label()).or_default() += 1;
    }
    mix
}
