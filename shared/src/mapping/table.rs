//! The table as cells: the header row, reading rows (skipping and reporting bad ones), laying a
//! row out in the header's column order, and choosing the row in use for each key.
//!
//! Pure functions: both stores hand their cells here.

use std::collections::BTreeMap;

use super::key::{address_key_of_text, AddressKey};
use super::{CustomerKey, MappingRow};
use crate::ids::{ClientId, PropertyId};

/// The columns the bridge knows, in the order it writes a new table's header.
pub const COLUMNS: [&str; 8] = [
    "saberis_key",
    "jobber_client_id",
    "jobber_property_id",
    "saberis_name",
    "saberis_address",
    "made_by",
    "made_at",
    "note",
];

const KEY: usize = 0;
const CLIENT: usize = 1;
const PROPERTY: usize = 2;
const NAME: usize = 3;
const ADDRESS: usize = 4;
const MADE_BY: usize = 5;
const MADE_AT: usize = 6;
const NOTE: usize = 7;

/// One row of the store with the row number a person sees (1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedRow {
    pub row_number: usize,
    pub row: MappingRow,
}

/// A table read from a store: its valid rows in store order, and the rows skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub rows: Vec<NumberedRow>,
    /// `row N: reason`, one per skipped row.
    pub problems: Vec<String>,
}

/// Where each known column is in a store's header row (a person may reorder the columns and add
/// their own; those are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    positions: [Option<usize>; 8],
    /// The header's cells as written (to recognize a repeated header row).
    cells: Vec<String>,
}

/// `Saberis Key`, ` saberis-key ` → `saberis_key`.
fn column_name(cell: &str) -> String {
    cell.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() })
        .collect()
}

impl Header {
    /// The header a new table gets.
    pub fn standard() -> Header {
        Header {
            positions: std::array::from_fn(Some),
            cells: COLUMNS.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// Reads row 1. `Err` is a one-line reason that says what to fix.
    pub fn parse(cells: &[String]) -> Result<Header, String> {
        let mut positions = [None; 8];
        for (i, cell) in cells.iter().enumerate() {
            let name = column_name(cell);
            if let Some(known) = COLUMNS.iter().position(|c| *c == name) {
                if positions[known].is_some() {
                    return Err(format!(
                        "row 1 names the column {} twice: keep one (columns are matched by name)",
                        COLUMNS[known]
                    ));
                }
                positions[known] = Some(i);
            }
        }
        let missing: Vec<&str> =
            [KEY, CLIENT].into_iter().filter(|c| positions[*c].is_none()).map(|c| COLUMNS[c]).collect();
        if !missing.is_empty() {
            let found: Vec<&str> = cells.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
            let found = if found.is_empty() { "nothing".to_owned() } else { found.join(", ") };
            return Err(format!(
                "row 1 must be the header row naming the columns {} (in any order); it has no {} (found: {found})",
                COLUMNS.join(", "),
                missing.join(" and "),
            ));
        }
        Ok(Header { positions, cells: cells.to_vec() })
    }

    /// Known columns the header lacks (a row appended to such a table loses those values).
    pub fn missing_columns(&self) -> Vec<&'static str> {
        (0..COLUMNS.len()).filter(|c| self.positions[*c].is_none()).map(|c| COLUMNS[c]).collect()
    }

    /// The header's cells (as written, or the standard ones).
    pub fn cells(&self) -> &[String] {
        &self.cells
    }

    /// How many columns a row laid out for this header spans.
    pub fn width(&self) -> usize {
        self.positions.iter().flatten().max().map_or(0, |m| m + 1)
    }

    /// A row's cells in this header's column order (columns the bridge does not know stay empty).
    pub fn layout(&self, row: &MappingRow) -> Vec<String> {
        let values = [
            row.key.as_str(),
            row.client_id.as_str(),
            row.property_id.as_ref().map_or("", |p| p.as_str()),
            row.saberis_name.as_str(),
            row.saberis_address.as_str(),
            row.made_by.as_str(),
            row.made_at.as_str(),
            row.note.as_str(),
        ];
        let mut cells = vec![String::new(); self.width()];
        for (column, value) in values.iter().enumerate() {
            if let Some(at) = self.positions[column] {
                cells[at] = value.to_string();
            }
        }
        cells
    }

    fn cell<'a>(&self, cells: &'a [String], column: usize) -> &'a str {
        self.positions[column].and_then(|i| cells.get(i)).map_or("", |c| c.trim())
    }

    /// One data row. `Ok(None)`: nothing in it (skipped silently), or a repeat of the header
    /// (two processes creating the table at once).
    pub fn read_row(&self, cells: &[String]) -> Result<Option<MappingRow>, String> {
        if blank(cells) {
            return Ok(None);
        }
        if column_name(self.cell(cells, KEY)) == COLUMNS[KEY]
            && column_name(self.cell(cells, CLIENT)) == COLUMNS[CLIENT]
        {
            return Ok(None);
        }
        let key = CustomerKey::parse(self.cell(cells, KEY))?;
        let client_id = self.cell(cells, CLIENT);
        if client_id.is_empty() {
            return Err(format!("no jobber_client_id for {key}"));
        }
        let property_id = Some(self.cell(cells, PROPERTY)).filter(|p| !p.is_empty()).map(PropertyId::from);
        Ok(Some(MappingRow {
            key,
            client_id: ClientId::from(client_id),
            property_id,
            saberis_name: self.cell(cells, NAME).to_owned(),
            saberis_address: self.cell(cells, ADDRESS).to_owned(),
            made_by: self.cell(cells, MADE_BY).to_owned(),
            made_at: self.cell(cells, MADE_AT).to_owned(),
            note: self.cell(cells, NOTE).to_owned(),
        }))
    }
}

