//! The SaberisConnect JSON form (`GET /api/v1/export/json/{guid}`), read with serde into the
//! same raw structs as the XML form.

use super::error::{DocumentError, Place};
use super::raw::{JsonRoot, RawDocument};
use super::Limits;
use crate::failure::ParseErrorKind;

pub(crate) fn read(text: &str, limits: &Limits) -> Result<RawDocument, DocumentError> {
    check_depth(text, limits)?;
    let root: JsonRoot = serde_json::from_str(text).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Data => ParseErrorKind::NotAnOrder,
            _ => ParseErrorKind::MalformedJson,
        };
        let place = Place::Text { line: e.line() as u32, column: e.column() as u32 };
        DocumentError::parse(kind, without_position(&e), Some(place))
    })?;
    root.document.ok_or_else(|| {
        DocumentError::parse(
            ParseErrorKind::NotAnOrder,
            "no SaberisOrderDocument object at the top level: this is not a Saberis order",
            Some(Place::Json { pointer: String::new() }),
        )
    })
}

/// serde_json's message without its " at line L column C" suffix (we print the place ourselves).
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    }
}

/// Refuses nesting deeper than the limit before serde sees the text (serde_json's own limit is
/// 128 and reports it as a syntax error). A cheap scan: brackets outside strings.
fn check_depth(text: &str, limits: &Limits) -> Result<(), DocumentError> {
    let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
    for (offset, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limits.max_depth {
                    let (line, column) = super::error::line_col(text, offset);
                    return Err(DocumentError::parse(
                        ParseErrorKind::TooDeep,
                        format!(
                            "objects and lists nested deeper than the limit of {} (parser.max_depth)",
                            limits.max_depth
                        ),
                        Some(Place::Text { line, column }),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
