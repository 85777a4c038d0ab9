//! The project's own sample documents (samples/): the demo's input, written after the real format
//! and its quirks.

use sj_shared::failure::{ParseErrorKind, SanityRule};
use sj_shared::intake::DocumentReader;
use sj_shared::message::{QuoteRequest, Source, SourceKind};
use sj_shared::saberis::{DocumentError, ErrorKind, Place};

use crate::support::samples;

fn read(relative: &str) -> Result<QuoteRequest, DocumentError> {
    let reader = DocumentReader::default();
    let path = samples().join(relative);
    let bytes = reader.read_file(&path)?;
    reader.quote_request(&bytes, None, Source::now(SourceKind::Folder, relative), true)
}

#[test]
fn a_reexport_in_another_form_hashes_alike() {
    let xml = read("saberis/kitchen-harbour-lane.xml").unwrap();
    let json = read("saberis/kitchen-harbour-lane.json").unwrap();
    // New date and user, a byte-order mark, CRLF and indentation: the same order.
    let again = read("saberis/kitchen-harbour-lane-reexport.xml").unwrap();
    assert_eq!(xml.content_hash, json.content_hash);
    assert_eq!(xml.content_hash, again.content_hash);
    assert_ne!(xml.document.date, again.document.date);
    assert_ne!(xml.document.username, again.document.username);
}

#[test]
fn the_kitchen_reads_as_written() {
    let r = read("saberis/kitchen-harbour-lane.xml").unwrap();
    assert_eq!(r.customer.name.as_deref(), Some("Harbour Lane Builders"));
    assert_eq!(r.customer.po_number.as_deref(), Some("PO-2231"));
    assert_eq!(r.shipping.street2.as_deref(), Some("Lot 12"));
    let catalogs: Vec<_> = r.sections.iter().map(|s| s.catalog.as_deref()).collect();
    assert_eq!(catalogs, [Some("HLX_26A1"), Some("HLX_HW26")]);
    let first = &r.sections[0];
    assert_eq!(first.settings[0].key, "Pricelevel");
    assert_eq!(first.settings[0].value, None);
    assert_eq!(first.lines.len(), 3);
    assert_eq!(first.lines[1].code, "SB36");
    assert_eq!(first.lines[1].options[1].text, "REMOVE SHELF");
    assert_eq!(first.lines[1].notes, ["W=36 \" H=34 1/2 \" D=24 \""]);
    // 2×612.40 + 701.15 + 2×388.00 + 14×9.85 + 3×24.00
    assert_eq!(r.totals.selling.to_string(), "2911.85");
    assert_eq!(r.totals.quantity.to_string(), "22");
    assert_eq!(r.totals.product_lines, 5);
}

#[test]
fn windows_1252_with_crlf_is_decoded() {
    let r = read("saberis/laundry-cote-windows1252.xml").unwrap();
    assert_eq!(r.customer.name.as_deref(), Some("Côté Rénovations"));
    assert_eq!(r.document.username.as_deref(), Some("jbéland"));
    assert_eq!(r.sections[0].settings[0].value.as_deref(), Some("Crème – satin"));
}

#[test]
fn a_lone_item_object_and_an_empty_shipping_address() {
    let r = read("saberis/vanity-single-item.json").unwrap();
    assert_eq!(r.totals.product_lines, 1);
    assert_eq!(r.sections[0].catalog, None);
    assert_eq!(r.customer.number.as_deref(), Some("C-1007"));
    assert!(r.shipping.is_empty());
}

#[test]
fn no_name_and_unordered_line_ids() {
    let r = read("saberis/bath-gatineau.json").unwrap();
    assert_eq!(r.customer.name, None);
    let ids: Vec<_> = r.lines().map(|(_, l)| l.line_id).collect();
    assert_eq!(ids, [Some(23), Some(8), Some(9)], "document order is kept");
}

#[test]
fn bad_samples_are_refused_with_the_spot() {
    let slip = read("bad/price-slip.xml").unwrap_err();
    assert_eq!(slip.kind, ErrorKind::Sanity(SanityRule::PriceAboveLimit));
    assert!(
        matches!(slip.place.as_deref(), Some(Place::Line { line_id: Some(5), code, .. }) if code == "B24"),
        "{slip}"
    );

    let quantity = read("bad/quantity-not-a-number.json").unwrap_err();
    assert_eq!(quantity.kind, ErrorKind::Parse(ParseErrorKind::InvalidValue));
    assert_eq!(
        quantity.place.as_deref(),
        Some(&Place::Json { pointer: "/SaberisOrderDocument/Order/Group/Item/4/Quantity".into() })
    );

    let truncated = read("bad/truncated.xml").unwrap_err();
    assert_eq!(truncated.kind, ErrorKind::Parse(ParseErrorKind::MalformedXml));
    assert!(matches!(truncated.place.as_deref(), Some(Place::Text { line: 1, .. })), "{truncated}");
}
