//! The CSV store: a local file, RFC 4180 (quoted fields may hold commas, quotes and line
//! breaks), UTF-8, created with its header row when missing. It is read and written through the
//! `csv` crate, read as leniently as a spreadsheet program reads (see [`parse_records`]), with
//! rows numbered as such a program shows them, blank lines included.
//!
//! Several processes on one host may append at once: each append is one `write` of whole lines
//! to the file opened with `O_APPEND`, so lines never interleave. The file is never rewritten.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::table::{header_of, Header, Table};
use super::{MappingError, MappingRow};

/// Records of a CSV text, each with its row number (1-based: the row a spreadsheet program
/// shows, so a blank line is a record of one empty cell, as it is a row there). Read by the
/// `csv` crate, as leniently as spreadsheet programs read: a quote inside an unquoted field is
/// text, text after a closing quote joins the field, an unclosed quote runs to the end; CRLF, LF
/// and a lone CR each end a line. A leading UTF-8 byte-order mark is dropped; a last line without
/// line break is a record.
pub fn parse_records(text: &str) -> Vec<(usize, Vec<String>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(::csv::Terminator::CRLF)
        .quoting(true)
        .double_quote(true)
        .escape(None)
        .comment(None)
        .trim(::csv::Trim::None)
        .from_reader(bytes);
    let mut records = Vec::new();
    let mut record = ::csv::StringRecord::new();
    // The csv crate skips blank lines; they are rows all the same. Each read consumes the blank
    // lines before its record, the record (line breaks inside quotes included) and its line break
    // (of a CRLF only the CR: the LF comes with the next read), so the blank lines before a
    // record are the line breaks at the start of what its read consumed.
    let mut consumed = 0;
    loop {
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            // Not seen: the text is in memory and valid UTF-8, and records may differ in length.
            Err(e) => {
                tracing::warn!(error = %e, "CSV text read only in part");
                false
            }
        };
        if !more {
            break;
        }
        push_blank_lines(bytes, consumed, &mut records);
        records.push(record.iter().map(str::to_owned).collect());
        consumed = usize::try_from(reader.position().byte()).unwrap_or(bytes.len()).min(bytes.len());
    }
    push_blank_lines(bytes, consumed, &mut records);
    records.into_iter().enumerate().map(|(i, r)| (i + 1, r)).collect()
}

/// Pushes a record of one empty cell for each line break at `bytes[from..]` (CRLF, LF or CR),
/// after the LF of a CRLF whose CR ends `bytes[..from]`.
fn push_blank_lines(bytes: &[u8], from: usize, records: &mut Vec<Vec<String>>) {
    let mut at = from;
    if at > 0 && bytes[at - 1] == b'\r' && bytes.get(at) == Some(&b'\n') {
        at += 1;
    }
    while let Some(&b) = bytes.get(at) {
        match b {
            b'\r' if bytes.get(at + 1) == Some(&b'\n') => at += 2,
            b'\r' | b'\n' => at += 1,
            _ => break,
        }
        records.push(vec![String::new()]);
    }
}

/// One record as a line ending with `eol`, written by the `csv` crate: a field is quoted when
/// RFC 4180 needs it (a comma, a quote, a line break; quotes inside doubled), and every field of a
/// record that has one with a leading or trailing space, which a program that trims unquoted
/// fields would lose.
pub fn format_record(cells: &[String], eol: &str) -> String {
    let padded = cells.iter().any(|c| c.starts_with(' ') || c.ends_with(' '));
    let mut writer = ::csv::WriterBuilder::new()
        .has_headers(false)
        .flexible(true)
        .quote_style(if padded { ::csv::QuoteStyle::Always } else { ::csv::QuoteStyle::Necessary })
        .double_quote(true)
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(64));
    // In memory, records of any length: nothing can fail.
    writer.write_record(cells).expect("a record written to memory");
    let bytes = writer.into_inner().expect("a record written to memory");
    let mut line = String::from_utf8(bytes).expect("UTF-8 fields and ASCII punctuation");
    line.pop(); // the '\n' terminator, for `eol`
    line.push_str(eol);
    line
}

/// A table in a CSV file: the mapping table, or the catalog table beside it.
#[derive(Debug, Clone)]
pub(crate) struct CsvStore {
    pub path: PathBuf,
    /// The header row of a new file.
    pub header: &'static [&'static str],
    /// For messages: `mapping.csv.path`, `mapping.csv.catalogs_path`.
    pub setting: &'static str,
}

