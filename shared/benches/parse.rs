//! Parser benchmark: `cargo bench -p sj-shared --bench parse`.
//!
//! For each input (the real fixtures when ../shared/fixtures is beside the repository, the
//! project's samples, and a generated 5,000-line order in both forms) it prints MB/s and
//! documents/s of parse + normalize + hash, next to a baseline measured in the same run on the
//! same bytes: quick-xml reading every event and doing nothing with it (XML), and serde_json
//! building a `Value` (JSON). The ratio says what our work costs on top of bare tokenizing, so it
//! means the same on a fast or a slow machine. A counting allocator reports the peak heap used
//! per document as a multiple of the document's size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sj_shared::intake;
use sj_shared::message::{Source, SourceKind};
use sj_shared::saberis::{self, render, Format, Limits};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Input {
    name: String,
    format: Format,
    bytes: Vec<u8>,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick") || std::env::var_os("SJ_BENCH_QUICK").is_some();
    let budget = if quick { Duration::from_millis(150) } else { Duration::from_millis(1500) };
    let inputs = inputs();
    println!(
        "parser benchmark ({} per measurement; baseline = bare tokenizing of the same bytes)",
        humanize(budget)
    );
    println!(
        "{:<44} {:>5} {:>9} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "input", "form", "size KiB", "docs/s", "MB/s", "base MB/s", "ratio", "peak heap"
    );
    let (mut total_bytes, mut total_ours, mut total_base) = (0f64, 0f64, 0f64);
    for input in &inputs {
        let ours = measure(budget, || {
            let doc = saberis::parse(&input.bytes, Some(input.format), &Limits::default()).expect("parses");
            let request = intake::normalize(&doc, Source::now(SourceKind::File, "bench"));
            std::hint::black_box(request);
        });
        let base = measure(budget, || baseline(input));
        let peak = peak_heap(input);
        let mb = input.bytes.len() as f64 / 1e6;
        total_bytes += input.bytes.len() as f64;
        total_ours += ours.as_secs_f64();
        total_base += base.as_secs_f64();
        println!(
            "{:<44} {:>5} {:>9.1} {:>10.0} {:>10.1} {:>10.1} {:>7.2}x {:>9.1}x",
            input.name,
            if input.format == Format::Xml { "xml" } else { "json" },
            input.bytes.len() as f64 / 1024.0,
            1.0 / ours.as_secs_f64(),
            mb / ours.as_secs_f64(),
            mb / base.as_secs_f64(),
            ours.as_secs_f64() / base.as_secs_f64(),
            peak as f64 / input.bytes.len() as f64,
        );
    }
    println!(
        "overall: {:.1} MB/s ours, {:.1} MB/s baseline, ratio {:.2}x (time per document, ours / baseline, summed)",
        total_bytes / 1e6 / total_ours,
        total_bytes / 1e6 / total_base,
        total_ours / total_base
    );
}

/// Mean time of one run of `f`, over as many runs as fit in `budget` (at least 3).
fn measure(budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < budget {
        f();
        runs += 1;
    }
    start.elapsed() / runs
}

fn baseline(input: &Input) {
    let text = std::str::from_utf8(&input.bytes).expect("utf-8 input");
    match input.format {
        Format::Xml => {
            let mut reader = quick_xml::Reader::from_str(text);
            let mut events = 0usize;
            loop {
                match reader.read_event().expect("well-formed") {
                    quick_xml::events::Event::Eof => break,
                    event => {
                        std::hint::black_box(&event);
                        events += 1
                    }
                }
            }
            std::hint::black_box(events);
        }
        Format::Json => {
            let value: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
            std::hint::black_box(value);
        }
    }
}

/// Peak heap above what was live before, while parsing and normalizing once.
fn peak_heap(input: &Input) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let doc = saberis::parse(&input.bytes, Some(input.format), &Limits::default()).expect("parses");
    let request = intake::normalize(&doc, Source::now(SourceKind::File, "bench"));
    std::hint::black_box((doc, request));
    PEAK.load(Ordering::Relaxed) - before
}

fn inputs() -> Vec<Input> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let mut inputs = Vec::new();
    let fixtures = root.parent().map(|p| p.join("shared/fixtures/saberis"));
    match fixtures.filter(|f| f.is_dir()) {
        Some(dir) => {
            add_dir(&mut inputs, &dir.join("xml"), "fixture ");
            add_dir(&mut inputs, &dir.join("connect-json"), "fixture ");
        }
        None => println!("(../shared/fixtures/saberis not beside the repository: real fixtures skipped)"),
    }
    add_dir(&mut inputs, &root.join("samples/saberis"), "sample ");
    let big = saberis::synthetic::large_order(5_000);
    inputs.push(Input {
        name: "generated 5,000 lines".into(),
        format: Format::Xml,
        bytes: render::to_xml(&big).into_bytes(),
    });
    inputs.push(Input {
        name: "generated 5,000 lines".into(),
        format: Format::Json,
        bytes: render::to_json(&big).into_bytes(),
    });
    inputs
}

fn add_dir(inputs: &mut Vec<Input>, dir: &Path, prefix: &str) {
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("readable dir").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).expect("readable file");
        // The baseline needs UTF-8 without a BOM: skip the windows-1252 sample and the like.
        if std::str::from_utf8(&bytes).is_err() || bytes.starts_with(b"\xEF\xBB\xBF") {
            continue;
        }
        let format = if path.extension().is_some_and(|e| e == "json") { Format::Json } else { Format::Xml };
        let name = format!("{prefix}{}", path.file_stem().unwrap().to_string_lossy());
        let name = if name.len() > 44 { format!("{}…", &name[..43]) } else { name };
        inputs.push(Input { name, format, bytes });
    }
}

fn humanize(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
