//! Writes a [`SaberisDocument`] in either of Saberis' forms, as Saberis does: XML compact, with
//! no declaration and no namespace; JSON as SaberisConnect serves it. `None` is written as an
//! empty element (XML) or an empty string (JSON), `GroupType` as an empty element or `null`.
//!
//! Used to convert between the forms (the sandbox serves both), to generate documents for
//! benchmarks and tests, and by the round-trip property tests of the parser.

use serde_json::{json, Map, Value};

use super::model::{ItemKind, SaberisDocument};
use crate::address::Address;

/// The XML form.
pub fn to_xml(doc: &SaberisDocument) -> String {
    let mut out = String::with_capacity(4096);
    let o = &doc.order;
    out.push_str("<SaberisOrderDocument>");
    leaf(&mut out, "DocumentVersion", doc.version.as_deref());
    out.push_str("<Order>");
    leaf(&mut out, "Source", o.source.as_deref());
    leaf(&mut out, "Date", saberis_date(o.date.as_deref()).as_deref());
    leaf(&mut out, "OrderNumber", o.order_number.as_deref());
    leaf(&mut out, "Type", o.order_type.as_deref());
    leaf(&mut out, "Username", o.username.as_deref());
    out.push_str("<Customer>");
    leaf(&mut out, "Number", o.customer.number.as_deref());
    leaf(&mut out, "POnumber", o.customer.po_number.as_deref());
    leaf(&mut out, "Name", o.customer.name.as_deref());
    let a = &o.customer.address;
    leaf(&mut out, "Address", a.street1.as_deref());
    leaf(&mut out, "City", a.city.as_deref());
    leaf(&mut out, "StateOrProvince", a.province.as_deref());
    leaf(&mut out, "ZipOrPostal", a.postal_code.as_deref());
    out.push_str("</Customer>");
    leaf(&mut out, "StoreNumber", o.store_number.as_deref());
    leaf(&mut out, "SalesPerson", o.salesperson.as_deref());
    out.push_str("<Shipping>");
    for (name, value) in shipping_fields(&o.shipping) {
        leaf(&mut out, name, value);
    }
    out.push_str("</Shipping>");
    for group in &o.groups {
        out.push_str("<Group>");
        match group.group_type.as_deref() {
            Some(t) => leaf(&mut out, "GroupType", Some(t)),
            None => out.push_str("<GroupType/>"),
        }
        for item in &group.items {
            out.push_str("<Item>");
            for (name, value) in item_fields(item) {
                leaf(&mut out, name, value.as_deref());
            }
            out.push_str("</Item>");
        }
        out.push_str("</Group>");
    }
    out.push_str("</Order></SaberisOrderDocument>");
    out
}

/// The SaberisConnect JSON form, pretty-printed as the API serves it.
pub fn to_json(doc: &SaberisDocument) -> String {
    let o = &doc.order;
    let s = |v: &Option<String>| Value::String(v.clone().unwrap_or_default());
    let a = &o.customer.address;
    let groups: Vec<Value> = o
        .groups
        .iter()
        .map(|group| {
            let items: Vec<Value> = group
                .items
                .iter()
                .map(|item| {
                    let map: Map<String, Value> = item_fields(item)
                        .into_iter()
                        .map(|(name, value)| (name.to_owned(), Value::String(value.unwrap_or_default())))
                        .collect();
                    Value::Object(map)
                })
                .collect();
            json!({"GroupType": group.group_type, "Item": items})
        })
        .collect();
    let shipping: Map<String, Value> = shipping_fields(&o.shipping)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value.unwrap_or_default().to_owned())))
        .collect();
    let value = json!({"SaberisOrderDocument": {
        "DocumentVersion": s(&doc.version),
        "Order": {
            "Source": s(&o.source),
            "Date": saberis_date(o.date.as_deref()).unwrap_or_default(),
            "OrderNumber": s(&o.order_number),
            "Type": s(&o.order_type),
            "Username": s(&o.username),
            "Customer": {
                "Number": s(&o.customer.number),
                "POnumber": s(&o.customer.po_number),
                "Name": s(&o.customer.name),
                "Address": s(&a.street1),
                "City": s(&a.city),
                "StateOrProvince": s(&a.province),
                "ZipOrPostal": s(&a.postal_code),
            },
            "StoreNumber": s(&o.store_number),
            "SalesPerson": s(&o.salesperson),
            "Shipping": shipping,
            // One group is written as an object holding a list, as SaberisConnect does.
            "Group": if groups.len() == 1 { groups.into_iter().next().expect("one") } else { Value::Array(groups) },
        }
    }});
    serde_json::to_string_pretty(&value).expect("a JSON value serializes")
}

fn shipping_fields(a: &Address) -> [(&'static str, Option<&str>); 5] {
    [
        ("Address", a.street1.as_deref()),
        ("Address2", a.street2.as_deref()),
        ("City", a.city.as_deref()),
        ("StateOrProvince", a.province.as_deref()),
        ("ZipOrPostal", a.postal_code.as_deref()),
    ]
}

/// An item's fields in Saberis' order; text items have only the first three.
fn item_fields(item: &super::model::Item) -> Vec<(&'static str, Option<String>)> {
    let mut fields = vec![
        ("Type", Some(if matches!(item.kind, ItemKind::Text) { "Text" } else { "Product" }.to_owned())),
        ("LineID", item.line_id.map(|id| id.to_string())),
        ("Description", item.description.clone()),
    ];
    if let ItemKind::Product(p) = &item.kind {
        fields.extend([
            ("Quantity", Some(p.quantity.to_string())),
            ("List", Some(p.list.to_string())),
            ("Selling", Some(p.selling.to_string())),
            ("Cost", Some(p.cost.to_string())),
            ("SKU", p.sku.clone()),
            ("ProductType", p.product_type.clone()),
            ("ProductCode", p.product_code.clone()),
            ("UOM", p.uom.clone()),
            ("ManufacturerPartNumber", p.manufacturer_part_number.clone()),
            ("ManufacturerSKU", p.manufacturer_sku.clone()),
            ("Volume", p.volume.clone()),
            ("Weight", p.weight.clone()),
        ]);
    }
    fields
}

/// ISO `2025-07-08` back to Saberis' `2025.07.08`.
fn saberis_date(iso: Option<&str>) -> Option<String> {
    iso.map(|d| d.replace('-', "."))
}

fn leaf(out: &mut String, name: &str, value: Option<&str>) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    if let Some(value) = value {
        escape_into(out, value);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Carriage returns would be normalized away by any XML reader: keep them.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}
