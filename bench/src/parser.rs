//! The parser in-process, as `cargo bench -p sj-shared --bench parse` measures it (parse +
//! normalize + hash of the samples and a generated 5,000-line order, against the same-run
//! baseline of bare tokenizing), folded into the report. The generated order is that bench's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use sj_shared::intake;
use sj_shared::message::{Source, SourceKind};
use sj_shared::saberis::{self, render, Format, Limits};

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
    let big = saberis::synthetic::large_order(5_000);
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