/// What an append writes: the header first (for a file emptied by hand), then the rows laid out
/// in the file's column order.
pub(crate) struct Lines {
    pub header: Option<Vec<String>>,
    pub rows: Vec<Vec<String>>,
}

fn io_error_of(path: &Path, setting: &str, doing: &str, e: std::io::Error) -> MappingError {
    let place = path.display();
    match e.kind() {
        ErrorKind::PermissionDenied => MappingError::Unusable(format!(
            "{doing} {place}: permission denied: make the file and its folder readable and writable by \
             the bridge's user, or change {setting}"
        )),
        ErrorKind::NotFound => MappingError::Unusable(format!(
            "{doing} {place}: the folder does not exist: create it, or change {setting}"
        )),
        ErrorKind::IsADirectory => {
            MappingError::Unusable(format!("{doing} {place}: it is a folder: set {setting} to a file in it"))
        }
        _ => MappingError::Unavailable(format!("{doing} {place}: {e}")),
    }
}

fn not_utf8(path: &Path, e: std::string::FromUtf8Error) -> MappingError {
    MappingError::Unusable(format!(
        "{} is not UTF-8 text (byte {}): save it as \"CSV UTF-8\"",
        path.display(),
        e.utf8_error().valid_up_to()
    ))
}

impl CsvStore {
    pub fn describe(&self) -> String {
        format!("csv {}", self.path.display())
    }

    /// Creates the file with its header row unless it exists. The file appears whole or not at
    /// all (written beside it, then hard-linked into place), so a concurrent appender never sees
    /// it without its header.
    fn create_if_missing(&self) -> Result<(), MappingError> {
        if self.path.exists() {
            return Ok(());
        }
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = dir.join(format!(".{name}.{}.new", unique()));
        let cells: Vec<String> = self.header.iter().map(|c| c.to_string()).collect();
        let header = format_record(&cells, "\n");
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
            file.write_all(header.as_bytes())?;
            file.sync_all()?;
            match std::fs::hard_link(&temp, &self.path) {
                Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        })();
        let _ = std::fs::remove_file(&temp);
        written.map_err(|e| self.io_error("cannot create", e))?;
        tracing::info!(path = %self.path.display(), "table created with its header row");
        Ok(())
    }

    fn io_error(&self, doing: &str, e: std::io::Error) -> MappingError {
        io_error_of(&self.path, self.setting, doing, e)
    }

    fn read_text(&self) -> Result<String, MappingError> {
        let bytes = std::fs::read(&self.path).map_err(|e| self.io_error("cannot read", e))?;
        String::from_utf8(bytes).map_err(|e| not_utf8(&self.path, e))
    }

    /// Every record with its row number (creating the file when missing).
    pub fn read_blocking(&self) -> Result<Vec<(usize, Vec<String>)>, MappingError> {
        self.create_if_missing()?;
        Ok(parse_records(&self.read_text()?))
    }

    /// Appends mapping rows in the header's column order, as one write.
    pub fn append_blocking(&self, rows: &[MappingRow]) -> Result<(), MappingError> {
        self.append_lines_blocking(|records| {
            let (header, write_header) = match header_of(records)? {
                Some(header) => (header, false),
                None => (Header::standard(), true),
            };
            let missing = header.missing_columns();
            if !missing.is_empty() {
                tracing::warn!(path = %self.path.display(), ?missing, "the mapping table lacks columns; their values are not written");
            }
            Ok(Lines {
                header: write_header.then(|| header.cells().to_vec()),
                rows: rows.iter().map(|row| header.layout(row)).collect(),
            })
        })
    }

    /// Appends what `lines` lays out from the file's records, as one write. A file left
    /// without a final line break gets one first.
    pub fn append_lines_blocking(
        &self,
        lines: impl FnOnce(&[(usize, Vec<String>)]) -> Result<Lines, String>,
    ) -> Result<(), MappingError> {
        self.create_if_missing()?;
        let text = self.read_text()?;
        let records = parse_records(&text);
        let lines =
            lines(&records).map_err(|e| MappingError::Unusable(format!("{}: {e}", self.path.display())))?;
        let eol = if lines.header.is_none() && text.contains("\r\n") { "\r\n" } else { "\n" };
        let mut out = String::new();
        if !text.is_empty() && !text.ends_with('\n') && !text.ends_with('\r') {
            out.push_str(eol);
        }
        if let Some(header) = &lines.header {
            out.push_str(&format_record(header, eol));
        }
        for row in &lines.rows {
            out.push_str(&format_record(row, eol));
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io_error("cannot open for appending", e))?;
        let bytes = out.as_bytes();
        let written = file.write(bytes).map_err(|e| self.io_error("cannot append to", e))?;
        if written < bytes.len() {
            // Not seen on local files; finish rather than leave half a line.
            tracing::warn!(path = %self.path.display(), written, total = bytes.len(), "short write to a table");
            file.write_all(&bytes[written..]).map_err(|e| self.io_error("cannot append to", e))?;
        }
        file.sync_data().map_err(|e| self.io_error("cannot append to", e))?;
        Ok(())
    }

    /// For `sjctl verify`: the table reads and the file (or, when missing, its folder) is
    /// writable. Creates nothing.
    pub fn check_blocking(&self) -> Result<String, MappingError> {
        self.check_with_blocking(|records| {
            let table = Table::from_cells(records)?;
            Ok(format!("{} rows, {} skipped", table.rows.len(), table.problems.len()))
        })
    }

    /// [`CsvStore::check_blocking`] with the table's own reading of its records (`count` says
    /// what it found, or what is wrong with it).
    pub fn check_with_blocking(
        &self,
        count: impl FnOnce(&[(usize, Vec<String>)]) -> Result<String, String>,
    ) -> Result<String, MappingError> {
        let place = self.path.display();
        if !self.path.exists() {
            let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let probe = tempfile_in(dir).map_err(|e| self.io_error("cannot create", e))?;
            let _ = std::fs::remove_file(probe);
            return Ok(format!("{place} does not exist yet; its folder is writable, so it will be created"));
        }
        let found = count(&parse_records(&self.read_text()?))
            .map_err(|e| MappingError::Unusable(format!("{place}: {e}")))?;
        OpenOptions::new().append(true).open(&self.path).map_err(|e| self.io_error("cannot write", e))?;
        Ok(format!("{place}: {found}; writable"))
    }
}

