//! Property tests of the document → message step: the content hash's invariants, and no panic
//! when normalizing whatever a damaged document parses into.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::normalize;
use crate::message::{Source, SourceKind};
use crate::saberis::tests::{date, document, text};
use crate::saberis::{parse, render, ItemKind, Limits, Product};

fn hash_of(bytes: &[u8]) -> String {
    let doc = parse(bytes, None, &Limits::default()).expect("parses");
    normalize(&doc, Source::now(SourceKind::File, "x")).content_hash.into()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_hash_ignores_form_and_formatting(doc in document(), user in text(), date in date()) {
        let xml = render::to_xml(&doc);
        let json = render::to_json(&doc);
        let compact_json = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&json).unwrap()).unwrap();
        let mut reexport = doc.clone();
        reexport.order.username = user;
        reexport.order.date = date;
        let indented = render::to_xml(&reexport).replace("><", ">\r\n  <");
        let hash = hash_of(xml.as_bytes());
        prop_assert_eq!(&hash, &hash_of(json.as_bytes()));
        prop_assert_eq!(&hash, &hash_of(compact_json.as_bytes()));
        prop_assert_eq!(&hash, &hash_of(indented.as_bytes()));
    }

    #[test]
    fn the_hash_changes_with_the_customer_the_address_or_a_line(doc in document(), pick in 0usize..1000, bump in 1i64..1000) {
        let hash = hash_of(render::to_xml(&doc).as_bytes());

        let mut other = doc.clone();
        other.order.customer.name = Some(format!("{} X", other.order.customer.name.clone().unwrap_or_default()));
        prop_assert_ne!(&hash, &hash_of(render::to_xml(&other).as_bytes()));

        let mut other = doc.clone();
        other.order.shipping.postal_code = Some(format!("{}9", other.order.shipping.postal_code.clone().unwrap_or_default()));
        prop_assert_ne!(&hash, &hash_of(render::to_xml(&other).as_bytes()));

        let mut other = doc.clone();
        let products: Vec<&mut Product> = other.order.groups.iter_mut().flat_map(|g| g.items.iter_mut())
            .filter_map(|i| match &mut i.kind { ItemKind::Product(p) => Some(&mut **p), ItemKind::Text => None }).collect();
        if !products.is_empty() {
            let n = products.len();
            let p = products.into_iter().nth(pick % n).unwrap();
            p.selling += Decimal::new(bump, 2);
            prop_assert_ne!(&hash, &hash_of(render::to_xml(&other).as_bytes()));
        }
    }

    #[test]
    fn never_panics_on_damaged_documents(doc in document(), cut in any::<prop::sample::Index>(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)) {
        for rendered in [render::to_xml(&doc), render::to_json(&doc)] {
            let mut bytes = rendered.into_bytes();
            for (at, byte) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *byte;
            }
            let keep = cut.index(bytes.len() + 1);
            bytes.truncate(keep);
            if let Ok(doc) = parse(&bytes, None, &Limits::default()) {
                let _ = normalize(&doc, Source::now(SourceKind::File, "x"));
            }
        }
    }
}
