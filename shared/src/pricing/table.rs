//! The catalog table as cells: its header, its rows (each read into a price rule, or reported
//! naming its row and cell), and the rule that prices a catalog.
//!
//! Pure functions: the stores (CSV file, Google Sheet tab) hand their cells here.
//!
//! | catalog | brand | multiplier | margin | markup | updated_by | updated_at |
//! |---|---|---|---|---|---|---|
//! | `KWP_*` | Kitchen Craft | 0.42 | 35% | | maria | 2026-12-01 |
//! | `FWA0724B` | Fabuwood | | | 30 | maria | 2026-12-01 |
//! | `Shaker` | | | | | auto | 2026-12-08T09:12:44Z |
//!
//! A row prices its catalog with `multiplier` and `margin` (unit cost = list × multiplier, unit
//! price = cost ÷ (1 − margin)) or with `markup` (percent on `pricing.price_field`); a row with
//! neither is not priced yet (the bridge appends such rows for catalogs it meets).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog_name::{best_match, catalog_key, key_problem};

/// The columns the bridge knows, in the order it writes a new table's header.
pub const CATALOG_COLUMNS: [&str; 7] =
    ["catalog", "brand", "multiplier", "margin", "markup", "updated_by", "updated_at"];

const CATALOG: usize = 0;
const BRAND: usize = 1;
const MULTIPLIER: usize = 2;
const MARGIN: usize = 3;
const MARKUP: usize = 4;
const UPDATED_BY: usize = 5;
const UPDATED_AT: usize = 6;

/// One row as written (numbers as text, so that the table shows what a person typed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRow {
    /// The row a person sees (1 is the header); 0 for a row not read from a store.
    #[serde(default)]
    pub row_number: usize,
    pub catalog: String,
    pub brand: String,
    pub multiplier: String,
    pub margin: String,
    pub markup: String,
    pub updated_by: String,
    pub updated_at: String,
}

/// How a catalog's lines are priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum CatalogRule {
    /// unit cost = list × multiplier; unit price = cost ÷ (1 − margin); margin a fraction.
    MultiplierMargin { multiplier: Decimal, margin: Decimal },
    /// unit price = `pricing.price_field` × (1 + markup / 100).
    Markup { markup: Decimal },
}

/// A number cell: `0.35`, `35%` (a percent, as a fraction when `percent_as_fraction`), with
/// spaces and a thousands separator tolerated. `Ok(None)` for a blank cell.
fn number(cell: &str, percent_as_fraction: bool) -> Result<Option<Decimal>, String> {
    let text = cell.trim().replace([',', ' '], "");
    if text.is_empty() {
        return Ok(None);
    }
    let (digits, percent) = match text.strip_suffix('%') {
        Some(d) => (d.trim(), true),
        None => (text.as_str(), false),
    };
    let value: Decimal = digits.parse().map_err(|_| format!("{:?} is not a number", cell.trim()))?;
    Ok(Some(if percent && percent_as_fraction { value / Decimal::ONE_HUNDRED } else { value }))
}

impl CatalogRow {
    /// The row's rule: `Ok(None)` when its numbers are all blank (not priced yet); `Err` naming
    /// the cell when it cannot price anything.
    pub fn rule(&self) -> Result<Option<CatalogRule>, String> {
        let multiplier = number(&self.multiplier, true).map_err(|e| format!("multiplier: {e}"))?;
        let margin = number(&self.margin, true).map_err(|e| format!("margin: {e}"))?;
        let markup = number(&self.markup, false).map_err(|e| format!("markup: {e}"))?;
        match (multiplier, margin, markup) {
            (None, None, None) => Ok(None),
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                Err("markup: fill either multiplier and margin, or markup, not both (which price is meant?)"
                    .to_owned())
            }
            (None, None, Some(markup)) if markup <= -Decimal::ONE_HUNDRED => {
                Err(format!("markup: {markup} % would make prices zero or negative"))
            }
            (None, None, Some(markup)) => Ok(Some(CatalogRule::Markup { markup })),
            (Some(_), None, None) => {
                Err("margin: blank; a multiplier needs a margin (as 0.35 or 35%)".to_owned())
            }
            (None, Some(_), None) => Err(
                "multiplier: blank; a margin needs a multiplier (the dealer's cost per list dollar, as 0.42)"
                    .to_owned(),
            ),
            (Some(multiplier), Some(_), None) if multiplier <= Decimal::ZERO => {
                Err(format!("multiplier: {multiplier} must be above zero"))
            }
            (Some(_), Some(margin), None) if margin >= Decimal::ONE => Err(format!(
                "margin: {} is 100 % or more; write it as a fraction (0.35) or a percent (35%)",
                self.margin.trim()
            )),
            (Some(multiplier), Some(margin), None) => {
                Ok(Some(CatalogRule::MultiplierMargin { multiplier, margin }))
            }
        }
    }
}