fn blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// The header of a store's rows (numbered, the first being row 1): `None` when the store holds
/// nothing at all (a new table), `Err` when row 1 is not a usable header.
pub fn header_of(rows: &[(usize, Vec<String>)]) -> Result<Option<Header>, String> {
    if rows.iter().all(|(_, cells)| blank(cells)) {
        return Ok(None);
    }
    match rows.first() {
        Some((1, cells)) if !blank(cells) => Header::parse(cells).map(Some),
        _ => Err(format!("row 1 is empty: the header row ({}) must be the first row", COLUMNS.join(", "))),
    }
}

impl Table {
    /// Reads numbered rows of cells (the header first). An empty store is an empty table; a
    /// first row that is not a usable header is `Err` (a one-line reason).
    pub fn from_cells(rows: &[(usize, Vec<String>)]) -> Result<Table, String> {
        let Some(header) = header_of(rows)? else {
            return Ok(Table::default());
        };
        let mut table = Table::default();
        for (row_number, cells) in &rows[1..] {
            match header.read_row(cells) {
                Ok(Some(row)) => table.rows.push(NumberedRow { row_number: *row_number, row }),
                Ok(None) => {}
                Err(reason) => table.problems.push(format!("row {row_number}: {reason}")),
            }
        }
        Ok(table)
    }

    /// The rows in use.
    pub fn resolve(&self) -> Resolved {
        resolve(self.rows.iter().map(|r| &r.row))
    }
}

impl MappingRow {
    /// Written by the bridge (`made_by = auto`), not by a person.
    pub fn is_auto(&self) -> bool {
        self.made_by.trim().eq_ignore_ascii_case(super::AUTO)
    }

    /// The address key the address look-up finds this row by: its `saberis_address`, else the
    /// value of an `address:` key.
    pub fn address_key(&self) -> Option<AddressKey> {
        address_key_of_text(&self.saberis_address)
            .or_else(|| self.key.as_str().strip_prefix("address:").and_then(address_key_of_text))
    }
}

