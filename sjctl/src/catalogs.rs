//! `sjctl catalogs`: the catalog table (the dealer's price rule per catalog: multiplier and
//! margin, or markup): list the rows in use, add a person's row, read the store again now.
//!
//! Rows are only ever appended: the last usable row of a catalog name wins over the earlier
//! ones, so `set` changes a catalog's price without touching what is there. Documents parked
//! for want of a price (`pricing.unpriced-catalog`) are not sent again by themselves: they are
//! replayed (`sjctl dlq replay`).

use std::io::Write;
use std::process::ExitCode;

use rust_decimal::Decimal;
use serde::Serialize;
use sj_shared::catalog_name::{catalog_key, key_problem};
use sj_shared::config::Settings;
use sj_shared::mapping::{Catalogs, CatalogsInUse};
use sj_shared::pricing::{CatalogLookup, CatalogRow, CatalogRule, CatalogTable};
use sj_shared::store::{self, Keys};

#[derive(clap::Subcommand)]
pub enum Command {
    /// The rows in use (what the workers price with, read again from the store when stale), each
    /// with its rule, and the rows that price nothing with their problem.
    List {
        /// Print JSON ({store, loaded_at, rows, problems}) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a person's row for CATALOG: --multiplier and --margin, or --markup. It wins over the
    /// earlier rows of that name.
    Set {
        /// The catalog as Saberis names it (`KWP_25D1`), the name before its code (`Shaker` for
        /// `Shaker (70000)`), or a prefix ending in `*` (`KWP_*`: every KWP catalog).
        catalog: String,
        /// The cabinet maker (for people reading the table, and the quote's catalog lines).
        #[arg(long, value_name = "BRAND")]
        brand: Option<String>,
        /// The dealer's cost per list dollar: unit cost = list × multiplier (`0.42`).
        #[arg(long, value_name = "M")]
        multiplier: Option<String>,
        /// The margin on the price: unit price = cost ÷ (1 − margin) (`0.35` or `35%`).
        #[arg(long, value_name = "G")]
        margin: Option<String>,
        /// Instead of multiplier and margin: percent on `pricing.price_field` (`30`).
        #[arg(long, value_name = "P", conflicts_with_all = ["multiplier", "margin"])]
        markup: Option<String>,
        /// Who is adding it (default: $USER, else `sjctl`); `auto` is the bridge's own name.
        #[arg(long, value_name = "PERSON")]
        by: Option<String>,
    },
    /// Read the table from its store now and replace the workers' copy; prints how many rows,
    /// and the rows that price nothing.
    Refresh {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(settings: &Settings, command: Command) -> ExitCode {
    crate::mapping::run_with("catalogs", open(settings), Catalogs::describe, async |catalogs| {
        execute(catalogs, command).await
    })
}

pub(crate) fn open(settings: &Settings) -> Result<Catalogs, String> {
    let pool = store::pool(&settings.redis).map_err(|e| e.to_string())?;
    Catalogs::new(&settings.mapping, pool, Keys::new(&settings.namespace)).map_err(|e| e.to_string())
}

async fn execute(catalogs: &Catalogs, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List { json } => {
            print_in_use(&catalogs.in_use().await?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Refresh { json } => {
            let in_use = catalogs.refresh().await?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&Listing::of(&in_use))?)?;
            } else {
                writeln!(
                    out,
                    "{} catalog rows read from {} ({}); {} price nothing",
                    in_use.table.rows.len(),
                    in_use.store,
                    in_use.loaded_at.as_deref().unwrap_or("?"),
                    in_use.table.problems.len()
                )?;
                for problem in &in_use.table.problems {
                    writeln!(out, "  {problem}")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Set { catalog, brand, multiplier, margin, markup, by } => {
            let row = match new_row(catalog, brand, multiplier, margin, markup, by) {
                Ok(row) => row,
                Err(e) => {
                    eprintln!("sjctl catalogs set: {e}");
                    return Ok(ExitCode::from(1));
                }
            };
            set(catalogs, row).await
        }
    }
}

/// A person's row from `set`'s arguments, checked exactly as the table checks its rows.
fn new_row(
    catalog: String,
    brand: Option<String>,
    multiplier: Option<String>,
    margin: Option<String>,
    markup: Option<String>,
    by: Option<String>,
) -> Result<CatalogRow, String> {
    let catalog = catalog.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(problem) = key_problem(&catalog) {
        return Err(format!("catalog: {catalog:?}: {problem}"));
    }
    let cell = |value: Option<String>| value.map(|v| v.trim().to_owned()).unwrap_or_default();
    let row = CatalogRow {
        row_number: 0,
        catalog,
        brand: cell(brand),
        multiplier: cell(multiplier),
        margin: cell(margin),
        markup: cell(markup),
        updated_by: crate::mapping::person(by)?,
        updated_at: crate::mapping::now(),
    };
    match row.rule() {
        Ok(Some(_)) => Ok(row),
        Ok(None) => Err("give --multiplier and --margin (as 0.42 and 35%), or --markup (percent, as 30): \
                         a row without numbers prices nothing"
            .to_owned()),
        Err(problem) => Err(problem),
    }
}

async fn set(catalogs: &Catalogs, row: CatalogRow) -> anyhow::Result<ExitCode> {
    let rule = row.rule().ok().flatten().expect("new_row checked the rule");
    // The rows of that name before this one (from the store, not a stale copy).
    let earlier: Vec<usize> = match catalogs.read_store().await {
        Ok(table) => table.rows_named(&row.catalog).map(|r| r.row_number).collect(),
        Err(_) => Vec::new(),
    };
    catalogs.append(std::slice::from_ref(&row)).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}{}: {} (by {}), appended to {}",
        row.catalog,
        if row.brand.is_empty() { String::new() } else { format!(" ({})", row.brand) },
        rule_text(&rule),
        row.updated_by,
        catalogs.describe()
    )?;
    match earlier.as_slice() {
        [] => writeln!(out, "It is the first row of {}.", row.catalog)?,
        rows => writeln!(
            out,
            "It wins over the earlier {} of {} (row {}): the last usable row of a name is the one used.",
            if rows.len() == 1 { "row".to_owned() } else { format!("{} rows", rows.len()) },
            row.catalog,
            rows.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        )?,
    }
    let in_use = catalogs.refresh().await?;
    writeln!(
        out,
        "Refreshed: {} catalog rows in use from {}; {} price nothing.",
        in_use.table.rows.len(),
        in_use.store,
        in_use.table.problems.len()
    )?;
    // The store's header may lack a column (a person removed it): its value was not written.
    let written = in_use.table.rows_named(&row.catalog).last().map(|r| r.rule());
    if written != Some(Ok(Some(rule))) {
        writeln!(
            out,
            "WARNING: the table does not read the new row back as {} ({}): check the table's header \
             (catalog, brand, multiplier, margin, markup, updated_by, updated_at)",
            rule_text(&rule),
            match written {
                Some(Ok(Some(read))) => rule_text(&read),
                Some(Ok(None)) => "not priced".to_owned(),
                Some(Err(problem)) => problem,
                None => "no row".to_owned(),
            }
        )?;
        return Ok(ExitCode::from(2));
    }
    writeln!(
        out,
        "Documents of {} parked for want of a price (pricing.unpriced-catalog) are not sent again by \
         themselves: replay them (sjctl dlq replay --all --kind pricing).",
        row.catalog
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `×0.42, margin 35%` or `markup 30%`.
pub(crate) fn rule_text(rule: &CatalogRule) -> String {
    match rule {
        CatalogRule::MultiplierMargin { multiplier, margin } => {
            format!("×{}, margin {}%", multiplier.normalize(), (margin * Decimal::ONE_HUNDRED).normalize())
        }
        CatalogRule::Markup { markup } => format!("markup {}%", markup.normalize()),
    }
}

/// What a row does: its rule, `not priced yet` or its problem; and when another row prices its
/// name, which.
fn row_status(table: &CatalogTable, row: &CatalogRow) -> String {
    let own = match row.rule() {
        Ok(Some(rule)) => rule_text(&rule),
        Ok(None) => "not priced yet".to_owned(),
        Err(problem) => problem,
    };
    match table.lookup(&row.catalog) {
        CatalogLookup::Priced { row: used, .. } if used.row_number != row.row_number => {
            if catalog_key(&used.catalog) == catalog_key(&row.catalog) {
                format!("{own} (row {} of this name is used)", used.row_number)
            } else {
                format!("{own} (priced by row {}, {})", used.row_number, used.catalog)
            }
        }
        _ => own,
    }
}

/// `list --json` and `refresh --json`.
#[derive(Serialize)]
struct Listing<'a> {
    store: &'a str,
    loaded_at: Option<&'a str>,
    rows: Vec<ListedRow<'a>>,
    problems: &'a [String],
}

#[derive(Serialize)]
struct ListedRow<'a> {
    #[serde(flatten)]
    row: &'a CatalogRow,
    /// The row's rule, `null` when it prices nothing.
    rule: Option<CatalogRule>,
    /// As `list` prints it.
    status: String,
}

impl<'a> Listing<'a> {
    fn of(in_use: &'a CatalogsInUse) -> Listing<'a> {
        Listing {
            store: &in_use.store,
            loaded_at: in_use.loaded_at.as_deref(),
            rows: in_use
                .table
                .rows
                .iter()
                .map(|row| ListedRow {
                    row,
                    rule: row.rule().ok().flatten(),
                    status: row_status(&in_use.table, row),
                })
                .collect(),
            problems: &in_use.table.problems,
        }
    }
}

fn print_in_use(in_use: &CatalogsInUse, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&Listing::of(in_use))?)?;
        return Ok(());
    }
    let table = &in_use.table;
    let dash = |s: &str| if s.is_empty() { "-".to_owned() } else { s.to_owned() };
    if table.rows.is_empty() {
        writeln!(out, "no catalog rows")?;
    } else {
        writeln!(
            out,
            "{:>4}  {:<24}  {:<16}  {:<12}  {:<20}  RULE",
            "ROW", "CATALOG", "BRAND", "BY", "UPDATED"
        )?;
        for row in &table.rows {
            writeln!(
                out,
                "{:>4}  {:<24}  {:<16}  {:<12}  {:<20}  {}",
                row.row_number,
                row.catalog,
                dash(&row.brand),
                dash(&row.updated_by),
                dash(&row.updated_at),
                row_status(table, row)
            )?;
        }
    }
    writeln!(
        out,
        "{} catalog rows in use from {} (read {}); {} price nothing",
        table.rows.len(),
        in_use.store,
        in_use.loaded_at.as_deref().unwrap_or("?"),
        table.problems.len()
    )?;
    for problem in &table.problems {
        writeln!(out, "  {problem}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rules_read_as_the_dealer_writes_them() {
        let mm = CatalogRule::MultiplierMargin { multiplier: d("0.420"), margin: d("0.35") };
        assert_eq!(rule_text(&mm), "×0.42, margin 35%");
        let mm = CatalogRule::MultiplierMargin { multiplier: d("0.5"), margin: d("0.125") };
        assert_eq!(rule_text(&mm), "×0.5, margin 12.5%");
        assert_eq!(rule_text(&CatalogRule::Markup { markup: d("30") }), "markup 30%");
    }

    #[test]
    fn a_row_is_checked_as_the_table_checks_it() {
        let set = |multiplier: Option<&str>, margin: Option<&str>, markup: Option<&str>| {
            new_row(
                " KWP_* ".into(),
                Some("Kitchen Craft".into()),
                multiplier.map(Into::into),
                margin.map(Into::into),
                markup.map(Into::into),
                Some("maria".into()),
            )
        };
        let row = set(Some("0.42"), Some("35%"), None).unwrap();
        assert_eq!(
            (row.catalog.as_str(), row.margin.as_str(), row.updated_by.as_str()),
            ("KWP_*", "35%", "maria")
        );
        assert!(set(Some("0.42"), Some("1.2"), None)
            .unwrap_err()
            .starts_with("margin: 1.2 is 100 % or more"));
        assert!(set(Some("0.42"), None, None).unwrap_err().starts_with("margin: blank"));
        assert!(set(None, None, None).unwrap_err().starts_with("give --multiplier and --margin"));
        assert_eq!(set(None, None, Some("30")).unwrap().markup, "30");
        let star = new_row("*".into(), None, None, None, Some("30".into()), Some("m".into()));
        assert!(star.unwrap_err().starts_with("catalog: \"*\": matches every catalog"));
        let auto = new_row("K".into(), None, None, None, Some("30".into()), Some("auto".into()));
        assert!(auto.unwrap_err().contains("the bridge's own name"));
    }
}
