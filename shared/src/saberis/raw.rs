//! The document as read, before its values are checked: both readers (XML and JSON) fill these
//! structs, and one conversion ([`RawDocument::into_document`]) checks values and builds the
//! typed model, so both forms obey exactly the same rules and report errors alike.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::error::{line_col, DocumentError, Place};
use super::model::{Customer, Group, Item, ItemKind, Order, Product, SaberisDocument};
use crate::address::Address;
use crate::failure::ParseErrorKind;

/// A leaf value: its text (`None` when absent, null or blank; trimmed otherwise) and, for XML,
/// the byte offset of its start tag.
#[derive(Debug, Default, Clone)]
pub(crate) struct Leaf {
    pub text: Option<String>,
    pub at: usize,
    /// Seen in the document (to refuse a field given twice in XML; serde refuses it in JSON).
    pub present: bool,
}

impl Leaf {
    /// Sets the value from raw text, trimming it; blank becomes `None`.
    pub fn set(&mut self, text: &str, at: usize) {
        let text = text.trim();
        self.text = (!text.is_empty()).then(|| text.to_owned());
        self.at = at;
        self.present = true;
    }

    fn string(&self) -> Option<String> {
        self.text.clone()
    }
}

impl<'de> Deserialize<'de> for Leaf {
    /// A JSON leaf: a string, or a number or boolean written as text, or null.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LeafVisitor;
        impl Visitor<'_> for LeafVisitor {
            type Value = Leaf;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, a number or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Leaf, E> {
                let mut leaf = Leaf::default();
                leaf.set(v, 0);
                Ok(leaf)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Leaf, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Leaf, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Leaf, E> {
                // Shortest representation that reads back as the same float: 607.55 stays "607.55".
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Leaf, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
            fn visit_unit<E: de::Error>(self) -> Result<Leaf, E> {
                Ok(Leaf { present: true, ..Leaf::default() })
            }
            fn visit_none<E: de::Error>(self) -> Result<Leaf, E> {
                self.visit_unit()
            }
        }
        deserializer.deserialize_any(LeafVisitor)
    }
}

