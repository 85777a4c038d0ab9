//! The parser in-process, as `cargo bench -p sj-shared --bench parse` measures it (parse +
//! normalize + hash of the samples and a generated 5,000-line order, against the same-run
//! baseline of bare tokenizing), folded into the report. The generated order is that bench's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde::Serialize;
use sj_shared::address::Address;
use sj_shared::intake;
use sj_shared::message::{Source, SourceKind};
use sj_shared::saberis::{
    self, render, Customer, Format, Group, Item, ItemKind, Limits, Order, Product, SaberisDocument,
};

#[derive(Serialize, Clone)]
pub struct ParserRow {
    pub input: String,
    pub form: &'static str,
    pub kib: f64,
    pub docs_per_s: f64,
    pub mb_per_s: f64,
    pub baseline_mb_per_s: f64,
    /// Our time / the baseline's.
    pub ratio: f64,
}

#[derive(Serialize, Clone, Default)]
pub struct Parser {
    pub rows: Vec<ParserRow>,
    pub samples_mb_per_s: f64,
    pub samples_ratio: f64,
}

pub fn run(quick: bool) -> anyhow::Result<Parser> {
    let budget = if quick { Duration::from_millis(150) } else { Duration::from_millis(1500) };
    let mut inputs = Vec::new();
    let dir = crate::env::root().join("samples/saberis");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path)?;
        // The baseline needs UTF-8 without a BOM: the windows-1252 sample and the like are left out.
        if std::str::from_utf8(&bytes).is_err() || bytes.starts_with(b"\xEF\xBB\xBF") {
            continue;
        }
        let format = if path.extension().is_some_and(|e| e == "json") { Format::Json } else { Format::Xml };
        let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        inputs.push((name, format, bytes, true));
    }
    let big = generated(5_000);
    inputs.push(("generated 5,000 lines".into(), Format::Xml, render::to_xml(&big).into_bytes(), false));
    inputs.push(("generated 5,000 lines".into(), Format::Json, render::to_json(&big).into_bytes(), false));

    let mut out = Parser::default();
    let (mut bytes_total, mut ours_total, mut base_total) = (0.0, 0.0, 0.0);
    for (name, format, bytes, sample) in &inputs {
        if saberis::parse(bytes, Some(*format), &Limits::default()).is_err() {
            continue; // a sample of a refused document
        }
        let ours = measure(budget, || {
            let doc = saberis::parse(bytes, Some(*format), &Limits::default()).expect("parses");
            std::hint::black_box(intake::normalize(&doc, Source::now(SourceKind::File, "bench")));
        });
        let base = measure(budget, || baseline(bytes, *format));
        let mb = bytes.len() as f64 / 1e6;
        if *sample {
            bytes_total += bytes.len() as f64;
            ours_total += ours;
            base_total += base;
        }
        out.rows.push(ParserRow {
            input: name.clone(),
            form: if *format == Format::Xml { "xml" } else { "json" },
            kib: bytes.len() as f64 / 1024.0,
            docs_per_s: 1.0 / ours,
            mb_per_s: mb / ours,
            baseline_mb_per_s: mb / base,
            ratio: ours / base,
        });
    }
    out.samples_mb_per_s = bytes_total / 1e6 / ours_total;
    out.samples_ratio = ours_total / base_total;
    Ok(out)
}

/// Mean seconds of one run of `f`, over as many runs as fit in `budget` (at least 3).
fn measure(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < budget {
        f();
        runs += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(runs)
}

/// quick-xml reading every event (XML), serde_json building a `Value` (JSON).
fn baseline(bytes: &[u8], format: Format) {
    let text = std::str::from_utf8(bytes).expect("utf-8 input");
    match format {
        Format::Xml => {
            let mut reader = quick_xml::Reader::from_str(text);
            loop {
                match reader.read_event().expect("well-formed") {
                    quick_xml::events::Event::Eof => break,
                    event => {
                        std::hint::black_box(&event);
                    }
                }
            }
        }
        Format::Json => {
            let value: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
            std::hint::black_box(value);
        }
    }
}

/// A large order shaped like the real ones (the same as shared/benches/parse.rs generates): a
/// catalog header and settings every 50 lines, products, a dimension line after most products.
fn generated(lines: usize) -> SaberisDocument {
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
