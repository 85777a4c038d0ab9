//! The parser's rules, one test each, and property tests: render ∘ parse round trips in both
//! forms and no panic on any input. The strategies that make documents are shared with
//! `intake`'s tests (the content hash's invariants).

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::address::Address;
use crate::failure::ParseErrorKind;

fn xml(body: &str) -> String {
    format!("<SaberisOrderDocument><DocumentVersion>1.0</DocumentVersion><Order>{body}</Order></SaberisOrderDocument>")
}

const PRODUCT: &str = "<Item><Type>Product</Type><LineID>2</LineID><Description>B27B;18{10b}</Description>\
    <Quantity>1</Quantity><List>747.50</List><Selling>747.50</Selling><Cost>700</Cost></Item>";

fn parse_xml(text: &str) -> Result<SaberisDocument, DocumentError> {
    parse(text.as_bytes(), None, &Limits::default())
}

fn parse_kind(text: &str) -> ErrorKind {
    parse(text.as_bytes(), None, &Limits::default()).expect_err("must be refused").kind
}

const fn kind(k: ParseErrorKind) -> ErrorKind {
    ErrorKind::Parse(k)
}

#[test]
fn dtds_and_undeclared_entities_are_refused() {
    let dtd = format!("<!DOCTYPE SaberisOrderDocument [<!ENTITY lol \"lol\">]>{}", xml(""));
    assert_eq!(parse_kind(&dtd), kind(ParseErrorKind::DtdRefused));
    let entity = xml("<Source>&lol;</Source>");
    assert_eq!(parse_kind(&entity), kind(ParseErrorKind::MalformedXml));
    let external = xml("<Source>&xxe;</Source>");
    assert!(parse_xml(&external).unwrap_err().reason.contains("&xxe;"));
}

#[test]
fn predefined_entities_character_references_and_cdata_are_read() {
    let doc = parse_xml(&xml("<Username>a &amp; b &#233;&#x41;&lt;<![CDATA[<x>]]></Username>")).unwrap();
    assert_eq!(doc.order.username.as_deref(), Some("a & b éA<<x>"));
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    let deep = xml(&format!("<Extra>{}{}</Extra>", "<a>".repeat(40), "</a>".repeat(40)));
    assert_eq!(parse_kind(&deep), kind(ParseErrorKind::TooDeep));
    let json =
        format!("{{\"SaberisOrderDocument\":{{\"Order\":{{\"x\":{}1{}}}}}}}", "[".repeat(40), "]".repeat(40));
    assert_eq!(parse_kind(&json), kind(ParseErrorKind::TooDeep));
    // Brackets inside strings do not count.
    let json = format!("{{\"SaberisOrderDocument\":{{\"Order\":{{\"Source\":\"{}\"}}}}}}", "[".repeat(40));
    assert!(parse_xml(&json).is_ok());
}

#[test]
fn oversized_documents_are_refused_before_being_read_whole() {
    let limits = Limits { max_bytes: 1024, max_depth: 32 };
    let big = xml(&format!("<Username>{}</Username>", "x".repeat(2000)));
    assert_eq!(parse(big.as_bytes(), None, &limits).unwrap_err().kind, kind(ParseErrorKind::TooLarge));
    // An endless stream stops at the limit.
    let endless = std::io::repeat(b'<');
    assert_eq!(read(endless, None, &limits).unwrap_err().kind, kind(ParseErrorKind::TooLarge));
}

#[test]
fn documents_that_are_not_orders_are_refused() {
    assert_eq!(parse_kind("<Invoice></Invoice>"), kind(ParseErrorKind::NotAnOrder));
    assert_eq!(
        parse_kind("<SaberisOrderDocument><DocumentVersion>1.0</DocumentVersion></SaberisOrderDocument>"),
        kind(ParseErrorKind::NotAnOrder)
    );
    assert_eq!(parse_kind("{\"Order\": {}}"), kind(ParseErrorKind::NotAnOrder));
    assert_eq!(parse_kind("{\"SaberisOrderDocument\": {}}"), kind(ParseErrorKind::NotAnOrder));
    assert_eq!(parse_kind("{\"SaberisOrderDocument\": {\"Order\": 5}}"), kind(ParseErrorKind::NotAnOrder));
    assert_eq!(parse_kind("   "), kind(ParseErrorKind::UnknownFormat));
    assert_eq!(parse_kind("%PDF-1.4"), kind(ParseErrorKind::UnknownFormat));
    assert_eq!(
        parse_kind(&xml(&format!("<Group>{}</Group>", PRODUCT.replace("Product", "Service")))),
        kind(ParseErrorKind::NotAnOrder)
    );
    let two_orders = "<SaberisOrderDocument><Order></Order><Order></Order></SaberisOrderDocument>";
    assert_eq!(parse_kind(two_orders), kind(ParseErrorKind::NotAnOrder));
    assert_eq!(parse_kind(&(xml("") + "<SaberisOrderDocument/>")), kind(ParseErrorKind::MalformedXml));
}

