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

use crate::message::{DeadLetter, QuoteRequest, ReviewItem, ReviewProblem, ReviewReason, Source, Target};
use crate::saberis::{self, DocumentError, ErrorKind, Format, Limits, Place};

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

/// A document the sanity rules refuse, for a reviewer (`sanity` in `review.when`): the request as
/// read and each problem with the indices of its line. `None` when the refusal is not one a
/// reviewer can mend (a document without a single product line: nothing to quote).
pub fn review_item(request: &QuoteRequest, error: &DocumentError) -> Option<ReviewItem> {
    let sanity = |e: &DocumentError| matches!(e.kind, ErrorKind::Sanity(_));
    let mendable = |e: &DocumentError| {
        sanity(e) && !matches!(e.kind, ErrorKind::Sanity(crate::failure::SanityRule::NoProductLines))
    };
    if !error.all().all(mendable) {
        return None;
    }
    let problems = error
        .all()
        .map(|e| {
            let at = match e.place.as_deref() {
                Some(Place::Line { line_id, code, catalog }) => request
                    .sections
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| &s.catalog == catalog)
                    .flat_map(|(i, s)| s.lines.iter().enumerate().map(move |(j, l)| (i, j, l)))
                    .find(|(_, _, l)| &l.line_id == line_id && &l.code == code)
                    .map(|(i, j, _)| (i, j)),
                _ => None,
            };
            ReviewProblem {
                kind: crate::failure::FailureKind::from(e.kind).name().to_owned(),
                reason: e.reason.clone(),
                section: at.map(|(i, _)| i),
                line: at.map(|(_, j)| j),
            }
        })
        .collect::<Vec<_>>();
    let detail = format!(
        "the sanity rules refuse {} line{}: {}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        problems.first().map(|p| p.reason.as_str()).unwrap_or_default()
    );
    Some(ReviewItem {
        schema: ReviewItem::SCHEMA.to_owned(),
        request: request.clone(),
        reasons: vec![ReviewReason { rule: "sanity".to_owned(), detail }],
        catalogs: Vec::new(),
        msrp: request.totals.list,
        cogs: request.totals.cost,
        total: request.totals.selling,
        problems,
        client: None,
        target: Target::NewQuote,
        held_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    })
}
