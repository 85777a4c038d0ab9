//! From bytes to text: size limit, byte-order marks, the encoding an XML declaration names, and
//! strict UTF-8 (an invalid byte is an error with its line and column, never a replacement
//! character that would end up in a client's quote).

use std::borrow::Cow;
use std::io::Read;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

use super::error::{line_col, DocumentError, Place};
use super::{Format, Limits};
use crate::failure::ParseErrorKind;

/// Reads at most `limits.max_bytes`, refusing a larger document without reading the rest.
pub(crate) fn read_limited(reader: impl Read, limits: &Limits) -> Result<Vec<u8>, DocumentError> {
    let mut bytes = Vec::new();
    reader.take(limits.max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| {
        DocumentError::parse(ParseErrorKind::Unreadable, format!("could not be read: {e}"), None)
    })?;
    check_size(bytes.len() as u64, limits)?;
    Ok(bytes)
}

pub(crate) fn check_size(len: u64, limits: &Limits) -> Result<(), DocumentError> {
    if len > limits.max_bytes {
        return Err(DocumentError::parse(
            ParseErrorKind::TooLarge,
            format!(
                "the document is larger than the limit of {} bytes (parser.max_document_bytes)",
                limits.max_bytes
            ),
            None,
        ));
    }
    Ok(())
}

/// Decodes a document to text: a UTF-8 or UTF-16 byte-order mark wins; otherwise the encoding
/// an XML declaration names (windows-1252, ISO-8859-1...); otherwise UTF-8.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, DocumentError> {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return strict(encoding, &bytes[bom_len..]);
    }
    match declared_encoding(bytes)? {
        Some(encoding) if encoding != UTF_8 => strict(encoding, bytes),
        _ => utf8(bytes),
    }
}

/// Which form the text is, by its first character: `<` XML, `{` JSON.
pub(crate) fn sniff(text: &str) -> Result<Format, DocumentError> {
    match text.trim_start().chars().next() {
        Some('<') => Ok(Format::Xml),
        Some('{') | Some('[') => Ok(Format::Json),
        Some(c) => {
            let offset = text.len() - text.trim_start().len();
            let (line, column) = line_col(text, offset);
            Err(DocumentError::parse(
                ParseErrorKind::UnknownFormat,
                format!("neither XML (starts with '<') nor JSON (starts with '{{'): starts with {c:?}"),
                Some(Place::Text { line, column }),
            ))
        }
        None => Err(DocumentError::parse(ParseErrorKind::UnknownFormat, "the document is empty", None)),
    }
}

fn utf8(bytes: &[u8]) -> Result<Cow<'_, str>, DocumentError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(e) => {
            let valid = e.valid_up_to();
            let prefix = std::str::from_utf8(&bytes[..valid]).expect("valid up to here");
            let (line, column) = line_col(prefix, valid);
            Err(DocumentError::parse(
                ParseErrorKind::Encoding,
                format!(
                    "invalid UTF-8 (byte 0x{:02X}); a file in another encoding must name it in an XML declaration, \
                     e.g. <?xml version=\"1.0\" encoding=\"windows-1252\"?>",
                    bytes[valid]
                ),
                Some(Place::Text { line, column }),
            ))
        }
    }
}

fn strict<'a>(encoding: &'static Encoding, bytes: &'a [u8]) -> Result<Cow<'a, str>, DocumentError> {
    if encoding == UTF_8 {
        return utf8(bytes);
    }
    encoding.decode_without_bom_handling_and_without_replacement(bytes).ok_or_else(|| {
        DocumentError::parse(
            ParseErrorKind::Encoding,
            format!("bytes that are not valid {}", encoding.name()),
            None,
        )
    })
}

/// The encoding named by `<?xml ... encoding="..."?>` at the very start, if any.
fn declared_encoding(bytes: &[u8]) -> Result<Option<&'static Encoding>, DocumentError> {
    let Some(rest) = bytes.strip_prefix(b"<?xml") else { return Ok(None) };
    // The declaration is short; look no further than its end (or a sane bound).
    let end = rest.windows(2).take(512).position(|w| w == b"?>").unwrap_or(0);
    let decl = &rest[..end];
    let Some(at) = decl.windows(8).position(|w| w == b"encoding") else { return Ok(None) };
    let after = decl[at + 8..].trim_ascii_start();
    let Some(after) = after.strip_prefix(b"=") else { return Ok(None) };
    let after = after.trim_ascii_start();
    let Some((&quote, value)) = after.split_first().filter(|(q, _)| **q == b'"' || **q == b'\'') else {
        return Ok(None);
    };
    let label = value.split(|&b| b == quote).next().unwrap_or_default();
    match Encoding::for_label(label) {
        // A declaration we could read as ASCII cannot be UTF-16 without a byte-order mark.
        Some(e) if e == UTF_16LE || e == UTF_16BE => Err(DocumentError::parse(
            ParseErrorKind::Encoding,
            "the XML declaration names UTF-16 but the file has no UTF-16 byte-order mark",
            Some(Place::Text { line: 1, column: 1 }),
        )),
        Some(e) => Ok(Some(e)),
        None => Err(DocumentError::parse(
            ParseErrorKind::Encoding,
            format!("unknown encoding {:?} in the XML declaration", String::from_utf8_lossy(label)),
            Some(Place::Text { line: 1, column: 1 }),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_are_honoured_and_stripped() {
        assert_eq!(decode(b"\xEF\xBB\xBF<a/>").unwrap(), "<a/>");
        assert_eq!(decode(b"\xFF\xFE<\0a\0/\0>\0").unwrap(), "<a/>");
    }

    #[test]
    fn declared_single_byte_encodings_are_decoded() {
        let doc = b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>caf\xE9 \x93q\x94</a>";
        assert!(decode(doc).unwrap().contains("caf\u{e9} \u{201c}q\u{201d}"));
        let doc = b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xE9</a>";
        assert!(decode(doc).unwrap().contains('\u{e9}'));
    }

    #[test]
    fn invalid_utf8_names_its_line_and_column() {
        let err = decode(b"<a>\n  caf\xE9</a>").unwrap_err();
        assert_eq!(err.kind, super::super::ErrorKind::Parse(ParseErrorKind::Encoding));
        assert_eq!(err.place.as_deref(), Some(&Place::Text { line: 2, column: 6 }));
    }

    #[test]
    fn unknown_declared_encoding_is_an_error() {
        let err = decode(b"<?xml version=\"1.0\" encoding=\"klingon\"?><a/>").unwrap_err();
        assert!(err.reason.contains("klingon"), "{err}");
    }

    #[test]
    fn sniffing_by_first_character() {
        assert_eq!(sniff("  <a/>").unwrap(), Format::Xml);
        assert_eq!(sniff("\n{}").unwrap(), Format::Json);
        assert_eq!(
            sniff("hello").unwrap_err().kind,
            super::super::ErrorKind::Parse(ParseErrorKind::UnknownFormat)
        );
    }
}