/// `Catalog`, ` Updated By ` → `catalog`, `updated_by`.
fn column_name(cell: &str) -> String {
    cell.trim().trim_start_matches('\u{feff}').trim().to_lowercase().replace([' ', '-'], "_")
}

/// Where each known column is in a store's header row (staff may reorder columns and add their
/// own; those are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogHeader {
    positions: [Option<usize>; 7],
    cells: Vec<String>,
}

impl CatalogHeader {
    pub fn standard() -> CatalogHeader {
        CatalogHeader {
            positions: std::array::from_fn(Some),
            cells: CATALOG_COLUMNS.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// The header of a store's first row: `Err` when it has no `catalog` column.
    pub fn parse(cells: &[String]) -> Result<CatalogHeader, String> {
        let names: Vec<String> = cells.iter().map(|c| column_name(c)).collect();
        let positions = std::array::from_fn(|i| names.iter().position(|n| n == CATALOG_COLUMNS[i]));
        if positions[CATALOG].is_none() {
            return Err(format!(
                "the first row has no `catalog` column (found {:?}); the columns are {}",
                cells,
                CATALOG_COLUMNS.join(", ")
            ));
        }
        Ok(CatalogHeader { positions, cells: cells.to_vec() })
    }

    pub fn cells(&self) -> &[String] {
        &self.cells
    }

    pub fn width(&self) -> usize {
        self.cells.len().max(CATALOG_COLUMNS.len())
    }

    /// The known columns the header lacks (their values are not written).
    pub fn missing_columns(&self) -> Vec<&'static str> {
        (0..CATALOG_COLUMNS.len())
            .filter(|i| self.positions[*i].is_none())
            .map(|i| CATALOG_COLUMNS[i])
            .collect()
    }

    /// A row's cells in this header's column order.
    pub fn layout(&self, row: &CatalogRow) -> Vec<String> {
        let width = self.positions.iter().flatten().max().map_or(0, |m| m + 1);
        let mut cells = vec![String::new(); width];
        let values = [
            &row.catalog,
            &row.brand,
            &row.multiplier,
            &row.margin,
            &row.markup,
            &row.updated_by,
            &row.updated_at,
        ];
        for (i, value) in values.iter().enumerate() {
            if let Some(at) = self.positions[i] {
                cells[at] = value.to_string();
            }
        }
        cells
    }

    fn read(&self, row_number: usize, cells: &[String]) -> CatalogRow {
        let cell = |i: usize| {
            self.positions[i].and_then(|at| cells.get(at)).map(|c| c.trim().to_owned()).unwrap_or_default()
        };
        CatalogRow {
            row_number,
            catalog: cell(CATALOG),
            brand: cell(BRAND),
            multiplier: cell(MULTIPLIER),
            margin: cell(MARGIN),
            markup: cell(MARKUP),
            updated_by: cell(UPDATED_BY),
            updated_at: cell(UPDATED_AT),
        }
    }
}

/// The header of a store's rows: the first non-blank row; `Ok(None)` for an empty store.
pub fn catalog_header_of(rows: &[(usize, Vec<String>)]) -> Result<Option<CatalogHeader>, String> {
    match rows.iter().find(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty())) {
        Some((_, cells)) => CatalogHeader::parse(cells).map(Some),
        None => Ok(None),
    }
}

/// The catalog table as read: every row with a catalog (in store order), and the problems of
/// the rows that cannot price anything (`row 4: margin: "1.2" is 100 % or more; …`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogTable {
    pub rows: Vec<CatalogRow>,
    pub problems: Vec<String>,
}