#[test]
fn invalid_values_name_the_element_path_line_and_column() {
    let bad = xml(&format!(
        "\n<Group>\n<GroupType/>\n{}\n{}</Group>",
        PRODUCT,
        PRODUCT.replace("<List>747.50", "<List>7,47.50")
    ));
    let err = parse_xml(&bad).unwrap_err();
    assert_eq!(err.kind, kind(ParseErrorKind::InvalidValue));
    assert_eq!(err.reason, "List must be a decimal number, found \"7,47.50\"");
    match err.place.map(|p| *p) {
        Some(Place::Xml { path, line, column }) => {
            assert_eq!(path, "/SaberisOrderDocument/Order/Group[1]/Item[2]/List");
            assert_eq!(line, 5);
            assert_eq!(column, 1 + PRODUCT.find("<List>").unwrap() as u32);
        }
        other => panic!("{other:?}"),
    }
    let missing = xml(&format!("<Group>{}</Group>", PRODUCT.replace("<Cost>700</Cost>", "")));
    assert!(parse_xml(&missing).unwrap_err().reason.starts_with("Cost is missing"));
    let no_description = xml(&format!("<Group>{}</Group>", PRODUCT.replace("B27B;18{10b}", " ")));
    assert_eq!(parse_kind(&no_description), kind(ParseErrorKind::NotAnOrder));
    let bad_date = xml("<Date>2025.02.30</Date>");
    assert!(
        matches!(parse_xml(&bad_date).unwrap_err().place.as_deref(), Some(Place::Xml { path, .. }) if path.ends_with("/Order/Date"))
    );
}

#[test]
fn a_field_given_twice_is_refused() {
    let twice = xml(&format!(
        "<Group>{}</Group>",
        PRODUCT.replace("<Cost>700</Cost>", "<Cost>700</Cost><Cost>1</Cost>")
    ));
    assert_eq!(parse_kind(&twice), kind(ParseErrorKind::NotAnOrder));
    let json = r#"{"SaberisOrderDocument":{"Order":{"Source":"a","Source":"b"}}}"#;
    assert_eq!(parse_kind(json), kind(ParseErrorKind::NotAnOrder));
}

#[test]
fn tolerant_where_real_documents_vary() {
    // Several groups, a non-empty GroupType, unknown elements (nested too), attributes, comments.
    let text = xml(&format!(
        "<!-- exported --><Future a=\"1\"><Deep><Deeper/></Deep></Future>\
         <Group><GroupType>Kitchen</GroupType>{PRODUCT}</Group><Group><GroupType/>{PRODUCT}<Extra>x</Extra></Group>"
    ));
    let doc = parse_xml(&text).unwrap();
    assert_eq!(doc.order.groups.len(), 2);
    assert_eq!(doc.order.groups[0].group_type.as_deref(), Some("Kitchen"));
    assert_eq!(doc.items().count(), 2);
    // JSON: numbers where strings are expected, a lone Item object, null GroupType, a Group list.
    let json = r#"{"SaberisOrderDocument":{"DocumentVersion":1.0,"Order":{"Group":[
        {"GroupType":null,"Item":{"Type":"Product","LineID":7,"Description":"W3030","Quantity":2,"List":607.55,"Selling":"607.55","Cost":"607.55"}},
        {"GroupType":"","Item":[]}]}}}"#;
    let doc = parse_xml(json).unwrap();
    assert_eq!(doc.order.groups.len(), 2);
    let item = doc.items().next().unwrap();
    assert_eq!(item.line_id, Some(7));
    let ItemKind::Product(p) = &item.kind else { panic!("a product") };
    assert_eq!(p.list.to_string(), "607.55");
    assert_eq!(p.quantity, Decimal::from(2));
}

#[test]
fn a_second_byte_order_mark_is_no_panic() {
    // Found by the fuzzer: quick-xml skips a byte-order mark left after decoding.
    let text = format!("\u{feff}{}", xml(""));
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    assert!(parse(&bytes, Some(Format::Xml), &Limits::default()).is_ok());
}

