//! What the real Jobber API does that our own picture of it missed: version warnings before a
//! version is retired, and an app without the custom field configurations scope.

use serde_json::{json, Value};

use super::worker::{set_fault, Bridge};
use crate::support::samples;

/// Runs an sjctl command of the bridge without blocking the test's runtime.
async fn sjctl(bridge: &Bridge, args: &[&str]) -> (Option<i32>, String) {
    let mut command = bridge.command("sjctl", "sjctl");
    let out = command.args(args).output().await.expect("sjctl runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[tokio::test]
async fn a_version_warning_from_jobber_is_logged_once_and_shown_by_status_and_verify() {
    let mut bridge = Bridge::start("version-warning").await;
    // Older than every version Jobber serves: Jobber upgrades the request and says so.
    bridge.env.push(("SJ_JOBBER__GRAPHQL_VERSION".into(), "2023-01-01".into()));
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("two quotes", || async { bridge.quotes().await.len() == 2 }).await;
    let warnings = bridge.worker_log(&["Jobber warns about the API version"]);
    assert_eq!(warnings.len(), 1, "once per process, whatever the number of requests: {warnings:?}");
    let line = warnings[0].to_string();
    assert!(line.contains("2023-01-01") && line.contains("retired"), "{line}");

    let (code, out) = sjctl(&bridge, &["status"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("WARNING Jobber warns about API version 2023-01-01") && out.contains("retired"),
        "{out}"
    );
    assert!(out.contains("jobber.graphql_version"), "the setting to change is named: {out}");

    let (_, out) = sjctl(&bridge, &["verify"]).await;
    let jobber = out.lines().find(|l| l.contains("Jobber (") || l.contains("Jobber:")).unwrap_or_default();
    assert!(jobber.contains("WARNING Jobber warns about API version 2023-01-01"), "{out}");
    bridge.stop().await;

    // A supported version: no warning anywhere.
    let mut bridge = Bridge::start("version-current").await;
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    assert_eq!(bridge.worker_log_lines(&["Jobber warns"]), 0);
    let (_, out) = sjctl(&bridge, &["status"]).await;
    assert!(!out.contains("WARNING"), "{out}");
    bridge.stop().await;
}

#[tokio::test]
async fn without_the_custom_field_scope_the_worker_writes_with_title_markers_and_verify_names_the_scope() {
    let mut bridge = Bridge::start("no-custom-field-scope").await;
    // Every custom field query is refused, as Jobber refuses a field outside the app's scopes.
    set_fault(
        &bridge.sandbox,
        json!({"route": "/api/graphql", "body_contains": "customFieldConfigurations",
               "graphql_error_next": 1000, "graphql_error_message": "Access denied",
               "graphql_error_code": "ACCESS_DENIED"}),
    )
    .await;
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    let quote: Value = bridge.quotes().await.remove(0);
    let title = quote["title"].as_str().unwrap_or_default();
    assert!(title.contains("[SJ-") && title.ends_with(']'), "the marker is in the title: {quote}");
    assert_eq!(bridge.worker_log_lines(&["Jobber refused the custom field query"]), 1);

    let (code, out) = sjctl(&bridge, &["verify"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Custom field configurations: read"), "the missing scope is named: {out}");
    bridge.stop().await;
}

/// Every token refresh sends the app's client secret: a worker without one would start, then
/// fail at its first refresh with every document it holds. It refuses to start, naming the key.
#[tokio::test]
async fn a_worker_without_the_client_secret_refuses_to_start() {
    let bridge = Bridge::start("no-client-secret").await;
    let mut command = bridge.command("sj-worker", "sj-worker");
    let out = command.env_remove("SJ_JOBBER__CLIENT_SECRET").arg("--check-config").output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("jobber.client_secret") && stderr.contains("SJ_JOBBER__CLIENT_SECRET"),
        "{stderr}"
    );
    // With it, the same configuration is accepted.
    let mut command = bridge.command("sj-worker", "sj-worker");
    let out = command.arg("--check-config").output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    bridge.stop().await;
}