/// A repeated element: in JSON a list, or a single object where there is one (the SaberisConnect
/// JSON writes a lone `Item` as an object). `is_list` keeps the shape for JSON pointers.
#[derive(Debug, Clone)]
pub(crate) struct OneOrMany<T> {
    pub items: Vec<T>,
    pub is_list: bool,
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self { items: Vec::new(), is_list: false }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or a list of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany { items, is_list: true })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let one = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany { items: vec![one], is_list: false })
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany::default())
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The JSON form's top level: `{"SaberisOrderDocument": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct JsonRoot {
    #[serde(rename = "SaberisOrderDocument")]
    pub document: Option<RawDocument>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawDocument {
    #[serde(rename = "DocumentVersion", default)]
    pub version: Leaf,
    #[serde(rename = "Order", default)]
    pub order: Option<RawOrder>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RawOrder {
    #[serde(skip)]
    pub at: usize,
    pub source: Leaf,
    pub date: Leaf,
    pub order_number: Leaf,
    #[serde(rename = "Type")]
    pub order_type: Leaf,
    pub username: Leaf,
    pub customer: Option<RawCustomer>,
    pub store_number: Leaf,
    pub sales_person: Leaf,
    pub shipping: Option<RawShipping>,
    pub group: OneOrMany<RawGroup>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RawCustomer {
    pub number: Leaf,
    #[serde(rename = "POnumber")]
    pub po_number: Leaf,
    pub name: Leaf,
    pub address: Leaf,
    pub city: Leaf,
    pub state_or_province: Leaf,
    pub zip_or_postal: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RawShipping {
    pub address: Leaf,
    pub address2: Leaf,
    pub city: Leaf,
    pub state_or_province: Leaf,
    pub zip_or_postal: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RawGroup {
    #[serde(skip)]
    pub at: usize,
    pub group_type: Leaf,
    pub item: OneOrMany<RawItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RawItem {
    #[serde(skip)]
    pub at: usize,
    #[serde(rename = "Type")]
    pub item_type: Leaf,
    #[serde(rename = "LineID")]
    pub line_id: Leaf,
    pub description: Leaf,
    pub quantity: Leaf,
    pub list: Leaf,
    pub selling: Leaf,
    pub cost: Leaf,
    #[serde(rename = "SKU")]
    pub sku: Leaf,
    pub product_type: Leaf,
    pub product_code: Leaf,
    #[serde(rename = "UOM")]
    pub uom: Leaf,
    pub manufacturer_part_number: Leaf,
    #[serde(rename = "ManufacturerSKU")]
    pub manufacturer_sku: Leaf,
    pub volume: Leaf,
    pub weight: Leaf,
}

// The XML reader finds leaves by element name. These tables are the XML twin of the serde
// renames above; the round-trip property tests render and re-read every field in both forms.
impl RawDocument {
    pub fn leaf_mut(&mut self, name: &str) -> Option<&mut Leaf> {
        (name == "DocumentVersion").then_some(&mut self.version)
    }
}

impl RawOrder {
    pub fn leaf_mut(&mut self, name: &str) -> Option<&mut Leaf> {
        Some(match name {
            "Source" => &mut self.source,
            "Date" => &mut self.date,
            "OrderNumber" => &mut self.order_number,
            "Type" => &mut self.order_type,
            "Username" => &mut self.username,
            "StoreNumber" => &mut self.store_number,
            "SalesPerson" => &mut self.sales_person,
            _ => return None,
        })
    }
}

impl RawCustomer {
    pub fn leaf_mut(&mut self, name: &str) -> Option<&mut Leaf> {
        Some(match name {
            "Number" => &mut self.number,
            "POnumber" => &mut self.po_number,
            "Name" => &mut self.name,
            "Address" => &mut self.address,
            "City" => &mut self.city,
            "StateOrProvince" => &mut self.state_or_province,
            "ZipOrPostal" => &mut self.zip_or_postal,
            _ => return None,
        })
    }
}

impl RawShipping {
    pub fn leaf_mut(&mut self, name: &str) -> Option<&mut Leaf> {
        Some(match name {
            "Address" => &mut self.address,
            "Address2" => &mut self.address2,
            "City" => &mut self.city,
            "StateOrProvince" => &mut self.state_or_province,
            "ZipOrPostal" => &mut self.zip_or_postal,
            _ => return None,
        })
    }
}

impl RawGroup {
    pub fn leaf_mut(&mut self, name: &str) -> Option<&mut Leaf> {
        (name == "GroupType").then_some(&mut self.group_type)
    }
}

impl RawItem {
    pub fn leaf_mut(&mut self, name: &str) -> Option<&mut Leaf> {
        Some(match name {
            "Type" => &mut self.item_type,
            "LineID" => &mut self.line_id,
            "Description" => &mut self.description,
            "Quantity" => &mut self.quantity,
            "List" => &mut self.list,
            "Selling" => &mut self.selling,
            "Cost" => &mut self.cost,
            "SKU" => &mut self.sku,
            "ProductType" => &mut self.product_type,
            "ProductCode" => &mut self.product_code,
            "UOM" => &mut self.uom,
            "ManufacturerPartNumber" => &mut self.manufacturer_part_number,
            "ManufacturerSKU" => &mut self.manufacturer_sku,
            "Volume" => &mut self.volume,
            "Weight" => &mut self.weight,
            _ => return None,
        })
    }
}

/// Which form the raw document was read from: decides how a place is written.
#[derive(Clone, Copy)]
pub(crate) enum Form<'a> {
    /// XML, with the decoded text (to turn byte offsets into lines and columns).
    Xml(&'a str),
    Json,
}

/// A step of a path into the document: an element name, with its index when repeated.
#[derive(Clone, Copy)]
struct Step {
    name: &'static str,
    /// (0-based index, was it a JSON list).
    index: Option<(usize, bool)>,
}

const fn step(name: &'static str) -> Step {
    Step { name, index: None }
}

impl Form<'_> {
    fn place(self, steps: &[Step], at: usize) -> Place {
        let mut path = String::with_capacity(64);
        path.push_str("/SaberisOrderDocument");
        for step in steps {
            path.push('/');
            path.push_str(step.name);
            match (self, step.index) {
                (Form::Xml(_), Some((i, _))) => write!(path, "[{}]", i + 1).expect("String write"),
                (Form::Json, Some((i, true))) => write!(path, "/{i}").expect("String write"),
                _ => {}
            }
        }
        match self {
            Form::Xml(text) => {
                let (line, column) = line_col(text, at);
                Place::Xml { path, line, column }
            }
            Form::Json => Place::Json { pointer: path },
        }
    }
}

impl RawDocument {
    /// Checks every value and builds the typed document.
    pub fn into_document(self, form: Form<'_>) -> Result<SaberisDocument, DocumentError> {
        let Some(raw) = self.order else {
            return Err(DocumentError::parse(
                ParseErrorKind::NotAnOrder,
                "no Order in SaberisOrderDocument: this is not a Saberis order",
                Some(form.place(&[], 0)),
            ));
        };
        let order_steps = [step("Order")];
        let date = iso_date(&raw.date).map_err(|reason| {
            DocumentError::parse(
                ParseErrorKind::InvalidValue,
                reason,
                Some(form.place(&[step("Order"), step("Date")], raw.date.at)),
            )
        })?;
        let customer = raw.customer.unwrap_or_default();
        let shipping = raw.shipping.unwrap_or_default();
        let groups_are_list = raw.group.is_list;
        let mut groups = Vec::with_capacity(raw.group.items.len());
        for (g, group) in raw.group.items.into_iter().enumerate() {
            let group_step = Step { name: "Group", index: Some((g, groups_are_list)) };
            let items_are_list = group.item.is_list;
            let mut items = Vec::with_capacity(group.item.items.len());
            for (i, item) in group.item.items.into_iter().enumerate() {
                let steps =
                    [order_steps[0], group_step, Step { name: "Item", index: Some((i, items_are_list)) }];
                items.push(item.into_item(form, &steps)?);
            }
            groups.push(Group { group_type: group.group_type.string(), items });
        }
        Ok(SaberisDocument {
            version: self.version.string(),
            order: Order {
                source: raw.source.string(),
                date,
                order_number: raw.order_number.string(),
                order_type: raw.order_type.string(),
                username: raw.username.string(),
                customer: Customer {
                    number: customer.number.string(),
                    po_number: customer.po_number.string(),
                    name: customer.name.string(),
                    address: Address {
                        street1: customer.address.string(),
                        street2: None,
                        city: customer.city.string(),
                        province: customer.state_or_province.string(),
                        postal_code: customer.zip_or_postal.string(),
                        country: None,
                    },
                },
                store_number: raw.store_number.string(),
                salesperson: raw.sales_person.string(),
                shipping: Address {
                    street1: shipping.address.string(),
                    street2: shipping.address2.string(),
                    city: shipping.city.string(),
                    province: shipping.state_or_province.string(),
                    postal_code: shipping.zip_or_postal.string(),
                    country: None,
                },
                groups,
            },
        })
    }
}

impl RawItem {
    fn into_item(self, form: Form<'_>, steps: &[Step; 3]) -> Result<Item, DocumentError> {
        let err = |kind, reason: String, field: Option<(&'static str, usize)>| {
            let place = match field {
                Some((name, at)) => {
                    let mut with_field = steps.to_vec();
                    with_field.push(step(name));
                    form.place(&with_field, at)
                }
                None => form.place(steps, self.at),
            };
            DocumentError::parse(kind, reason, Some(place))
        };
        let line_id = match &self.line_id.text {
            None => None,
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                err(
                    ParseErrorKind::InvalidValue,
                    format!("LineID must be a whole number, found {text:?}"),
                    Some(("LineID", self.line_id.at)),
                )
            })?),
        };
        let kind = match self.item_type.text.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("text") => ItemKind::Text,
            Some(t) if t.eq_ignore_ascii_case("product") => {
                if self.description.text.is_none() {
                    return Err(err(
                        ParseErrorKind::NotAnOrder,
                        "a Product item has no Description (its catalog code)".into(),
                        Some(("Description", self.description.at)),
                    ));
                }
                let decimal = |leaf: &Leaf, name: &'static str| {
                    decimal(leaf, name)
                        .map_err(|reason| err(ParseErrorKind::InvalidValue, reason, Some((name, leaf.at))))
                };
                ItemKind::Product(Box::new(Product {
                    quantity: decimal(&self.quantity, "Quantity")?,
                    list: decimal(&self.list, "List")?,
                    selling: decimal(&self.selling, "Selling")?,
                    cost: decimal(&self.cost, "Cost")?,
                    sku: self.sku.string(),
                    product_type: self.product_type.string(),
                    product_code: self.product_code.string(),
                    uom: self.uom.string(),
                    manufacturer_part_number: self.manufacturer_part_number.string(),
                    manufacturer_sku: self.manufacturer_sku.string(),
                    volume: self.volume.string(),
                    weight: self.weight.string(),
                }))
            }
            Some(other) => {
                return Err(err(
                    ParseErrorKind::NotAnOrder,
                    format!("Item Type must be Text or Product, found {other:?}"),
                    Some(("Type", self.item_type.at)),
                ))
            }
            None => {
                return Err(err(
                    ParseErrorKind::NotAnOrder,
                    "an Item has no Type (Text or Product)".into(),
                    Some(("Type", self.item_type.at)),
                ))
            }
        };
        Ok(Item { line_id, description: self.description.text, kind })
    }
}