/// The rows in use: one per key, and one per address key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub by_key: BTreeMap<CustomerKey, MappingRow>,
    pub by_address: BTreeMap<AddressKey, MappingRow>,
}

/// Whether `new` (later in the table) takes the place of `current` for the same key: a person's
/// row wins over the bridge's; among rows of one kind the later wins.
pub fn replaces(current: &MappingRow, new: &MappingRow) -> bool {
    !new.is_auto() || current.is_auto()
}

/// Chooses the row in use for each key, then, among those, for each address key (same rule).
pub fn resolve<'a>(rows: impl IntoIterator<Item = &'a MappingRow>) -> Resolved {
    let mut winners: BTreeMap<&CustomerKey, (usize, &MappingRow)> = BTreeMap::new();
    for (i, row) in rows.into_iter().enumerate() {
        match winners.get(&row.key) {
            Some((_, current)) if !replaces(current, row) => {}
            _ => {
                winners.insert(&row.key, (i, row));
            }
        }
    }
    let mut in_order: Vec<(usize, &MappingRow)> = winners.values().copied().collect();
    in_order.sort_by_key(|(i, _)| *i);
    let mut by_address: BTreeMap<AddressKey, MappingRow> = BTreeMap::new();
    for (_, row) in &in_order {
        let Some(address) = row.address_key() else { continue };
        match by_address.get(&address) {
            Some(current) if !replaces(current, row) => {}
            _ => {
                by_address.insert(address, (*row).clone());
            }
        }
    }
    Resolved {
        by_key: winners.into_iter().map(|(k, (_, row))| (k.clone(), row.clone())).collect(),
        by_address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> AddressKey {
        address_key_of_text(text).expect("an address")
    }

    fn cells(row: &[&str]) -> Vec<String> {
        row.iter().map(|c| c.to_string()).collect()
    }

    fn numbered(rows: &[&[&str]]) -> Vec<(usize, Vec<String>)> {
        rows.iter().enumerate().map(|(i, r)| (i + 1, cells(r))).collect()
    }

    fn row(key: &str, client: &str, by: &str) -> MappingRow {
        MappingRow {
            key: CustomerKey::parse(key).unwrap(),
            client_id: client.into(),
            property_id: None,
            saberis_name: String::new(),
            saberis_address: String::new(),
            made_by: by.into(),
            made_at: String::new(),
            note: String::new(),
        }
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_extra_columns_are_ignored() {
        let table = Table::from_cells(&numbered(&[
            &["Note", "My column", "JOBBER_CLIENT_ID", "Saberis Key", "made_by", "saberis_address"],
            &[
                "call first",
                "x",
                " Z2lk ",
                "Name: Affinity Homes",
                "ann",
                "12 Main Street | Springfield | 62704",
            ],
        ]))
        .unwrap();
        assert_eq!(table.problems, Vec::<String>::new());
        let r = &table.rows[0];
        assert_eq!(r.row_number, 2);
        assert_eq!(r.row.key.as_str(), "name:affinity homes");
        assert_eq!((r.row.client_id.as_str(), r.row.note.as_str()), ("Z2lk", "call first"));
        assert_eq!(r.row.property_id, None);
        assert_eq!(r.row.made_by, "ann");
        assert_eq!(
            r.row.address_key().as_ref().map(AddressKey::as_str),
            Some("12 main st|springfield|62704")
        );
    }

    #[test]
    fn a_header_without_key_or_client_column_is_refused_with_what_to_fix() {
        let e = Table::from_cells(&numbered(&[&["customer", "client"], &["a", "b"]])).unwrap_err();
        assert!(
            e.contains("no saberis_key and jobber_client_id") && e.contains("found: customer, client"),
            "{e}"
        );
        let e =
            Table::from_cells(&numbered(&[&["saberis_key", "jobber_client_id", "Saberis_Key"]])).unwrap_err();
        assert!(e.contains("saberis_key twice"), "{e}");
        let e = Table::from_cells(&[(2, cells(&["saberis_key", "jobber_client_id"]))]).unwrap_err();
        assert!(e.starts_with("row 1 is empty"), "{e}");
        assert_eq!(Table::from_cells(&[]).unwrap(), Table::default());
    }

    #[test]
    fn bad_rows_are_reported_with_their_row_number_and_blank_rows_skipped() {
        let table = Table::from_cells(&[
            (1, cells(&["saberis_key", "jobber_client_id"])),
            (2, cells(&["Affinity Homes", "Z2lk"])),
            (3, cells(&["", ""])),
            (4, cells(&["name:Smith", ""])),
            (5, cells(&["saberis_key", "jobber_client_id"])),
            (7, cells(&["number:17", "Z2ll"])),
        ])
        .unwrap();
        assert_eq!(table.problems.len(), 2, "{:?}", table.problems);
        assert!(table.problems[0].starts_with("row 2: \"Affinity Homes\" is not a customer key"));
        assert_eq!(table.problems[1], "row 4: no jobber_client_id for name:smith");
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0].row_number, 7);
    }

    #[test]
    fn a_person_beats_the_bridge_and_the_later_row_beats_the_earlier() {
        let rows = [
            row("name:a", "auto-1", "auto"),
            row("name:a", "ann-1", "ann"),
            row("name:a", "auto-2", "Auto "),
            row("name:b", "auto-1", "auto"),
            row("name:b", "auto-2", "auto"),
            row("name:c", "ann", "ann"),
            row("name:c", "bob", "bob"),
            row("name:d", "nobody", ""),
            row("name:d", "auto", "auto"),
        ];
        let resolved = resolve(&rows);
        let client = |k: &str| resolved.by_key[&CustomerKey::parse(k).unwrap()].client_id.as_str();
        assert_eq!(client("name:a"), "ann-1");
        assert_eq!(client("name:b"), "auto-2");
        assert_eq!(client("name:c"), "bob");
        // An empty made_by is a person's row (typed by hand).
        assert_eq!(client("name:d"), "nobody");
        assert_eq!(resolved.by_key.len(), 4);
    }

    #[test]
    fn the_address_index_holds_rows_in_use_only() {
        let mut a1 = row("name:a", "auto-a", "auto");
        a1.saberis_address = "1 Oak Road | Town | 1".into();
        let mut a2 = row("name:a", "ann-a", "ann");
        a2.saberis_address = "2 Elm Rd | Town | 2".into();
        let mut b = row("name:b", "auto-b", "auto");
        b.saberis_address = "2 Elm Road|town|2".into();
        let c = row("address:9 Pine Street|Town|3", "ann-c", "ann");
        let resolved = resolve(&[a1, a2, b, c]);
        assert_eq!(resolved.by_address.get(&address("1 oak rd|town|1")), None, "overridden row not indexed");
        // a2 (a person's) beats the later b (the bridge's) for the same address.
        assert_eq!(resolved.by_address[&address("2 elm rd|town|2")].client_id, "ann-a");
        // An address key stands for the address when the address column is empty.
        assert_eq!(resolved.by_address[&address("9 pine st|town|3")].client_id, "ann-c");
    }

    #[test]
    fn layout_follows_the_header() {
        let header = Header::parse(&cells(&["note", "extra", "saberis_key", "jobber_client_id"])).unwrap();
        let mut r = row("number:7", "Z2lk", "auto");
        r.note = "n".into();
        assert_eq!(header.layout(&r), cells(&["n", "", "number:7", "Z2lk"]));
        assert_eq!(
            header.missing_columns(),
            vec!["jobber_property_id", "saberis_name", "saberis_address", "made_by", "made_at"]
        );
        assert_eq!(Header::standard().layout(&r).len(), 8);
        assert_eq!(Header::standard().cells(), COLUMNS);
    }
}
