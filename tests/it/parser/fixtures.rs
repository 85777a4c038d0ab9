//! Every real Saberis document beside the repository, in both forms.

use std::path::{Path, PathBuf};

use sj_shared::failure::SanityRule;
use sj_shared::intake::DocumentReader;
use sj_shared::message::{QuoteRequest, Source, SourceKind};
use sj_shared::saberis::ErrorKind;

use crate::support::real_fixtures;

const DOCUMENTS: &[&str] = &[
    "52c550d2-a0f3-4bfa-a445-c96589672971",
    "5a59324e-f3a7-428c-b0a9-45cefa88bb79",
    "b7431bda-aa0c-42a7-8407-59f08dc7b27e",
    "bab6bc1a-281a-4f04-be57-87a28b58eb63",
    "d86f476e-0da6-43ca-949f-b6d97e8002b9",
    "example-response",
    "sample_order_1",
];

fn read(path: &Path, check_sanity: bool) -> Result<QuoteRequest, sj_shared::saberis::DocumentError> {
    let reader = DocumentReader::default();
    let bytes = reader.read_file(path)?;
    reader.quote_request(
        &bytes,
        None,
        Source::now(SourceKind::File, path.display().to_string()),
        check_sanity,
    )
}

fn both_forms(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("xml/{name}.xml")), dir.join(format!("connect-json/{name}.json")))
}

#[test]
fn both_forms_of_every_document_give_the_same_message() {
    let Some(dir) = real_fixtures("both_forms_of_every_document_give_the_same_message") else { return };
    for name in DOCUMENTS {
        let (xml, json) = both_forms(&dir, name);
        let mut from_xml = read(&xml, false).unwrap_or_else(|e| panic!("{e}"));
        let from_json = read(&json, false).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(from_xml.source, from_json.source);
        from_xml.source = from_json.source.clone();
        assert_eq!(from_xml, from_json, "{name}: XML and JSON forms differ");
    }
}

#[test]
fn every_directory_entry_is_covered() {
    let Some(dir) = real_fixtures("every_directory_entry_is_covered") else { return };
    // A new fixture must be added to DOCUMENTS (and so to every test here).
    for entry in std::fs::read_dir(dir.join("connect-json")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        assert!(DOCUMENTS.contains(&stem.as_str()), "fixture {stem} is not in DOCUMENTS");
    }
}

