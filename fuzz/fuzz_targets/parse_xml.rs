//! Any bytes, read as a Saberis XML document: the parser must return a document or an error,
//! never panic, hang or blow the heap; and whatever it accepts must survive a round trip through
//! the renderer (render it, read it again: the same document).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sj_shared::intake::normalize;
use sj_shared::message::{Source, SourceKind};
use sj_shared::saberis::{parse, render, Format, Limits};

fuzz_target!(|bytes: &[u8]| {
    let limits = Limits { max_bytes: 1 << 20, max_depth: 32 };
    let Ok(doc) = parse(bytes, Some(Format::Xml), &limits) else { return };
    let request = normalize(&doc, Source::now(SourceKind::File, "fuzz"));
    assert!(request.content_hash.starts_with("sha256:"));
    let again = parse(render::to_xml(&doc).as_bytes(), Some(Format::Xml), &limits).expect("rendered XML parses");
    assert_eq!(again, doc);
});
