//! The Saberis order document, typed: what both forms (XML and SaberisConnect JSON) are read into.
//!
//! This is the document as Saberis wrote it, with values checked (numbers are numbers, dates are
//! dates) and empty strings turned into `None`, but nothing interpreted yet: sections, options and
//! dimension notes are worked out by [`crate::intake::normalize`].

use rust_decimal::Decimal;

use crate::address::Address;

/// `SaberisOrderDocument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaberisDocument {
    /// `DocumentVersion`, "1.0" in every known document.
    pub version: Option<String>,
    pub order: Order,
}

/// `SaberisOrderDocument/Order`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Order {
    /// `Source`: the design module that exported the order ("kitchens" for 2020 Design).
    pub source: Option<String>,
    /// `Date`, as an ISO date (`2025-07-08`); Saberis writes `2025.07.08`.
    pub date: Option<String>,
    pub order_number: Option<String>,
    /// `Type`.
    pub order_type: Option<String>,
    /// `Username`: the Saberis user who exported.
    pub username: Option<String>,
    pub customer: Customer,
    pub store_number: Option<String>,
    pub salesperson: Option<String>,
    /// `Shipping`, as an address (`Address` → street1, `Address2` → street2).
    pub shipping: Address,
    /// `Group`s in document order: one in every known document, several accepted.
    pub groups: Vec<Group>,
}

/// `Order/Customer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Customer {
    pub number: Option<String>,
    /// `POnumber`.
    pub po_number: Option<String>,
    pub name: Option<String>,
    /// `Address`, `City`, `StateOrProvince`, `ZipOrPostal` (Saberis has no second street line nor
    /// country for the customer).
    pub address: Address,
}

/// `Order/Group`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// `GroupType`: null or empty in every known document.
    pub group_type: Option<String>,
    pub items: Vec<Item>,
}

/// `Group/Item`: one line of the order, text or product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `LineID`: unique, but not in document order.
    pub line_id: Option<u64>,
    /// `Description`: a catalog header, a setting, a dimension line, or a product's code and
    /// options.
    pub description: Option<String>,
    pub kind: ItemKind,
}

/// `Item/Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    Text,
    /// Boxed: most items of a document are text lines.
    Product(Box<Product>),
}

/// The priced part of a `Product` item. Prices are unit prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub quantity: Decimal,
    pub list: Decimal,
    pub selling: Decimal,
    pub cost: Decimal,
    pub sku: Option<String>,
    pub product_type: Option<String>,
    pub product_code: Option<String>,
    pub uom: Option<String>,
    pub manufacturer_part_number: Option<String>,
    pub manufacturer_sku: Option<String>,
    pub volume: Option<String>,
    pub weight: Option<String>,
}

impl SaberisDocument {
    /// All items of all groups, in document order.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.order.groups.iter().flat_map(|group| group.items.iter())
    }
}
