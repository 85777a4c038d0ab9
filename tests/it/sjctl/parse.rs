//! `sjctl parse FILE...`.

use std::process::{Command, Output};

use crate::support::{binary_blocking, real_fixtures, samples};

fn sjctl(args: &[&str]) -> Output {
    Command::new(binary_blocking("sjctl", "sjctl"))
        .args(args)
        .current_dir(samples())
        .env_remove("SJ_CONFIG")
        .output()
        .expect("run sjctl")
}

fn stdout_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect()
}

#[test]
fn one_json_message_per_line_and_exit_0() {
    let out = sjctl(&["parse", "saberis/kitchen-harbour-lane.xml", "saberis/bath-gatineau.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let messages = stdout_lines(&out);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["schema"], "sj.quote-request.v1");
    assert_eq!(messages[0]["source"]["id"], "saberis/kitchen-harbour-lane.xml");
    assert_eq!(messages[0]["totals"]["selling"], "2911.85");
    assert_eq!(messages[1]["customer"]["name"], serde_json::Value::Null);
    assert!(out.stderr.is_empty());
}

#[test]
fn bad_files_get_one_line_each_on_stderr_and_exit_2() {
    let out = sjctl(&[
        "parse",
        "bad/price-slip.xml",
        "saberis/vanity-single-item.json",
        "bad/quantity-not-a-number.json",
        "no-such-file.xml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout_lines(&out).len(), 1, "the good file is still printed");
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with("bad/price-slip.xml: sanity.price-above-limit: unit price 1612400.00"),
        "{stderr}"
    );
    assert!(lines[0].ends_with("at LineID 5 (B24, catalog HLX_26A1)"), "{stderr}");
    assert_eq!(
        lines[1],
        "bad/quantity-not-a-number.json: parse.invalid-value: Quantity must be a decimal number, found \"one\" \
         at /SaberisOrderDocument/Order/Group/Item/4/Quantity"
    );
    assert!(lines[2].starts_with("no-such-file.xml: parse.unreadable: cannot be read"), "{stderr}");
}

#[test]
fn skip_sanity_shows_a_document_that_only_broke_a_rule() {
    let out = sjctl(&["parse", "--skip-sanity", "bad/price-slip.xml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_lines(&out)[0]["sections"][0]["lines"][0]["unit_selling"], "1612400.00");
    // It does not hide parse errors.
    let out = sjctl(&["parse", "--skip-sanity", "bad/truncated.xml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn format_can_be_forced_and_pretty_printed() {
    let out = sjctl(&["parse", "--format", "json", "saberis/kitchen-harbour-lane.xml"]);
    assert_eq!(out.status.code(), Some(2), "XML read as JSON must fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("parse.malformed-json"));

    let out = sjctl(&["parse", "--pretty", "--format", "xml", "saberis/kitchen-harbour-lane.xml"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("{\n  \"schema\""), "{text}");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["sections"][1]["catalog"], "HLX_HW26");
}

#[test]
fn summary_prints_one_line_per_document_for_a_person() {
    let out = sjctl(&["parse", "--summary", "saberis/vanity-single-item.json", "saberis/bath-gatineau.json"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("saberis/vanity-single-item.json: Dana Whitcombe · 1 line in 1 section · selling total 1299.00 · sha256:"), "{stdout}");
    assert!(
        lines[1].starts_with("saberis/bath-gatineau.json: (no name) 7 Chemin du Lac · 3 lines in 1 section"),
        "{stdout}"
    );
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    assert_eq!(sjctl(&["parse"]).status.code(), Some(1));
    assert_eq!(sjctl(&["parse", "--format", "yaml", "x"]).status.code(), Some(1));
    assert_eq!(sjctl(&["frobnicate"]).status.code(), Some(1));
    let help = sjctl(&["parse", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--skip-sanity"));
}

#[test]
fn config_errors_exit_1_naming_the_key() {
    let out = Command::new(binary_blocking("sjctl", "sjctl"))
        .args(["parse", "saberis/kitchen-harbour-lane.xml"])
        .current_dir(samples())
        .env("SJ_SANITY__MAX_UNIT_PRICE", "-5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sanity.max_unit_price"));

    // A lower limit from the environment turns a sane order into a refused one.
    let out = Command::new(binary_blocking("sjctl", "sjctl"))
        .args(["parse", "saberis/kitchen-harbour-lane.xml"])
        .current_dir(samples())
        .env("SJ_SANITY__MAX_UNIT_PRICE", "500")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("above the limit of 500"));
}

#[test]
fn the_real_fixtures_parse_and_the_slips_are_reported() {
    let Some(dir) = real_fixtures("the_real_fixtures_parse_and_the_slips_are_reported") else { return };
    let files: Vec<String> = std::fs::read_dir(dir.join("xml"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["parse"];
    args.extend(files.iter().map(String::as_str));
    let out = sjctl(&args);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 3, "exactly the three slips: {stderr}");
    assert!(stderr.lines().all(|l| l.contains(": sanity.price-above-limit: ")), "{stderr}");
    assert_eq!(stdout_lines(&out).len(), files.len() - 3);
}
