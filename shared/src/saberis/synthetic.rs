//! A synthetic order shaped like the real ones, of any size: what the parser benchmarks
//! (`shared/benches/parse.rs`, `sj-bench`) measure beside the samples, so that both measure the
//! same document.

use rust_decimal::Decimal;

use super::{Customer, Group, Item, ItemKind, Order, Product, SaberisDocument};
use crate::address::Address;

/// An order of `lines` items: a catalog header and settings every 50 lines, products (with
/// options in their descriptions), a dimension line after most products.
pub fn large_order(lines: usize) -> SaberisDocument {
    let mut items = Vec::with_capacity(lines);
    let text =
        |id: usize, d: String| Item { line_id: Some(id as u64), description: Some(d), kind: ItemKind::Text };
    let mut id = 0;
    while items.len() < lines {
        id += 1;
        if id % 50 == 1 {
            items.push(text(id, format!("Catalog=GEN_{:03}", id / 50)));
            items.push(text(id + 100_000, "Door Style=Shaker (70000)".into()));
            continue;
        }
        if id % 3 == 0 {
            items.push(text(id, format!("W={} \" H=34 1/2 \" D=24 \"", 9 + id % 40)));
            continue;
        }
        let price = Decimal::new(10_000 + (id as i64 * 7919) % 90_000, 2);
        items.push(Item {
            line_id: Some(id as u64),
            description: Some(format!("B{};{}{{10b}};HDS{{10d}};REMOVE SHELF", 9 + id % 40, id % 24)),
            kind: ItemKind::Product(Box::new(Product {
                quantity: Decimal::from(1 + id % 3),
                list: price,
                selling: price,
                cost: price,
                sku: Some("SOCABINETS".into()),
                product_type: Some("DEFAULT".into()),
                product_code: Some("SOCABINETS".into()),
                uom: None,
                manufacturer_part_number: None,
                manufacturer_sku: None,
                volume: Some("9".into()),
                weight: Some("48".into()),
            })),
        });
    }
    let address = Address {
        street1: Some("552 Wilcox Ln".into()),
        city: Some("Corvallis".into()),
        province: Some("MT".into()),
        postal_code: Some("59828".into()),
        ..Address::default()
    };
    SaberisDocument {
        version: Some("1.0".into()),
        order: Order {
            source: Some("kitchens".into()),
            date: Some("2026-01-15".into()),
            username: Some("bench".into()),
            customer: Customer {
                name: Some("Bench Builders".into()),
                address: address.clone(),
                ..Customer::default()
            },
            shipping: address,
            groups: vec![Group { group_type: None, items }],
            ..Order::default()
        },
    }
}
