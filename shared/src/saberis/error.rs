//! What can be wrong with a Saberis document, and where.
//!
//! Every error names a kind (stable, short, machine-readable: it becomes the `sj-error-kind`
//! header of a dead letter), a reason a person can act on, and the place in the document. The
//! file name is added by whoever read the file ([`DocumentError::in_file`]), so the one-line form
//! is `FILE: kind: reason at PLACE`.

use std::fmt;

use crate::failure::{FailureKind, ParseErrorKind, SanityRule};

/// Where in a document something was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// An element of an XML document: its path (`/SaberisOrderDocument/Order/Group/Item[3]/List`,
    /// 1-based indexes as XPath has them) and the 1-based line and column of its start tag.
    Xml { path: String, line: u32, column: u32 },
    /// A value of a JSON document, as an RFC 6901 pointer (0-based indexes).
    Json { pointer: String },
    /// A position in the text, before any structure is known (syntax and encoding errors).
    Text { line: u32, column: u32 },
    /// A product line of the order, for rules that look at the normalized order.
    Line { line_id: Option<u64>, code: String, catalog: Option<String> },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Xml { path, line, column } => write!(f, "{path} (line {line}, column {column})"),
            Place::Json { pointer } => write!(f, "{pointer}"),
            Place::Text { line, column } => write!(f, "line {line}, column {column}"),
            Place::Line { line_id, code, catalog } => {
                match line_id {
                    Some(id) => write!(f, "LineID {id} ({code}")?,
                    None => write!(f, "line {code} (no LineID")?,
                }
                match catalog {
                    Some(catalog) => write!(f, ", catalog {catalog})"),
                    None => write!(f, ")"),
                }
            }
        }
    }
}

/// The kind of a [`DocumentError`]: a parse error or a broken sanity rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Parse(ParseErrorKind),
    Sanity(SanityRule),
}

impl fmt::Display for ErrorKind {
    /// `parse.<kind>` or `sanity.<rule>` ([`FailureKind::name`]): the dot keeps the line
    /// `FILE: kind: reason` splittable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FailureKind::from(*self).name())
    }
}

/// Something wrong with one document: what, why, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DocumentError {
    pub kind: ErrorKind,
    /// One sentence a person can act on.
    pub reason: String,
    /// Boxed: errors travel through many `Result`s and should stay small.
    pub place: Option<Box<Place>>,
    /// The file (or SaberisConnect GUID) the document came from, when known.
    pub file: Option<String>,
    /// Further problems of the same document (sanity rules report every broken line).
    pub more: Vec<DocumentError>,
}

impl DocumentError {
    pub fn new(kind: ErrorKind, reason: impl Into<String>, place: Option<Place>) -> Self {
        Self { kind, reason: reason.into(), place: place.map(Box::new), file: None, more: Vec::new() }
    }

    pub(crate) fn parse(kind: ParseErrorKind, reason: impl Into<String>, place: Option<Place>) -> Self {
        Self::new(ErrorKind::Parse(kind), reason, place)
    }

    /// Names the file the document came from.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// All problems, this one first: for reason files that list everything.
    pub fn all(&self) -> impl Iterator<Item = &DocumentError> {
        std::iter::once(self).chain(self.more.iter())
    }
}

impl From<ErrorKind> for FailureKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Parse(kind) => FailureKind::Parse(kind),
            ErrorKind::Sanity(rule) => FailureKind::Sanity(rule),
        }
    }
}

impl fmt::Display for DocumentError {
    /// `FILE: kind: reason at PLACE (and N more)`; the file part only when known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        write!(f, "{}: {}", self.kind, self.reason)?;
        if let Some(place) = &self.place {
            write!(f, " at {place}")?;
        }
        match self.more.len() {
            0 => Ok(()),
            1 => write!(f, " (and 1 more problem)"),
            n => write!(f, " (and {n} more problems)"),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (saturate(line), saturate(column))
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let text = "ab\ncdé\nfg";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_col(text, 7), (2, 4));
        assert_eq!(line_col(text, 8), (3, 1));
        assert_eq!(line_col(text, 9), (3, 2));
        assert_eq!(line_col(text, 1000), (3, 3));
    }

    #[test]
    fn display_is_one_line_with_file_kind_reason_and_place() {
        let err = DocumentError::parse(
            ParseErrorKind::InvalidValue,
            "Quantity must be a decimal number, found \"one\"",
            Some(Place::Json { pointer: "/SaberisOrderDocument/Order/Group/Item/3/Quantity".into() }),
        )
        .in_file("order.json");
        assert_eq!(
            err.to_string(),
            "order.json: parse.invalid-value: Quantity must be a decimal number, found \"one\" \
             at /SaberisOrderDocument/Order/Group/Item/3/Quantity"
        );
    }
}
