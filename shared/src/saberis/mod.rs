//! Saberis order documents: the typed model, and the parser of both forms (the XML export and
//! the SaberisConnect JSON), with the limits and sanity rules a dealer configures.
//!
//! ```text
//! bytes ──decode──▶ text ──xml::read / json::read──▶ raw ──into_document──▶ SaberisDocument
//!                                                                 │ message::normalize
//!                                                                 ▼
//!                                                   QuoteRequest ──SanityRules::check──▶ ok / error
//! ```

mod error;
mod input;
mod json;
mod model;
mod raw;
pub mod render;
mod sanity;
#[cfg(test)]
mod tests;
mod xml;

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::{DocumentError, ErrorKind, ParseErrorKind, Place, SanityRule};
pub use model::{Customer, Group, Item, ItemKind, Order, Product, SaberisDocument};
pub use sanity::SanityRules;

use crate::message::{self, QuoteRequest, Source};

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

/// Turns Saberis documents into quote messages: parse, normalize, check the sanity rules.
#[derive(Debug, Clone, Default)]
pub struct DocumentReader {
    pub limits: Limits,
    pub sanity: SanityRules,
}

impl DocumentReader {
    pub fn new(limits: Limits, sanity: SanityRules) -> Self {
        Self { limits, sanity }
    }

    /// The message for one document. Errors carry no file name: the caller knows it.
    pub fn quote_request(
        &self,
        bytes: &[u8],
        format: Option<Format>,
        source: Source,
        check_sanity: bool,
    ) -> Result<QuoteRequest, DocumentError> {
        let document = parse(bytes, format, &self.limits)?;
        let request = message::normalize(&document, source);
        if check_sanity {
            self.sanity.check(&request)?;
        }
        Ok(request)
    }

    /// Reads a file (refusing one over the size limit by its length, before reading it) and
    /// returns its bytes; errors name the file.
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>, DocumentError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| io_error(&e).in_file(&name))?;
        if let Ok(meta) = file.metadata() {
            input::check_size(meta.len(), &self.limits).map_err(|e| e.in_file(&name))?;
        }
        self.read_from(file, &name)
    }

    /// Reads a document from a stream (standard input, an HTTP body) up to the size limit;
    /// errors name it `name`.
    pub fn read_from(&self, reader: impl Read, name: &str) -> Result<Vec<u8>, DocumentError> {
        input::read_limited(reader, &self.limits).map_err(|e| e.in_file(name))
    }
}

fn io_error(e: &std::io::Error) -> DocumentError {
    DocumentError::new(ErrorKind::Parse(ParseErrorKind::Unreadable), format!("cannot be read: {e}"), None)
}