/// A quantity or price: digits with an optional sign and decimal point. No exponents, no
/// thousands separators, no currency signs: those are not what Saberis writes, and guessing
/// their meaning would risk a wrong price.
fn decimal(leaf: &Leaf, name: &str) -> Result<Decimal, String> {
    let Some(text) = leaf.text.as_deref() else {
        return Err(format!(
            "{name} is missing: a product line needs a quantity and list, selling and cost prices"
        ));
    };
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(format!("{name} must be a decimal number, found {text:?}"));
    }
    let sign = if text.starts_with('-') { "-" } else { "" };
    let int = if int.is_empty() { "0" } else { int };
    let canonical = if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") };
    Decimal::from_str_exact(&canonical)
        .map_err(|_| format!("{name} {text:?} is out of range (at most 28 significant digits)"))
}

/// Saberis writes `2025.07.08`; `2025-07-08` and `2025/07/08` are accepted too.
fn iso_date(leaf: &Leaf) -> Result<Option<String>, String> {
    let Some(text) = leaf.text.as_deref() else { return Ok(None) };
    let invalid = || format!("Date must be a date written yyyy.MM.dd, found {text:?}");
    let mut parts = text.split(['.', '-', '/']);
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let number = |s: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    match (number(y, 4..=4), number(m, 1..=2), number(d, 1..=2)) {
        (Some(y), Some(m @ 1..=12), Some(d)) if d >= 1 && d <= days_in_month(y, m) => {
            Ok(Some(format!("{y:04}-{m:02}-{d:02}")))
        }
        _ => Err(invalid()),
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(text: &str) -> Leaf {
        let mut leaf = Leaf::default();
        leaf.set(text, 0);
        leaf
    }

    #[test]
    fn decimals_are_plain_numbers_only() {
        let ok = |s: &str| decimal(&leaf(s), "List").unwrap().to_string();
        assert_eq!(ok("747.50"), "747.50");
        assert_eq!(ok(" 1 "), "1");
        assert_eq!(ok("-3.5"), "-3.5");
        assert_eq!(ok(".5"), "0.5");
        assert_eq!(ok("5."), "5");
        for bad in ["", "abc", "1,399,998.60", "1e5", "$5", "1.2.3", "-", ".", "NaN", "١٢"] {
            assert!(decimal(&leaf(bad), "List").is_err(), "{bad:?} must be refused");
        }
        assert!(decimal(&leaf("123456789012345678901234567890"), "List")
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn dates_become_iso() {
        assert_eq!(iso_date(&leaf("2025.07.08")).unwrap().as_deref(), Some("2025-07-08"));
        assert_eq!(iso_date(&leaf("2024.2.29")).unwrap().as_deref(), Some("2024-02-29"));
        assert_eq!(iso_date(&leaf("")).unwrap(), None);
        for bad in ["2025.02.29", "2025.13.01", "25.07.08", "2025.07", "July 8", "2025.07.08.1"] {
            assert!(iso_date(&leaf(bad)).is_err(), "{bad:?} must be refused");
        }
    }
}