#[test]
fn invalid_utf8_is_an_error_not_a_replacement_character() {
    let mut bytes = xml("<Username>caf").into_bytes();
    bytes.truncate(bytes.len() - "</Order></SaberisOrderDocument>".len());
    bytes.extend_from_slice(b"\xE9</Username></Order></SaberisOrderDocument>");
    let err = parse(&bytes, None, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, kind(ParseErrorKind::Encoding));
}

// ---- Property tests -------------------------------------------------------------------------

/// Text as Saberis might hold it: trimmed, possibly with markup characters to escape.
pub(crate) fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[A-Za-z0-9é\"'&<>;{}=/()., -]{1,16}")
        .prop_map(|s| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

pub(crate) fn decimal() -> impl Strategy<Value = Decimal> {
    (-10_000_000i64..10_000_000, 0u32..4).prop_map(|(m, scale)| Decimal::new(m, scale))
}

pub(crate) fn date() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        (1990u32..2100, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
    )
}

pub(crate) fn address(second_line: bool) -> impl Strategy<Value = Address> {
    (text(), text(), text(), text(), text()).prop_map(
        move |(street1, street2, city, province, postal_code)| Address {
            street1,
            street2: if second_line { street2 } else { None },
            city,
            province,
            postal_code,
            country: None,
        },
    )
}

pub(crate) fn item() -> impl Strategy<Value = Item> {
    let product = (
        "[A-Z0-9]{2,8}(;[A-Z0-9 ]{1,6}(\\{[0-9a-z]{1,3}\\})?){0,3}",
        (decimal(), decimal(), decimal(), decimal()),
        (text(), text(), text(), text(), text(), text(), text(), text()),
    )
        .prop_map(
            |(
                description,
                (quantity, list, selling, cost),
                (sku, product_type, product_code, uom, mpn, msku, volume, weight),
            )| {
                (
                    Some(description.trim().to_owned()),
                    ItemKind::Product(Box::new(Product {
                        quantity,
                        list,
                        selling,
                        cost,
                        sku,
                        product_type,
                        product_code,
                        uom,
                        manufacturer_part_number: mpn,
                        manufacturer_sku: msku,
                        volume,
                        weight,
                    })),
                )
            },
        );
    let text_item = prop_oneof![
        "Catalog=[A-Z0-9_]{3,8}".prop_map(Some),
        "[A-Za-z /]{1,12}(=[A-Za-z0-9 ()]{1,12})?"
            .prop_map(|s| Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        "W=[0-9]{1,2} \" H=[0-9]{1,2} 1/2 \" D=[0-9]{1,2} \"".prop_map(Some),
    ]
    .prop_map(|description| (description, ItemKind::Text));
    (proptest::option::of(0u64..100_000), prop_oneof![product, text_item])
        .prop_map(|(line_id, (description, kind))| Item { line_id, description, kind })
}

pub(crate) fn document() -> impl Strategy<Value = SaberisDocument> {
    let header = (text(), date(), text(), text(), text(), text(), text());
    let customer = (text(), text(), text(), address(false));
    let groups = proptest::collection::vec((text(), proptest::collection::vec(item(), 0..12)), 1..3);
    (header, customer, address(true), groups).prop_map(
        |(
            (source, date, order_number, order_type, username, store_number, salesperson),
            (number, po_number, name, address),
            shipping,
            groups,
        )| {
            SaberisDocument {
                version: Some("1.0".to_owned()),
                order: Order {
                    source,
                    date,
                    order_number,
                    order_type,
                    username,
                    customer: Customer { number, po_number, name, address },
                    store_number,
                    salesperson,
                    shipping,
                    groups: groups
                        .into_iter()
                        .map(|(group_type, items)| Group { group_type, items })
                        .collect(),
                },
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn xml_round_trips(doc in document()) {
        let rendered = render::to_xml(&doc);
        let parsed = parse(rendered.as_bytes(), Some(Format::Xml), &Limits::default());
        prop_assert_eq!(parsed.map_err(|e| e.to_string()), Ok(doc));
    }

    #[test]
    fn json_round_trips(doc in document()) {
        let rendered = render::to_json(&doc);
        let parsed = parse(rendered.as_bytes(), Some(Format::Json), &Limits::default());
        prop_assert_eq!(parsed.map_err(|e| e.to_string()), Ok(doc));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = Limits::default();
        let _ = parse(&bytes, None, &limits);
        let _ = parse(&bytes, Some(Format::Xml), &limits);
        let _ = parse(&bytes, Some(Format::Json), &limits);
    }
}
