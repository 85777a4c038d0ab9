//! Document → message: the one step above both the Saberis parser ([`crate::saberis`]) and the
//! messages ([`crate::message`]), which know nothing of each other.
//!
//! ```text
//! bytes ──saberis::parse──▶ SaberisDocument ──normalize──▶ QuoteRequest (+ content_hash)
//!                                                               │ SanityRules::check
//!                                                               ▼
//!                                              ok: publish   /   DocumentError ──▶ DeadLetter::rejected
//! ```

mod hash;
mod normalize;
mod sanity;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;

pub use hash::content_hash;
pub use normalize::normalize;
pub use sanity::SanityRules;

use crate::message::{DeadLetter, QuoteRequest, Source};
use crate::saberis::{self, DocumentError, Format, Limits};

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
        let document = saberis::parse(bytes, format, &self.limits)?;
        let request = normalize(&document, source);
        if check_sanity {
            self.sanity.check(&request)?;
        }
        Ok(request)
    }

    /// Reads a file (refusing one over the size limit by its length, before reading it) and
    /// returns its bytes; errors name the file.
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>, DocumentError> {
        saberis::read_file(path, &self.limits)
    }

    /// Reads a document from a stream (standard input, an HTTP body) up to the size limit;
    /// errors name it `name`.
    pub fn read_from(&self, reader: impl Read, name: &str) -> Result<Vec<u8>, DocumentError> {
        saberis::read_bytes(reader, name, &self.limits)
    }
}

/// The dead letter of a refused document: the message type lives in [`crate::message`], its
/// making from the parser's error here, so that neither the message nor the transport depends on
/// the parser.
impl DeadLetter {
    pub fn rejected(source: Source, kept_at: String, error: &DocumentError) -> Self {
        let problems = error
            .all()
            .map(|e| {
                let mut line = format!("{}: {}", e.kind, e.reason);
                if let Some(place) = &e.place {
                    line.push_str(&format!(" at {place}"));
                }
                line
            })
            .collect();
        Self {
            schema: Self::SCHEMA.to_owned(),
            source,
            kept_at,
            kind: crate::failure::FailureKind::from(error.kind).into(),
            problems,
            failed_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}