/// Unique among this host's processes and this process's tasks.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Creates (and returns) an empty probe file in `dir`.
fn tempfile_in(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(format!(".sj-verify-probe.{}", unique()));
    OpenOptions::new().write(true).create(true).truncate(true).open(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let text = "\u{feff}a,b,c\r\n\"O'Brien, \"\"Jr\"\"\",\"two\nlines\",x\n\nlast,,";
        let records = parse_records(text);
        assert_eq!(
            records,
            vec![
                (1, strings(&["a", "b", "c"])),
                (2, strings(&["O'Brien, \"Jr\"", "two\nlines", "x"])),
                (3, strings(&[""])),
                (4, strings(&["last", "", ""])),
            ]
        );
        assert_eq!(parse_records(""), vec![]);
        assert_eq!(parse_records("a\n"), vec![(1, strings(&["a"]))]);
        // Lenient: a quote inside an unquoted field, text after a closing quote.
        assert_eq!(parse_records("ab\"c,\"d\"e"), vec![(1, strings(&["ab\"c", "de"]))]);
    }

    #[test]
    fn written_records_read_back_unchanged() {
        let nasty = strings(&["plain", "a,b", "say \"hi\"", "line\r\nbreak", " padded ", "", "é|ü"]);
        let text = format_record(&nasty, "\r\n") + &format_record(&strings(&["x"]), "\r\n");
        assert_eq!(parse_records(&text), vec![(1, nasty.clone()), (2, strings(&["x"]))]);
        assert_eq!(format_record(&strings(&["a", "b c"]), "\n"), "a,b c\n");
        // Padded: the record's fields are quoted, so no trimming program loses the spaces.
        assert_eq!(format_record(&strings(&["a", " b"]), "\r\n"), "\"a\",\" b\"\r\n");
    }

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_program_shows_them() {
        // A quoted field over three lines is one row; the blank lines after it are rows, and so
        // is the one after the last row (its own line break ends the row before it).
        for eol in ["\n", "\r\n", "\r"] {
            let text =
                ["h1,h2", "\"one", "two", "three\",x", "", "", "after,y", "", "last", "", ""].join(eol);
            let records = parse_records(&text);
            let multi = ["one", "two", "three"].join(eol);
            assert_eq!(
                records,
                vec![
                    (1, strings(&["h1", "h2"])),
                    (2, strings(&[&multi, "x"])),
                    (3, strings(&[""])),
                    (4, strings(&[""])),
                    (5, strings(&["after", "y"])),
                    (6, strings(&[""])),
                    (7, strings(&["last"])),
                    (8, strings(&[""])),
                ],
                "{eol:?}"
            );
        }
        // Blank lines first; a file of line breaks only; a line break after the last row is none.
        assert_eq!(
            parse_records("\n\r\na\n"),
            vec![(1, strings(&[""])), (2, strings(&[""])), (3, strings(&["a"]))]
        );
        assert_eq!(
            parse_records("\r\n\n\r"),
            vec![(1, strings(&[""])), (2, strings(&[""])), (3, strings(&[""]))]
        );
        assert_eq!(parse_records("\u{feff}\na"), vec![(1, strings(&[""])), (2, strings(&["a"]))]);
        // CR then CRLF: two line breaks; an empty quoted field is a row with one empty cell.
        assert_eq!(
            parse_records("a\r\r\nb"),
            vec![(1, strings(&["a"])), (2, strings(&[""])), (3, strings(&["b"]))]
        );
        assert_eq!(parse_records("\"\"\n\"\""), vec![(1, strings(&[""])), (2, strings(&[""]))]);
        // An unclosed quote runs to the end, line breaks and all.
        assert_eq!(parse_records("a\n\"b\n\nc"), vec![(1, strings(&["a"])), (2, strings(&["b\n\nc"]))]);
    }

    /// The parser this store had before it read through the `csv` crate, kept as the reference
    /// of what a spreadsheet program's file means (cells and row numbers).
    fn former_parse_records(text: &str) -> Vec<(usize, Vec<String>)> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut records = Vec::new();
        let mut record: Vec<String> = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let (mut in_quotes, mut at_field_start, mut any) = (false, true, false);
        while let Some(c) = chars.next() {
            any = true;
            if in_quotes {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
                continue;
            }
            match c {
                '"' if at_field_start => (in_quotes, at_field_start) = (true, false),
                ',' => {
                    record.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                '\r' | '\n' => {
                    if c == '\r' && chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                    (at_field_start, any) = (true, false);
                }
                c => {
                    field.push(c);
                    at_field_start = false;
                }
            }
        }
        if any {
            record.push(field);
            records.push(record);
        }
        records.into_iter().enumerate().map(|(i, r)| (i + 1, r)).collect()
    }

    #[test]
    fn a_long_file_reads_as_the_former_parser_across_the_readers_buffer() {
        // Line breaks, blank lines and quoted line breaks at every offset of the csv crate's
        // 8 KiB buffer.
        let eols = ["\r\n", "\n", "\r"];
        let mut text = String::from("\u{feff}saberis_key,jobber_client_id,note");
        for i in 0..3000 {
            let eol = eols[i % 3];
            text.push_str(eol);
            match i % 7 {
                0 => {}
                1 => text.push_str(&format!("\"name:{i}{eol}x\",Z2lk{i},\"say \"\"hi\"\"\"")),
                _ => text.push_str(&format!("name:customer {i},Z2lk{i},{}", "n".repeat(i % 13))),
            }
        }
        let records = parse_records(&text);
        assert_eq!(records.len(), 3001);
        assert_eq!(records, former_parse_records(&text));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any text, however broken, reads as the former parser read it: same cells, same rows.
        #[test]
        fn reads_as_the_former_parser(text in "\u{feff}?[a\",\r\n é]{0,40}") {
            proptest::prop_assert_eq!(parse_records(&text), former_parse_records(&text));
        }

        /// Whatever is written reads back unchanged, in a file of several lines.
        #[test]
        fn written_rows_read_back(
            rows in proptest::collection::vec(proptest::collection::vec("[a\",\r\n é]{0,6}", 1..4), 1..5),
            crlf: bool,
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let text: String = rows.iter().map(|row| format_record(row, eol)).collect();
            let expected: Vec<(usize, Vec<String>)> =
                rows.iter().cloned().enumerate().map(|(i, r)| (i + 1, r)).collect();
            proptest::prop_assert_eq!(parse_records(&text), expected);
        }
    }
}
