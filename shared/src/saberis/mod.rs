//! Saberis order documents: the typed model, and the parser of both forms (the XML export and
//! the SaberisConnect JSON), with the limits a dealer configures.
//!
//! ```text
//! bytes ──decode──▶ text ──xml::read / json::read──▶ raw ──into_document──▶ SaberisDocument
//! ```
//!
//! The parser knows nothing of the quote message: [`crate::intake`] turns a document into one
//! (normalize, sanity rules, content hash).

mod error;
mod input;
mod json;
mod model;
mod raw;
pub mod render;
pub mod synthetic;
#[cfg(test)]
pub(crate) mod tests;
mod xml;

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::{DocumentError, ErrorKind, Place};
pub use model::{Customer, Group, Item, ItemKind, Order, Product, SaberisDocument};

use crate::failure::ParseErrorKind;

/// The two forms of a Saberis document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Xml,
    Json,
}

/// `[parser]` in the configuration: what the parser refuses before reading a document whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest document accepted, in bytes (default 16 MiB; real orders are a few hundred KiB).
    #[serde(rename = "max_document_bytes")]
    pub max_bytes: u64,
    /// Deepest nesting of elements (XML) or objects and lists (JSON) accepted.
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 16 * 1024 * 1024, max_depth: 32 }
    }
}

impl Limits {
    /// Checks the `[parser]` section; every problem names its key.
    pub(crate) fn validate(&self, problems: &mut Vec<String>) {
        if self.max_bytes == 0 || self.max_bytes > 1 << 30 {
            problems.push(format!(
                "parser.max_document_bytes: {} must be between 1 and 1073741824 (1 GiB)",
                self.max_bytes
            ));
        }
        if !(6..=1000).contains(&self.max_depth) {
            problems.push(format!(
                "parser.max_depth: {} must be between 6 (a Saberis document needs 6) and 1000",
                self.max_depth
            ));
        }
    }
}

/// Parses a document; `format` `None` tells XML from JSON by the first character.
pub fn parse(
    bytes: &[u8],
    format: Option<Format>,
    limits: &Limits,
) -> Result<SaberisDocument, DocumentError> {
    input::check_size(bytes.len() as u64, limits)?;
    let text = input::decode(bytes)?;
    let format = match format {
        Some(format) => format,
        None => input::sniff(&text)?,
    };
    match format {
        Format::Xml => xml::read(&text, limits)?.into_document(raw::Form::Xml(&text)),
        Format::Json => json::read(&text, limits)?.into_document(raw::Form::Json),
    }
}

/// Reads a document from `reader`, refusing it without reading further once it passes the size
/// limit.
pub fn read(
    reader: impl Read,
    format: Option<Format>,
    limits: &Limits,
) -> Result<SaberisDocument, DocumentError> {
    parse(&input::read_limited(reader, limits)?, format, limits)
}

/// Reads a file's bytes (refusing one over the size limit by its length, before reading it);
/// errors name the file.
pub fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>, DocumentError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| io_error(&e).in_file(&name))?;
    if let Ok(meta) = file.metadata() {
        input::check_size(meta.len(), limits).map_err(|e| e.in_file(&name))?;
    }
    read_bytes(file, &name, limits)
}

/// Reads a document's bytes from a stream (standard input, an HTTP body) up to the size limit;
/// errors name it `name`.
pub fn read_bytes(reader: impl Read, name: &str, limits: &Limits) -> Result<Vec<u8>, DocumentError> {
    input::read_limited(reader, limits).map_err(|e| e.in_file(name))
}

fn io_error(e: &std::io::Error) -> DocumentError {
    DocumentError::new(ErrorKind::Parse(ParseErrorKind::Unreadable), format!("cannot be read: {e}"), None)
}
