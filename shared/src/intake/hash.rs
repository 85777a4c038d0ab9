//! The content hash: what identifies an order, whatever file, GUID or form it came in.
//!
//! Saberis gives a re-export of the same design a new GUID and date and nothing that links the
//! two, so the bridge recognises a design by its content. The hash covers the canonical form of
//! the customer, the shipping address and the sections with their lines, and nothing else: not
//! the source, the export date, the exporting user, the form (XML or JSON), nor how the file was
//! formatted. In the canonical form every string has its whitespace collapsed, every number is
//! written without trailing zeros (`747.50` and `747.5` are one price), and `LineID`s are left
//! out (document order is what orders lines). Any change to the customer, the address, a setting
//! or a line changes it.

use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::address::Address;
use crate::ids::ContentHash;
use crate::message::QuoteRequest;

/// Bumped if the canonical form ever changes, so old and new hashes never collide by accident.
const CANONICAL_VERSION: &str = "sj.canonical.v1";

/// `sha256:<64 hex digits>` over the canonical form of `request`.
pub fn content_hash(request: &QuoteRequest) -> ContentHash {
    let canonical = Canonical::of(request);
    let json = serde_json::to_vec(&canonical).expect("the canonical form serializes");
    let digest =
        Sha256::new().chain_update(CANONICAL_VERSION).chain_update(b"\n").chain_update(&json).finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        use std::fmt::Write;
        write!(out, "{byte:02x}").expect("writing to a String");
    }
    ContentHash::new(out)
}

#[derive(Serialize)]
struct Canonical {
    customer: CanonicalCustomer,
    shipping: CanonicalAddress,
    sections: Vec<CanonicalSection>,
}

#[derive(Serialize)]
struct CanonicalCustomer {
    number: Option<String>,
    po_number: Option<String>,
    name: Option<String>,
    address: CanonicalAddress,
}

#[derive(Serialize)]
struct CanonicalAddress([Option<String>; 6]);

#[derive(Serialize)]
struct CanonicalSection {
    catalog: Option<String>,
    settings: Vec<(String, Option<String>)>,
    lines: Vec<CanonicalLine>,
}

#[derive(Serialize)]
struct CanonicalLine {
    code: String,
    options: Vec<(String, Option<String>)>,
    notes: Vec<String>,
    quantity: String,
    list: String,
    selling: String,
    cost: String,
    /// sku, product type, product code, uom, manufacturer part number, manufacturer sku, volume, weight.
    attributes: [Option<String>; 8],
}

impl Canonical {
    fn of(r: &QuoteRequest) -> Self {
        Canonical {
            customer: CanonicalCustomer {
                number: text(&r.customer.number),
                po_number: text(&r.customer.po_number),
                name: text(&r.customer.name),
                address: address(&r.customer.address),
            },
            shipping: address(&r.shipping),
            sections: r
                .sections
                .iter()
                .map(|section| CanonicalSection {
                    catalog: text(&section.catalog),
                    settings: section.settings.iter().map(|s| (collapse(&s.key), text(&s.value))).collect(),
                    lines: section
                        .lines
                        .iter()
                        .map(|line| CanonicalLine {
                            code: collapse(&line.code),
                            options: line.options.iter().map(|o| (collapse(&o.text), text(&o.tag))).collect(),
                            notes: line.notes.iter().map(|n| collapse(n)).collect(),
                            quantity: number(line.quantity),
                            list: number(line.unit_list),
                            selling: number(line.unit_selling),
                            cost: number(line.unit_cost),
                            attributes: [
                                text(&line.sku),
                                text(&line.product_type),
                                text(&line.product_code),
                                text(&line.uom),
                                text(&line.manufacturer_part_number),
                                text(&line.manufacturer_sku),
                                text(&line.volume),
                                text(&line.weight),
                            ],
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn address(a: &Address) -> CanonicalAddress {
    CanonicalAddress([
        text(&a.street1),
        text(&a.street2),
        text(&a.city),
        text(&a.province),
        text(&a.postal_code),
        text(&a.country),
    ])
}

fn text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(collapse).filter(|s| !s.is_empty())
}

/// Trims and turns every run of whitespace into one space.
fn collapse(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn number(value: Decimal) -> String {
    value.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_trims_and_joins_whitespace() {
        assert_eq!(collapse("  W=27 \"\t H=34  "), "W=27 \" H=34");
        assert_eq!(collapse(""), "");
    }

    #[test]
    fn numbers_lose_trailing_zeros() {
        assert_eq!(number("747.50".parse().unwrap()), "747.5");
        assert_eq!(number("1.000".parse().unwrap()), "1");
        assert_eq!(number("0.00".parse().unwrap()), "0");
    }
}
