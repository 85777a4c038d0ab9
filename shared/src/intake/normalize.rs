//! From a [`SaberisDocument`] to a [`QuoteRequest`]: sections by `Catalog=` headers, settings,
//! products with their options split out of `Description`, dimension lines attached as notes to
//! the product before them, computed totals and the content hash.

use rust_decimal::{Decimal, RoundingStrategy};

use super::content_hash;
use crate::ids::ContentHash;
use crate::message::{
    CustomerInfo, DocumentInfo, Line, LineOption, QuoteRequest, Section, Setting, Source, Totals, SCHEMA,
};
use crate::saberis::{ItemKind, Product, SaberisDocument};

/// Normalizes a parsed document into the message published for it.
pub fn normalize(doc: &SaberisDocument, source: Source) -> QuoteRequest {
    let order = &doc.order;
    let sections = sections(doc);
    let totals = totals(&sections);
    let customer = CustomerInfo {
        number: order.customer.number.clone(),
        po_number: order.customer.po_number.clone(),
        name: order.customer.name.clone(),
        address: order.customer.address.clone(),
    };
    let mut request = QuoteRequest {
        schema: SCHEMA.to_owned(),
        source,
        content_hash: ContentHash::default(),
        document: DocumentInfo {
            version: doc.version.clone(),
            module: order.source.clone(),
            date: order.date.clone(),
            order_number: order.order_number.clone(),
            order_type: order.order_type.clone(),
            username: order.username.clone(),
            store_number: order.store_number.clone(),
            salesperson: order.salesperson.clone(),
        },
        customer,
        shipping: order.shipping.clone(),
        sections,
        totals,
        decision: None,
    };
    request.content_hash = content_hash(&request);
    request
}

fn sections(doc: &SaberisDocument) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut current = Section { catalog: None, settings: Vec::new(), lines: Vec::new() };

    for item in doc.items() {
        match &item.kind {
            ItemKind::Product(product) => {
                current.lines.push(line(item.line_id, item.description.as_deref(), product))
            }
            ItemKind::Text => {
                let Some(text) = item.description.as_deref() else { continue };
                if let Some(catalog) = catalog_header(text) {
                    let next = Section { catalog, settings: Vec::new(), lines: Vec::new() };
                    push_section(&mut sections, std::mem::replace(&mut current, next));
                } else if is_dimension_line(text) && !current.lines.is_empty() {
                    current.lines.last_mut().expect("checked non-empty").notes.push(text.to_owned());
                } else {
                    if !current.lines.is_empty() {
                        // A setting after products applies to the products after it only.
                        let next = Section {
                            catalog: current.catalog.clone(),
                            settings: Vec::new(),
                            lines: Vec::new(),
                        };
                        push_section(&mut sections, std::mem::replace(&mut current, next));
                    }
                    current.settings.push(setting(text));
                }
            }
        }
    }
    push_section(&mut sections, current);
    sections
}

/// Keeps a section unless it is the empty one before the first header.
fn push_section(sections: &mut Vec<Section>, section: Section) {
    if section.catalog.is_some() || !section.settings.is_empty() || !section.lines.is_empty() {
        sections.push(section);
    }
}

/// `Catalog=KWP_25C1` → `Some(Some("KWP_25C1"))`; `Catalog=` → `Some(None)`; anything else `None`.
fn catalog_header(text: &str) -> Option<Option<String>> {
    let (key, value) = text.split_once('=')?;
    key.trim().eq_ignore_ascii_case("catalog").then(|| non_empty(value))
}

/// A dimension line such as `W=27 " H=34 1/2 " D=18 "`: starts with `W=`, `H=` or `D=` and holds
/// nothing but those keys, numbers (with fractions) and inch or foot marks.
pub(crate) fn is_dimension_line(text: &str) -> bool {
    let text = text.trim();
    let starts_right = matches!(text.as_bytes(), [b'W' | b'H' | b'D', b'=', ..]);
    starts_right
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || b" /.\"'=-WHD".contains(&b))
}

fn setting(text: &str) -> Setting {
    match text.split_once('=') {
        Some((key, value)) => Setting { key: key.trim().to_owned(), value: non_empty(value) },
        None => Setting { key: text.trim().to_owned(), value: None },
    }
}