#[test]
fn catalog_slips_are_caught_by_the_default_sanity_rules() {
    let Some(dir) = real_fixtures("catalog_slips_are_caught_by_the_default_sanity_rules") else { return };
    let cases = [
        ("bab6bc1a-281a-4f04-be57-87a28b58eb63", "FFBB96", "1399998.60"),
        ("5a59324e-f3a7-428c-b0a9-45cefa88bb79", "UCB151284", "100660.00"),
        ("b7431bda-aa0c-42a7-8407-59f08dc7b27e", "UCB151284", "100660.00"),
    ];
    for (name, code, price) in cases {
        let (xml, json) = both_forms(&dir, name);
        for path in [xml, json] {
            let err = read(&path, true).expect_err("a slip must be caught");
            assert_eq!(err.kind, ErrorKind::Sanity(SanityRule::PriceAboveLimit), "{err}");
            let line = err.to_string();
            assert!(line.contains(code) && line.contains(price), "{line}");
        }
    }
    // The others pass the default rules.
    for name in
        ["52c550d2-a0f3-4bfa-a445-c96589672971", "d86f476e-0da6-43ca-949f-b6d97e8002b9", "sample_order_1"]
    {
        let (xml, _) = both_forms(&dir, name);
        read(&xml, true).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_affinity_pair_shares_lines_but_not_the_address_so_hashes_differ() {
    let Some(dir) = real_fixtures("the_affinity_pair_shares_lines_but_not_the_address_so_hashes_differ")
    else {
        return;
    };
    let a = read(&both_forms(&dir, "5a59324e-f3a7-428c-b0a9-45cefa88bb79").1, false).unwrap();
    let b = read(&both_forms(&dir, "b7431bda-aa0c-42a7-8407-59f08dc7b27e").1, false).unwrap();
    assert_eq!(a.sections, b.sections);
    assert_eq!(a.customer, b.customer);
    assert!(a.shipping.is_empty(), "5a59324e has no shipping address");
    assert!(!b.shipping.is_empty(), "b7431bda carries one");
    assert_ne!(a.content_hash, b.content_hash);
    assert_ne!(a.document.date, b.document.date);
}

#[test]
fn structure_of_a_known_document() {
    let Some(dir) = real_fixtures("structure_of_a_known_document") else { return };
    let r = read(&both_forms(&dir, "sample_order_1").1, true).unwrap();
    assert_eq!(r.document.date.as_deref(), Some("2025-05-06"));
    assert_eq!(r.document.module.as_deref(), Some("kitchens"));
    assert_eq!(r.customer.name, None, "an empty Name becomes null");
    assert_eq!(r.shipping.street1.as_deref(), Some("24 Sussex Drive"));
    let first = &r.sections[0];
    assert_eq!(first.catalog.as_deref(), Some("QC19R1A"));
    assert_eq!(first.settings[0].key, "Pricelevel");
    assert_eq!(first.settings[0].value.as_deref(), Some("Felix Maple"));
    let line = &first.lines[0];
    assert_eq!((line.line_id, line.code.as_str()), (Some(3), "W3921"));
    assert_eq!(line.options.len(), 2);
    assert_eq!((line.options[0].text.as_str(), line.options[0].tag.as_deref()), ("24", Some("10b")));
    assert_eq!(line.notes, vec!["W=39 \" H=20 1/2 \" D=24 \"".to_owned()]);
    assert_eq!(line.unit_selling.to_string(), "607.55");
    // Totals are the sums of quantity × unit price over all lines, to the cent.
    let sum: rust_decimal_sum::Sum = r.lines().map(|(_, l)| (l.quantity, l.unit_selling)).collect();
    assert_eq!(r.totals.selling.to_string(), sum.0);
    assert_eq!(r.totals.product_lines as usize, r.lines().count());
}

#[test]
fn settings_without_equals_and_several_catalogs() {
    let Some(dir) = real_fixtures("settings_without_equals_and_several_catalogs") else { return };
    let r = read(&both_forms(&dir, "b7431bda-aa0c-42a7-8407-59f08dc7b27e").0, false).unwrap();
    let keys: Vec<(&str, Option<&str>)> =
        r.sections[0].settings.iter().map(|s| (s.key.as_str(), s.value.as_deref())).collect();
    assert_eq!(keys, vec![("Pricelevel", None), ("Georgetown (B)", None)]);
    let d = read(&both_forms(&dir, "d86f476e-0da6-43ca-949f-b6d97e8002b9").0, true).unwrap();
    let catalogs: Vec<Option<&str>> = d.sections.iter().map(|s| s.catalog.as_deref()).collect();
    assert_eq!(catalogs.len(), 3);
    assert!(catalogs.iter().all(Option::is_some));
}

/// Sums quantity × price as strings through f64-free decimal arithmetic done by hand here, so
/// the test does not reuse the code it checks.
mod rust_decimal_sum {
    pub struct Sum(pub String);
    impl FromIterator<(rust_decimal::Decimal, rust_decimal::Decimal)> for Sum {
        fn from_iter<I: IntoIterator<Item = (rust_decimal::Decimal, rust_decimal::Decimal)>>(
            iter: I,
        ) -> Self {
            // Work in integer cents (every price in the fixtures has two decimals, quantities none).
            let cents: i128 = iter
                .into_iter()
                .map(|(q, p)| {
                    let q: i128 = q.to_string().parse().expect("whole quantity");
                    let p: i128 = p.to_string().replace('.', "").parse().expect("price with cents");
                    q * p
                })
                .sum();
            Sum(format!("{}.{:02}", cents / 100, cents % 100))
        }
    }
}
