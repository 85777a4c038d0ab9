//! Generated documents and the known customers they belong to.

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use crate::env::Sandbox;

/// The kitchen sample (13 lines, 3.5 KB): every generated document is it, for another customer
/// and PO number.
pub fn template() -> anyhow::Result<String> {
    let path = crate::env::root().join("samples/saberis/kitchen-harbour-lane.xml");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Document `d` of a run, for customer `c`: "Customer c Builders", billed at c Quarry Rd, building
/// at (1000 + c) Aspen Ridge Ct; its PO number makes its content (and so its quote) its own.
pub fn document(template: &str, run: &str, d: usize, c: usize) -> String {
    template
        .replace("Harbour Lane Builders", &format!("Customer {c} Builders"))
        .replace("88 Quarry Rd", &format!("{c} Quarry Rd"))
        .replace("1410 Aspen Ridge Ct", &format!("{} Aspen Ridge Ct", 1000 + c))
        .replace("PO-2231", &format!("PO-{run}-{d}"))
}

/// A customer who is in Jobber and in the mapping table.
pub struct Customer {
    pub n: usize,
    pub client_id: String,
    pub property_id: String,
}

/// Creates `n` company clients in the sandbox, each with the property its orders ship to.
pub async fn create_customers(sandbox: &Sandbox, n: usize) -> anyhow::Result<Vec<Customer>> {
    let mut customers = Vec::with_capacity(n);
    for c in 0..n {
        let reply = sandbox
            .gql(
                "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id clientProperties(first: 1) { nodes { id } } } userErrors { message } } }",
                json!({"input": {"companyName": format!("Customer {c} Builders"), "isCompany": true,
                    "billingAddress": {"street1": format!("{c} Quarry Rd"), "city": "Bozeman", "province": "MT", "postalCode": "59715"},
                    "properties": [{"address": {"street1": format!("{} Aspen Ridge Ct", 1000 + c), "street2": "Lot 12",
                        "city": "Bozeman", "province": "MT", "postalCode": "59718"}}]}}),
            )
            .await?;
        let client = &reply["data"]["clientCreate"]["client"];
        let id = |v: &serde_json::Value| {
            v.as_str().map(str::to_owned).with_context(|| format!("clientCreate: {reply}"))
        };
        customers.push(Customer {
            n: c,
            client_id: id(&client["id"])?,
            property_id: id(&client["clientProperties"]["nodes"][0]["id"])?,
        });
    }
    Ok(customers)
}

/// The mapping table (CSV store) naming every customer's client and property.
pub fn write_mapping(path: &Path, customers: &[Customer]) -> anyhow::Result<()> {
    let made_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut text = String::from(
        "saberis_key,jobber_client_id,jobber_property_id,saberis_name,saberis_address,made_by,made_at,note\n",
    );
    for c in customers {
        text.push_str(&format!(
            "name:customer {n} builders,{},{},Customer {n} Builders,,sj-bench,{made_at},\n",
            c.client_id,
            c.property_id,
            n = c.n
        ));
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// Writes `count` documents (document d for customer d % customers) into `dir`.
pub fn write_backlog(dir: &Path, run: &str, count: usize, customers: usize) -> anyhow::Result<()> {
    let template = template()?;
    for d in 0..count {
        std::fs::write(dir.join(format!("order-{d:05}.xml")), document(&template, run, d, d % customers))?;
    }
    Ok(())
}
