//! `sjctl mapping list | set | import | refresh` and the mapping check of `sjctl verify`, run
//! as processes against the real Redis, on a CSV table and on the sandbox's Google Sheet.

use std::process::Output;

use serde_json::Value;

use super::{csv_line, Fixture, Kind, HEADER, SPREADSHEET, TAB};
use crate::support::binary;

/// Runs `sjctl` configured for the fixture's table and namespace (without blocking the test's
/// runtime: the sandbox answers from it).
pub async fn sjctl(f: &Fixture, args: &[&str]) -> Output {
    sjctl_env(f, args, &[]).await
}

pub async fn sjctl_env(f: &Fixture, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(binary("sjctl", "sjctl").await);
    let sheets = &f.settings.sheets;
    cmd.env_remove("SJ_CONFIG")
        .env("SJ_NAMESPACE", &f.ns.name)
        .env("SJ_LOG__FORMAT", "json")
        .env("SJ_LOG__LEVEL", "warn")
        .env("SJ_MAPPING__STORE", if f.kind == Kind::Csv { "csv" } else { "sheets" })
        .env("SJ_MAPPING__CSV__PATH", f.csv_path())
        .env("SJ_MAPPING__SHEETS__API_URL", &sheets.api_url)
        .env("SJ_MAPPING__SHEETS__SPREADSHEET_ID", &sheets.spreadsheet_id)
        .env("SJ_MAPPING__SHEETS__TAB", &sheets.tab)
        .env("SJ_MAPPING__SHEETS__SERVICE_ACCOUNT_FILE", sheets.service_account_file.as_ref().unwrap())
        .env("SJ_ALERTS__SMTP__PORT", "1")
        .args(args)
        .envs(env.iter().copied());
    cmd.output().await.unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The output of a run that succeeded (else the test fails, showing both streams).
pub(crate) fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

#[tokio::test]
async fn set_list_import_and_refresh_on_a_csv_table() {
    let f = Fixture::new("sjctl-csv", Kind::Csv).await;

    // A new installation: the table is created with its header row.
    let out = ok(&sjctl(&f, &["mapping", "list"]).await);
    assert!(out.starts_with("no rows in use\n0 rows in use from csv "), "{out}");
    assert_eq!(std::fs::read_to_string(f.csv_path()).unwrap(), HEADER.join(",") + "\n");

    let out = ok(&sjctl(
        &f,
        &[
            "mapping",
            "set",
            "Name: Affinity Homes",
            "Z2lk-a",
            "--property",
            "P-1",
            "--name",
            "Affinity Homes, Inc.",
            "--by",
            "ann",
            "--no-check",
        ],
    )
    .await);
    assert!(out.starts_with("name:affinity homes → Z2lk-a property P-1 (by ann), appended to csv "), "{out}");
    let out =
        ok(&sjctl_env(&f, &["mapping", "set", "number:C-17", "Z2lk-17", "--no-check"], &[("USER", "carol")])
            .await);
    assert!(out.contains("(by carol)"), "{out}");

    // Usage errors: exit 1, nothing written.
    let out = sjctl(&f, &["mapping", "set", "Affinity Homes", "Z2lk-x"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not a customer key: write number:…, name:… or address:"),
        "{}",
        text(&out.stderr)
    );
    let out = sjctl(&f, &["mapping", "set", "name:x", "Z2lk-x", "--by", "auto"]).await;
    assert_eq!(out.status.code(), Some(1));

    // Import: columns in another order, one bad row, a row the bridge once wrote.
    let import = f.dir.path().join("import.csv");
    let lines = [
        csv_line(&["jobber_client_id", "saberis_key", "saberis_name", "made_by", "extra"]),
        csv_line(&["Z2lk-smith", "name:Smith Kitchens", "Smith Kitchens", "", "x"]),
        csv_line(&["Z2lk-bad", "Jones", "", "", ""]),
        csv_line(&["Z2lk-b", "number:B-2", "B, \"two\"", "auto", ""]),
        csv_line(&["Z2lk-a-2", "name:affinity homes", "", "dave", ""]),
    ];
    std::fs::write(&import, lines.concat()).unwrap();
    let before = std::fs::read_to_string(f.csv_path()).unwrap();
    let out =
        sjctl_env(&f, &["mapping", "import", import.to_str().unwrap(), "--dry-run"], &[("USER", "erin")])
            .await;
    assert_eq!(out.status.code(), Some(2), "a row was skipped");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("would append name:smith kitchens → Z2lk-smith (by erin)"), "{stdout}");
    assert!(stdout.contains("3 rows would be appended") && stdout.contains("1 skipped (dry run"), "{stdout}");
    assert!(
        text(&out.stderr).contains("skipped row 3: \"Jones\" is not a customer key"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(f.csv_path()).unwrap(), before, "a dry run writes nothing");

    let out = sjctl_env(&f, &["mapping", "import", import.to_str().unwrap()], &[("USER", "erin")]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("3 rows appended to csv "), "{}", text(&out.stdout));

    let out = ok(&sjctl(&f, &["mapping", "list", "--json"]).await);
    let listed: Value = serde_json::from_str(&out).unwrap();
    let rows = listed["rows"].as_array().unwrap();
    let by_key = |k: &str| rows.iter().find(|r| r["key"] == k).unwrap_or_else(|| panic!("{k} in {out}"));
    assert_eq!(rows.len(), 4, "{out}");
    assert_eq!(by_key("name:affinity homes")["client_id"], "Z2lk-a-2", "the later person's row");
    assert_eq!(by_key("number:B-2")["made_by"], "erin", "imported rows are a person's");
    assert_eq!(by_key("number:B-2")["saberis_name"], "B, \"two\"");
    assert_eq!(by_key("name:smith kitchens")["made_by"], "erin");
    assert!(listed["loaded_at"].is_string() && listed["problems"] == serde_json::json!([]), "{out}");

    // A person edits the file: `list` still shows the index, `refresh` reads the edit now.
    let mut file = std::fs::OpenOptions::new().append(true).open(f.csv_path()).unwrap();
    std::io::Write::write_all(
        &mut file,
        csv_line(&["number:C-17", "Z2lk-17-fixed", "", "", "", "frank"]).as_bytes(),
    )
    .unwrap();
    std::io::Write::write_all(&mut file, csv_line(&["number:C-99"]).as_bytes()).unwrap();
    let out = ok(&sjctl(&f, &["mapping", "list"]).await);
    assert!(out.contains("Z2lk-17 ") && !out.contains("Z2lk-17-fixed"), "{out}");
    let out = ok(&sjctl(&f, &["mapping", "refresh"]).await);
    assert!(out.contains("Z2lk-17-fixed"), "{out}");
    assert!(
        out.contains("4 rows in use from csv ")
            && out.contains("; 1 rows skipped\n  row 8: no jobber_client_id for number:C-99"),
        "{out}"
    );
    f.finish().await;
}

#[tokio::test]
async fn set_and_list_on_a_google_sheet_and_verify_checks_the_store() {
    let f = Fixture::new("sjctl-sheets", Kind::Sheets).await;
    ok(&sjctl(
        &f,
        &[
            "mapping",
            "set",
            "address:12 Main Street|Springfield|62704",
            "Z2lk-m",
            "--by",
            "ann",
            "--no-check",
        ],
    )
    .await);
    let cells = f.sheet_rows().await;
    assert_eq!(cells[0], HEADER);
    assert_eq!(cells[1][..2], ["address:12 main st|springfield|62704", "Z2lk-m"]);
    assert_eq!(cells[1][5], "ann");

    let out = ok(&sjctl(&f, &["mapping", "list"]).await);
    assert!(out.contains(&format!("1 rows in use from Google Sheet {SPREADSHEET} tab {TAB}")), "{out}");

    let verify = |env: Vec<(&'static str, String)>| {
        let f = &f;
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let out = sjctl_env(f, &["verify", "--json"], &env).await;
            let checks: Vec<Value> = serde_json::from_slice(&out.stdout).expect("verify --json");
            checks
                .into_iter()
                .find(|c| c["check"] == "mapping store readable and writable")
                .expect("the check")
        }
    };
    let check = verify(vec![]).await;
    assert_eq!(check["outcome"], "ok", "{check}");
    assert!(check["detail"].as_str().unwrap().contains("1 rows, 0 skipped"), "{check}");
    let check = verify(vec![("SJ_MAPPING__SHEETS__SPREADSHEET_ID", "nope".into())]).await;
    assert_eq!(check["outcome"], "failed", "{check}");
    assert!(check["detail"].as_str().unwrap().contains("spreadsheet nope not found"), "{check}");
    assert!(check["fix"].as_str().unwrap().contains("share the sheet"), "{check}");

    // The CSV store: a file that does not exist yet is fine if its folder is writable.
    let csv = f.dir.path().join("later.csv");
    let check = verify(vec![
        ("SJ_MAPPING__STORE", "csv".into()),
        ("SJ_MAPPING__CSV__PATH", csv.display().to_string()),
    ])
    .await;
    assert_eq!(check["outcome"], "ok", "{check}");
    assert!(!csv.exists(), "verify creates nothing");
    let missing = f.dir.path().join("nowhere/mapping.csv");
    let check = verify(vec![
        ("SJ_MAPPING__STORE", "csv".into()),
        ("SJ_MAPPING__CSV__PATH", missing.display().to_string()),
    ])
    .await;
    assert_eq!(check["outcome"], "failed", "{check}");
    assert!(check["fix"].as_str().unwrap().contains("mapping.csv.path"), "{check}");
    f.finish().await;
}
