//! `sjctl catalogs list | set | refresh` run as a user runs it, on a CSV catalog table in a
//! temporary folder and a Redis namespace of the test's own.

use std::process::Output;

use serde_json::Value;

use crate::mapping::sjctl::{ok, sjctl_env, text};
use crate::mapping::{csv_line, Fixture, Kind};

const HEADER: [&str; 7] = ["catalog", "brand", "multiplier", "margin", "markup", "updated_by", "updated_at"];

/// Runs `sjctl` with the fixture's table (CSV) and namespace, as the user `tester`.
async fn sjctl(f: &Fixture, args: &[&str], env: &[(&str, &str)]) -> Output {
    sjctl_env(f, args, &[&[("USER", "tester")], env].concat()).await
}

/// The line of `list` for a row number.
fn row_line(listing: &str, row: usize) -> &str {
    listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&row.to_string()))
        .unwrap_or_else(|| panic!("no row {row} in:\n{listing}"))
}

#[tokio::test]
async fn set_list_and_refresh_on_a_csv_table() {
    let f = Fixture::new("sjctl-catalogs", Kind::Csv).await;
    let path = f.dir.path().join("catalogs.csv");

    // A new installation: the table is created beside the mapping table, with its header row.
    let out = ok(&sjctl(&f, &["catalogs", "list"], &[]).await);
    assert!(out.starts_with("no catalog rows\n0 catalog rows in use from csv "), "{out}");
    assert!(out.contains("catalogs.csv"), "{out}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), HEADER.join(",") + "\n");

    // Staff fill the table in; the workers' copy is still the empty one until a refresh.
    let rows: [&[&str]; 4] = [
        &["KWP_*", "Kitchen Craft", "0.42", "35%", "", "maria", "2026-12-01"],
        &["Shaker", "", "", "", "", "auto", "2026-12-08T09:12:44Z"],
        &["FWA0724B", "Fabuwood", "0.5", "1.5", "", "maria", "2026-12-01"],
        &["", "", "0.3", "0.5", "", "", ""],
    ];
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    for row in rows {
        std::io::Write::write_all(&mut file, csv_line(row).as_bytes()).unwrap();
    }
    drop(file);
    let out = ok(&sjctl(&f, &["catalogs", "list"], &[]).await);
    assert!(out.starts_with("no catalog rows\n"), "the copy in Redis is fresh:\n{out}");

    let out = ok(&sjctl(&f, &["catalogs", "refresh"], &[]).await);
    assert!(out.starts_with("3 catalog rows read from csv "), "{out}");
    assert!(out.contains("; 2 price nothing\n"), "{out}");
    assert!(
        out.contains("\n  row 4 (FWA0724B): margin: 1.5 is 100 % or more")
            && out.contains("\n  row 5: catalog: empty; every row names a catalog"),
        "{out}"
    );

    let out = ok(&sjctl(&f, &["catalogs", "list"], &[]).await);
    let kwp = row_line(&out, 2);
    assert!(
        kwp.contains("KWP_*") && kwp.contains("×0.42, margin 35%") && kwp.contains("Kitchen Craft"),
        "{kwp}"
    );
    assert!(kwp.contains("maria") && kwp.contains("2026-12-01"), "{kwp}");
    assert!(row_line(&out, 3).contains("not priced yet"), "{out}");
    assert!(row_line(&out, 4).contains("margin: 1.5 is 100 % or more"), "{out}");
    assert!(out.contains("3 catalog rows in use from csv ") && out.contains("; 2 price nothing\n"), "{out}");

    // A person's row: it wins over the earlier ones of its name, and the copy is read at once.
    let out = ok(&sjctl(
        &f,
        &[
            "catalogs",
            "set",
            "Shaker",
            "--brand",
            "Woodland",
            "--multiplier",
            "0.5",
            "--margin",
            "40%",
            "--by",
            "ann",
        ],
        &[],
    )
    .await);
    assert!(out.starts_with("Shaker (Woodland): ×0.5, margin 40% (by ann), appended to csv "), "{out}");
    assert!(out.contains("It wins over the earlier row of Shaker (row 3)"), "{out}");
    assert!(out.contains("Refreshed: 4 catalog rows in use"), "{out}");
    assert!(out.contains("replay them (sjctl dlq replay --all --kind pricing)"), "{out}");
    let last = std::fs::read_to_string(&path).unwrap().lines().last().unwrap().to_owned();
    assert!(last.starts_with("Shaker,Woodland,0.5,40%,,ann,20"), "{last}");

    // --markup, by $USER.
    let out = ok(&sjctl(&f, &["catalogs", "set", "fwa0724b", "--markup", "30"], &[]).await);
    assert!(out.starts_with("fwa0724b: markup 30% (by tester)"), "{out}");
    assert!(out.contains("(row 4)"), "{out}");

    let out = ok(&sjctl(&f, &["catalogs", "list", "--json"], &[]).await);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert!(
        listed["store"].as_str().unwrap().starts_with("csv ") && listed["loaded_at"].is_string(),
        "{out}"
    );
    let rows = listed["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{out}");
    let row =
        |n: u64| rows.iter().find(|r| r["row_number"] == n).unwrap_or_else(|| panic!("row {n} in {out}"));
    assert_eq!(
        row(2)["rule"],
        serde_json::json!({"kind": "multiplier-margin", "multiplier": "0.42", "margin": "0.35"})
    );
    assert_eq!(row(3)["rule"], Value::Null);
    assert_eq!(row(3)["status"], "not priced yet (row 6 of this name is used)");
    assert_eq!(row(6)["status"], "×0.5, margin 40%");
    assert_eq!((row(6)["brand"].as_str(), row(6)["updated_by"].as_str()), (Some("Woodland"), Some("ann")));
    assert_eq!(row(7)["rule"], serde_json::json!({"kind": "markup", "markup": "30"}));
    assert!(row(4)["status"].as_str().unwrap().starts_with("margin: 1.5 is 100 % or more"), "{out}");
    assert!(row(4)["status"].as_str().unwrap().ends_with("(row 7 of this name is used)"), "{out}");
    assert_eq!(listed["problems"].as_array().unwrap().len(), 2, "the broken rows are still there: {out}");

    // Refused: exit 1, the cell named, nothing written.
    let before = std::fs::read_to_string(&path).unwrap();
    let refused = [
        (
            &["catalogs", "set", "KWP_*", "--multiplier", "0.42", "--margin", "1.2"][..],
            "margin: 1.2 is 100 % or more",
        ),
        (
            &["catalogs", "set", "KWP_*", "--multiplier", "0", "--margin", "0.3"][..],
            "multiplier: 0 must be above zero",
        ),
        (&["catalogs", "set", "KWP_*", "--multiplier", "0.42"][..], "margin: blank"),
        (&["catalogs", "set", "KWP_*", "--markup", "lots"][..], "markup: \"lots\" is not a number"),
        (&["catalogs", "set", "KWP_*"][..], "give --multiplier and --margin"),
        (&["catalogs", "set", "*", "--markup", "30"][..], "matches every catalog"),
        (&["catalogs", "set", "KWP_*", "--markup", "30", "--by", "auto"][..], "the bridge's own name"),
        (&["catalogs", "set", "KWP_*", "--markup", "30", "--margin", "0.3"][..], "cannot be used with"),
    ];
    for (args, message) in refused {
        let out = sjctl(&f, args, &[]).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        assert!(text(&out.stderr).contains(message), "{args:?}: {}", text(&out.stderr));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "{args:?} wrote nothing");
    }
    f.finish().await;
}
