//! The dashboard, the alert rules (and their unit tests) and the operator's guide name only
//! metrics the processes expose, and the guide lists every one: a metric renamed in
//! `shared/src/observe/metrics.rs` fails here until `deploy/observability/` and
//! docs/operations.md follow. (`deploy/observability/check.sh` checks the PromQL itself with
//! promtool.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use regex::Regex;
use sj_shared::observe::Metrics;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The bridge's metric names in `text` (`sj_…`; the sandbox's `sj_sandbox_…` are its own).
fn names_in(text: &str) -> BTreeSet<String> {
    let name = Regex::new(r"\bsj_[a-z0-9_]*[a-z0-9]").unwrap();
    name.find_iter(text).map(|m| m.as_str().to_owned()).filter(|n| !n.starts_with("sj_sandbox")).collect()
}

/// Whether `name` is a series of one of `families` (a histogram's `_bucket`, `_sum`, `_count`).
fn exposed(name: &str, families: &[String]) -> bool {
    let stem = ["_bucket", "_sum", "_count"].iter().find_map(|suffix| name.strip_suffix(suffix));
    families.iter().any(|f| f == name || Some(f.as_str()) == stem)
}

#[test]
fn the_rules_and_the_dashboard_use_only_exposed_metrics() {
    let metrics = Metrics::example();
    let families = metrics.families();
    for file in [
        "deploy/observability/alerts.yml",
        "deploy/observability/alerts.test.yml",
        "deploy/observability/dashboard.json",
    ] {
        let text = read(file);
        let names = names_in(&text);
        assert!(!names.is_empty(), "{file} names no metric");
        let unknown: Vec<&String> = names.iter().filter(|n| !exposed(n, families)).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics no process exposes: {unknown:?}\nexposed: {families:?}"
        );
    }
}

#[test]
fn the_dashboard_is_grafana_json_with_a_query_in_every_panel() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/observability/dashboard.json")).unwrap();
    assert_eq!(dashboard["uid"], "sj-bridge");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut queried = BTreeSet::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().expect("a title");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{title}: no targets"));
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{title}: a target without expr"));
            queried.extend(names_in(expr));
        }
    }
    // Every family the bridge exposes is on the dashboard.
    let families = Metrics::example().families().to_vec();
    let missing: Vec<&String> = families
        .iter()
        .filter(|f| !queried.iter().any(|q| q == *f || q.strip_suffix("_bucket") == Some(f.as_str())))
        .collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
}

#[test]
fn the_operators_guide_lists_every_metric() {
    let guide = read("docs/operations.md");
    let listed = names_in(&guide);
    let families = Metrics::example().families().to_vec();
    let missing: Vec<&String> = families.iter().filter(|f| !listed.contains(*f)).collect();
    assert!(missing.is_empty(), "docs/operations.md does not list {missing:?}");
    let unknown: Vec<&String> = listed.iter().filter(|n| !exposed(n, &families)).collect();
    assert!(unknown.is_empty(), "docs/operations.md names metrics no process exposes: {unknown:?}");
}