/// What the table says about one catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogLookup<'t> {
    /// A usable row prices it.
    Priced { row: &'t CatalogRow, rule: CatalogRule },
    /// Rows name it, none usable: the best one, and why (blank numbers, or its problem).
    Unpriced { row: &'t CatalogRow, why: String },
    /// No row names it.
    NoRow,
}

impl CatalogTable {
    /// The table of a store's cells (`Err` when its header is unusable).
    pub fn from_cells(cells: &[(usize, Vec<String>)]) -> Result<CatalogTable, String> {
        let Some(header) = catalog_header_of(cells)? else {
            return Ok(CatalogTable::default());
        };
        let mut table = CatalogTable::default();
        let mut past_header = false;
        for (row_number, row_cells) in cells {
            if row_cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if !past_header {
                past_header = true;
                continue;
            }
            let row = header.read(*row_number, row_cells);
            if row.catalog.is_empty() {
                table.problems.push(format!("row {row_number}: catalog: empty; every row names a catalog"));
                continue;
            }
            if let Some(problem) = key_problem(&row.catalog) {
                table.problems.push(format!("row {row_number}: catalog: {:?}: {problem}", row.catalog));
                continue;
            }
            if let Err(problem) = row.rule() {
                table.problems.push(format!("row {row_number} ({}): {problem}", row.catalog));
            }
            table.rows.push(row);
        }
        Ok(table)
    }

    /// The rule for `catalog`: the best-matching usable row (exact name, name before the code,
    /// longest `PREFIX*`; among rows of one name, the last); else what keeps it unpriced.
    pub fn lookup(&self, catalog: &str) -> CatalogLookup<'_> {
        let usable: Vec<(&CatalogRow, CatalogRule)> =
            self.rows.iter().rev().filter_map(|row| Some((row, row.rule().ok().flatten()?))).collect();
        if let Some(i) = best_match(catalog, usable.iter().map(|(row, _)| row.catalog.as_str())) {
            let (row, rule) = usable[i];
            return CatalogLookup::Priced { row, rule };
        }
        let all: Vec<&CatalogRow> = self.rows.iter().rev().collect();
        match best_match(catalog, all.iter().map(|row| row.catalog.as_str())) {
            Some(i) => {
                let row = all[i];
                let why = match row.rule() {
                    Err(problem) => format!("row {} ({}): {problem}", row.row_number, row.catalog),
                    Ok(_) => format!(
                        "row {} ({}): no multiplier and margin, nor markup, yet",
                        row.row_number, row.catalog
                    ),
                };
                CatalogLookup::Unpriced { row, why }
            }
            None => CatalogLookup::NoRow,
        }
    }

    /// Whether any row (usable or not) names `catalog`.
    pub fn names(&self, catalog: &str) -> bool {
        !matches!(self.lookup(catalog), CatalogLookup::NoRow)
    }

    /// The rows whose catalog is the same key as `catalog` (for `sjctl catalogs set`).
    pub fn rows_named(&self, catalog: &str) -> impl Iterator<Item = &CatalogRow> {
        let key = catalog_key(catalog);
        self.rows.iter().filter(move |row| catalog_key(&row.catalog) == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn cells(rows: &[&[&str]]) -> Vec<(usize, Vec<String>)> {
        rows.iter().enumerate().map(|(i, r)| (i + 1, r.iter().map(|c| c.to_string()).collect())).collect()
    }

    fn row(multiplier: &str, margin: &str, markup: &str) -> CatalogRow {
        CatalogRow {
            catalog: "K".into(),
            multiplier: multiplier.into(),
            margin: margin.into(),
            markup: markup.into(),
            ..CatalogRow::default()
        }
    }

    #[test]
    fn a_row_prices_with_multiplier_and_margin_or_with_markup() {
        let mm = |m: &str, g: &str| CatalogRule::MultiplierMargin { multiplier: d(m), margin: d(g) };
        assert_eq!(row("0.42", "0.35", "").rule(), Ok(Some(mm("0.42", "0.35"))));
        assert_eq!(row("0.42", "35%", "").rule(), Ok(Some(mm("0.42", "0.35"))));
        assert_eq!(row(" 0.5 ", " 12.5 % ", "").rule(), Ok(Some(mm("0.5", "0.125"))));
        assert_eq!(row("", "", "30").rule(), Ok(Some(CatalogRule::Markup { markup: d("30") })));
        assert_eq!(row("", "", "30%").rule(), Ok(Some(CatalogRule::Markup { markup: d("30") })));
        assert_eq!(row("", "", "").rule(), Ok(None));
    }

    #[test]
    fn an_unusable_row_names_its_cell() {
        let err = |r: CatalogRow| r.rule().unwrap_err();
        assert!(err(row("0.42", "35", "")).starts_with("margin: 35 is 100 % or more"));
        assert!(err(row("0.42", "100%", "")).starts_with("margin: 100% is 100 % or more"));
        assert_eq!(err(row("0", "0.3", "")), "multiplier: 0 must be above zero");
        assert_eq!(err(row("-1", "0.3", "")), "multiplier: -1 must be above zero");
        assert_eq!(err(row("abc", "0.3", "")), "multiplier: \"abc\" is not a number");
        assert_eq!(err(row("0.4", "lots", "")), "margin: \"lots\" is not a number");
        assert!(err(row("0.4", "", "")).starts_with("margin: blank"));
        assert!(err(row("", "0.3", "")).starts_with("multiplier: blank"));
        assert!(err(row("0.4", "0.3", "10")).starts_with("markup: fill either"));
        assert!(err(row("", "", "-100")).starts_with("markup: -100 % would make"));
    }

    #[test]
    fn the_table_reads_any_column_order_and_reports_rows_by_number() {
        let table = CatalogTable::from_cells(&cells(&[
            &["Brand", "Catalog", "Margin", "Multiplier", "Notes"],
            &["Kitchen Craft", "KWP_*", "35%", "0.42", "ours"],
            &[],
            &["Fabuwood", "FWA0724B", "1.5", "0.5", ""],
            &["", "", "0.3", "0.5", ""],
            &["", "Shaker", "", "", ""],
        ]))
        .unwrap();
        assert_eq!(table.rows.len(), 3);
        assert_eq!(table.rows[0].brand, "Kitchen Craft");
        assert_eq!(table.rows[0].multiplier, "0.42");
        assert_eq!(
            table.problems,
            [
                "row 4 (FWA0724B): margin: 1.5 is 100 % or more; write it as a fraction (0.35) or a percent (35%)",
                "row 5: catalog: empty; every row names a catalog",
            ]
        );
        assert!(CatalogTable::from_cells(&cells(&[&["brand", "margin"]]))
            .unwrap_err()
            .contains("no `catalog`"));
        assert_eq!(CatalogTable::from_cells(&[]).unwrap(), CatalogTable::default());
    }

    #[test]
    fn a_usable_row_wins_over_blank_and_broken_ones_and_the_last_of_a_name_wins() {
        let table = CatalogTable::from_cells(&cells(&[
            &["catalog", "multiplier", "margin", "markup"],
            &["KWP_*", "0.42", "0.35", ""],
            &["KWP_25D1", "", "", ""],
            &["FWA0724B", "0.5", "0.3", ""],
            &["fwa0724b", "0.6", "0.3", ""],
            &["Shaker", "0.5", "2", ""],
        ]))
        .unwrap();
        match table.lookup("KWP_25D1") {
            CatalogLookup::Priced { row, .. } => {
                assert_eq!(row.catalog, "KWP_*", "the blank exact row shadows nothing")
            }
            other => panic!("{other:?}"),
        }
        match table.lookup("FWA0724B") {
            CatalogLookup::Priced { rule, .. } => {
                assert_eq!(rule, CatalogRule::MultiplierMargin { multiplier: d("0.6"), margin: d("0.3") })
            }
            other => panic!("{other:?}"),
        }
        match table.lookup("Shaker (70000)") {
            CatalogLookup::Unpriced { why, .. } => {
                assert!(why.starts_with("row 6 (Shaker): margin: 2"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(table.lookup("Decorative"), CatalogLookup::NoRow);
        assert!(table.names("kwp_25d1") && !table.names("Decorative"));
    }

    #[test]
    fn layout_follows_the_header() {
        let header = CatalogHeader::parse(&["margin".into(), "x".into(), "catalog".into()]).unwrap();
        let row =
            CatalogRow { catalog: "K".into(), margin: "35%".into(), brand: "B".into(), ..Default::default() };
        assert_eq!(header.layout(&row), ["35%", "", "K"]);
        assert_eq!(header.missing_columns(), ["brand", "multiplier", "markup", "updated_by", "updated_at"]);
        assert_eq!(CatalogHeader::standard().layout(&row), ["K", "B", "", "35%", "", "", ""]);
    }
}