fn line(line_id: Option<u64>, description: Option<&str>, product: &Product) -> Line {
    let description = description.unwrap_or_default();
    let mut parts = description.split(';');
    let code = parts.next().unwrap_or_default().trim().to_owned();
    let options = parts.filter_map(option).collect();
    Line {
        line_id,
        code,
        options,
        description: description.to_owned(),
        notes: Vec::new(),
        quantity: product.quantity,
        unit_list: product.list,
        unit_selling: product.selling,
        unit_cost: product.cost,
        sku: product.sku.clone(),
        product_type: product.product_type.clone(),
        product_code: product.product_code.clone(),
        uom: product.uom.clone(),
        manufacturer_part_number: product.manufacturer_part_number.clone(),
        manufacturer_sku: product.manufacturer_sku.clone(),
        volume: product.volume.clone(),
        weight: product.weight.clone(),
    }
}

/// `18{10b}` → text "18", tag "10b"; `REMOVE DRAWER` → no tag; empty parts are dropped.
fn option(part: &str) -> Option<LineOption> {
    let part = part.trim();
    if part.is_empty() {
        return None;
    }
    if let Some(open) = part.strip_suffix('}').and_then(|p| p.rfind('{')) {
        let tag = part[open + 1..part.len() - 1].trim();
        return Some(LineOption { text: part[..open].trim().to_owned(), tag: non_empty(tag) });
    }
    Some(LineOption { text: part.to_owned(), tag: None })
}

fn totals(sections: &[Section]) -> Totals {
    let mut totals = Totals {
        list: Decimal::ZERO,
        selling: Decimal::ZERO,
        cost: Decimal::ZERO,
        quantity: Decimal::ZERO,
        product_lines: 0,
    };
    for line in sections.iter().flat_map(|s| &s.lines) {
        totals.list += line.quantity * line.unit_list;
        totals.selling += line.quantity * line.unit_selling;
        totals.cost += line.quantity * line.unit_cost;
        totals.quantity += line.quantity;
        totals.product_lines += 1;
    }
    totals.list = money(totals.list);
    totals.selling = money(totals.selling);
    totals.cost = money(totals.cost);
    totals.quantity = totals.quantity.normalize();
    totals
}

/// Rounded to the cent (half away from zero, as invoices do) and always shown with two decimals.
pub(crate) fn money(amount: Decimal) -> Decimal {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    rounded
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_text_and_tag() {
        let opt = |s| option(s).unwrap();
        assert_eq!(opt("18{10b}"), LineOption { text: "18".into(), tag: Some("10b".into()) });
        assert_eq!(opt(" REMOVE DRAWER "), LineOption { text: "REMOVE DRAWER".into(), tag: None });
        assert_eq!(opt("A{}"), LineOption { text: "A".into(), tag: None });
        assert_eq!(opt("{7a}"), LineOption { text: "".into(), tag: Some("7a".into()) });
        assert_eq!(option("  "), None);
    }

    #[test]
    fn dimension_lines_are_told_from_settings() {
        assert!(is_dimension_line(r#"W=27 " H=34 1/2 " D=18 ""#));
        assert!(is_dimension_line(r#"W=36 " H=2 " D=10 ""#));
        assert!(is_dimension_line("H=96"));
        assert!(!is_dimension_line("Door Style=Shaker (70000)"));
        assert!(!is_dimension_line("W="));
        assert!(!is_dimension_line("Width=27"));
        assert!(!is_dimension_line("Pricelevel"));
    }

    #[test]
    fn settings_split_at_the_first_equals_sign() {
        assert_eq!(
            setting("Species / Finish=Slate Maple"),
            Setting { key: "Species / Finish".into(), value: Some("Slate Maple".into()) }
        );
        assert_eq!(setting("Pricelevel"), Setting { key: "Pricelevel".into(), value: None });
        assert_eq!(setting("A=b=c"), Setting { key: "A".into(), value: Some("b=c".into()) });
        assert_eq!(catalog_header("Catalog=KWP_25D1"), Some(Some("KWP_25D1".into())));
        assert_eq!(catalog_header("catalog = X "), Some(Some("X".into())));
        assert_eq!(catalog_header("Catalogue=X"), None);
    }

    #[test]
    fn money_rounds_half_away_from_zero_to_two_places() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(money(d("1.005")).to_string(), "1.01");
        assert_eq!(money(d("4237.5")).to_string(), "4237.50");
        assert_eq!(money(d("0")).to_string(), "0.00");
        assert_eq!(money(d("-2.345")).to_string(), "-2.35");
    }
}
