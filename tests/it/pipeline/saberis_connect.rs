//! `sj-poller --once` with the SaberisConnect source, against the in-process sandbox over HTTP,
//! the real RabbitMQ and Redis: what is published, remembered, renewed, retried and rejected.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use sj_sandbox::config::ClockConfig;
use sj_sandbox::{Config, Sandbox};
use sj_shared::amqp::headers;
use sj_shared::message::{QuoteRequest, SourceKind};

use super::Namespace;
use crate::support::{binary, samples};

const KITCHEN: &str = "11111111-1111-4111-8111-111111111111";
const BATH: &str = "22222222-2222-4222-8222-222222222222";
const VANITY: &str = "33333333-3333-4333-8333-333333333333";
const REEXPORT: &str = "44444444-4444-4444-8444-444444444444";
const BAD: &str = "55555555-5555-4555-8555-555555555555";

/// The sandbox on a frozen clock: sessions expire only when a test advances it.
async fn sandbox() -> Sandbox {
    let config = Config { clock: ClockConfig { frozen: true }, ..Config::default() };
    sj_sandbox::spawn(config).await.expect("sandbox starts")
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(samples().join(name)).unwrap()
}

/// Makes a document available in SaberisConnect under `guid`.
async fn add_document(sandbox: &Sandbox, guid: &str, json: &str) {
    let r = reqwest::Client::new()
        .post(sandbox.url("/_admin/saberis/documents"))
        .query(&[("guid", guid)])
        .header("content-type", "application/json")
        .body(json.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn admin(sandbox: &Sandbox, path: &str) -> Value {
    reqwest::Client::new().get(sandbox.url(path)).send().await.unwrap().json().await.unwrap()
}

async fn set_fault(sandbox: &Sandbox, spec: Value) {
    let r = reqwest::Client::new().post(sandbox.url("/_admin/faults")).json(&spec).send().await.unwrap();
    assert!(r.status().is_success(), "fault refused: {}", r.status());
}

/// How many times SaberisConnect served each document.
async fn fetch_counts(sandbox: &Sandbox) -> Vec<(String, u64)> {
    let docs = admin(sandbox, "/_admin/saberis/documents").await;
    docs.as_array()
        .unwrap()
        .iter()
        .map(|d| (d["guid"].as_str().unwrap().to_owned(), d["fetch_count"].as_u64().unwrap()))
        .collect()
}

/// Requests SaberisConnect received on `route`.
async fn requests(sandbox: &Sandbox, route: &str) -> u64 {
    admin(sandbox, "/_admin/counters").await["requests"][route].as_u64().unwrap_or(0)
}

/// Runs the real `sj-poller --once` with only the SaberisConnect source (the folder source off).
/// Async, so the in-process sandbox keeps serving while the poller runs.
async fn poll_once(ns: &Namespace, sandbox: &Sandbox, rejected: &Path, extra: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(binary("sj-poller", "sj-poller").await);
    command
        .arg("--once")
        .env_remove("SJ_CONFIG")
        .env("SJ_NAMESPACE", &ns.name)
        .env("SJ_LOG__FORMAT", "json")
        .env("SJ_POLLER__FOLDER__ENABLED", "false")
        .env("SJ_POLLER__FOLDER__REJECTED", rejected)
        .env("SJ_POLLER__SABERIS_CONNECT__ENABLED", "true")
        .env("SJ_POLLER__SABERIS_CONNECT__BASE_URL", sandbox.url("/saberis"))
        .env("SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN", "sandbox-saberis-auth-token")
        .env("SJ_POLLER__SABERIS_CONNECT__REQUEST_TIMEOUT", "5s")
        // The documents are listed before the first poll: take them all (first_poll.rs tests
        // the default).
        .env("SJ_POLLER__SABERIS_CONNECT__START_FROM", "everything");
    for (key, value) in extra {
        command.env(key, value);
    }
    command.output().await.expect("run sj-poller")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn summary(listed: u32, new: u32, published: u32, duplicates: u32, rejected: u32, left: u32) -> String {
    format!(
        "sj-poller: SaberisConnect: {listed} listed, {new} new, {published} published, \
         {duplicates} already published, {rejected} rejected, {left} left for the next poll"
    )
}

/// The GUIDs (`sj-source`) of the quote messages now queued, checked message by message.
async fn published_guids(ns: &Namespace) -> Vec<String> {
    let mut guids = Vec::new();
    for message in ns.drain(&ns.topology.quotes_queue()).await {
        let request = QuoteRequest::from_json(&message.delivery.data).unwrap();
        let props = &message.delivery.properties;
        assert_eq!(request.source.kind, SourceKind::SaberisConnect);
        assert_eq!(props.message_id().as_ref().map(|s| s.as_str()), Some(request.content_hash.as_str()));
        assert_eq!(props.delivery_mode(), &Some(2), "persistent");
        let source = headers::text(props.headers(), "sj-source").expect("sj-source header");
        assert_eq!(source, request.source.id);
        guids.push(source);
    }
    guids.sort();
    guids
}

#[tokio::test]
async fn each_document_is_published_once_and_taken_guids_are_remembered() {
    let ns = Namespace::new("sc-publish").await;
    let sandbox = sandbox().await;
    let rejected = tempfile::tempdir().unwrap();
    add_document(&sandbox, KITCHEN, &sample("saberis/kitchen-harbour-lane.json")).await;
    add_document(&sandbox, BATH, &sample("saberis/bath-gatineau.json")).await;
    add_document(&sandbox, VANITY, &sample("saberis/vanity-single-item.json")).await;

    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(3, 3, 3, 0, 0, 0));
    assert_eq!(published_guids(&ns).await, [KITCHEN, BATH, VANITY]);

    // The API still lists all three: a second run takes nothing and fetches nothing.
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(3, 0, 0, 0, 0, 0));
    assert!(published_guids(&ns).await.is_empty());
    assert!(fetch_counts(&sandbox).await.iter().all(|(_, n)| *n == 1), "{:?}", fetch_counts(&sandbox).await);
    // The session of the first run was reused (cached in Redis), not a new one per run.
    assert_eq!(requests(&sandbox, "/saberis/api/v1/token").await, 1);

    // A re-export of the kitchen under a new GUID: taken, not published a second time.
    add_document(&sandbox, REEXPORT, &sample("saberis/kitchen-harbour-lane.json")).await;
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(4, 1, 0, 1, 0, 0));
    assert!(published_guids(&ns).await.is_empty());
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(stdout(&out), summary(4, 0, 0, 0, 0, 0));
    assert!(std::fs::read_dir(rejected.path()).unwrap().next().is_none(), "nothing rejected");

    sandbox.shutdown().await;
    ns.remove().await;
}

#[tokio::test]
async fn an_expired_session_is_renewed_and_the_request_retried() {
    let ns = Namespace::new("sc-session").await;
    let sandbox = sandbox().await;
    let rejected = tempfile::tempdir().unwrap();
    add_document(&sandbox, KITCHEN, &sample("saberis/kitchen-harbour-lane.json")).await;
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(stdout(&out), summary(1, 1, 1, 0, 0, 0), "{}", stderr(&out));
    assert_eq!(requests(&sandbox, "/saberis/api/v1/token").await, 1);

    // The session (cached in Redis) expires; a new document arrives.
    sandbox.advance_clock(Duration::from_secs(3601));
    add_document(&sandbox, BATH, &sample("saberis/bath-gatineau.json")).await;
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(2, 1, 1, 0, 0, 0));
    assert!(stderr(&out).contains("refused the session token"), "{}", stderr(&out));
    // Refused once with the old session (401), one new session, the list asked again.
    assert_eq!(requests(&sandbox, "/saberis/api/v1/token").await, 2);
    assert_eq!(requests(&sandbox, "/saberis/api/v1/export").await, 3);
    assert_eq!(admin(&sandbox, "/_admin/saberis/sessions").await.as_object().unwrap().len(), 2);
    assert_eq!(published_guids(&ns).await, [KITCHEN, BATH]);

    // A wrong long-lived token: the run says so, without printing it, and takes nothing.
    add_document(&sandbox, VANITY, &sample("saberis/vanity-single-item.json")).await;
    let out = poll_once(
        &ns,
        &sandbox,
        rejected.path(),
        &[("SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN", "wrong-token")],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("SaberisConnect refused the auth token"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-token"), "the auth token must not be printed: {}", stderr(&out));
    assert!(published_guids(&ns).await.is_empty());

    sandbox.shutdown().await;
    ns.remove().await;
}

#[tokio::test]
async fn server_errors_and_timeouts_leave_documents_for_the_next_run() {
    let ns = Namespace::new("sc-faults").await;
    let sandbox = sandbox().await;
    let rejected = tempfile::tempdir().unwrap();
    add_document(&sandbox, KITCHEN, &sample("saberis/kitchen-harbour-lane.json")).await;
    add_document(&sandbox, BATH, &sample("saberis/bath-gatineau.json")).await;
    add_document(&sandbox, VANITY, &sample("saberis/vanity-single-item.json")).await;

    // The list itself fails: nothing taken, exit code 3.
    set_fault(&sandbox, json!({"route": "/saberis/api/v1/export", "fail_next": 1, "status": 500})).await;
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(0, 0, 0, 0, 0, 0));
    assert!(stderr(&out).contains("cannot list the exports: GET /export: HTTP 500"), "{}", stderr(&out));
    assert!(published_guids(&ns).await.is_empty());

    // One document answers 500, another hangs past the request timeout: the third is published,
    // the other two stay untaken.
    set_fault(
        &sandbox,
        json!({"route": "/saberis/api/v1/export/json/{guid}", "fail_next": 1, "status": 500}),
    )
    .await;
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(3, 3, 2, 0, 0, 1));
    assert!(stderr(&out).contains("HTTP 500"), "{}", stderr(&out));
    let first = published_guids(&ns).await;
    assert_eq!(first, [BATH, VANITY], "the first document fetched got the 500");

    set_fault(
        &sandbox,
        json!({"route": "/saberis/api/v1/export/json/{guid}", "timeout_next": 1, "hold_ms": 10000}),
    )
    .await;
    let out = poll_once(
        &ns,
        &sandbox,
        rejected.path(),
        &[("SJ_POLLER__SABERIS_CONNECT__REQUEST_TIMEOUT", "500ms")],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(3, 1, 0, 0, 0, 1));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert!(published_guids(&ns).await.is_empty());

    // The next run takes it: every document published exactly once over the runs.
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(stdout(&out), summary(3, 1, 1, 0, 0, 0), "{}", stderr(&out));
    assert_eq!(published_guids(&ns).await, [KITCHEN]);
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(stdout(&out), summary(3, 0, 0, 0, 0, 0), "{}", stderr(&out));

    sandbox.shutdown().await;
    ns.remove().await;
}

#[tokio::test]
async fn a_malformed_document_is_kept_dead_lettered_and_not_retried() {
    let ns = Namespace::new("sc-reject").await;
    let sandbox = sandbox().await;
    let rejected = tempfile::tempdir().unwrap();
    let bad = sample("bad/quantity-not-a-number.json");
    add_document(&sandbox, BAD, &bad).await;
    add_document(&sandbox, VANITY, &sample("saberis/vanity-single-item.json")).await;

    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(2, 2, 1, 0, 1, 0));
    assert_eq!(published_guids(&ns).await, [VANITY]);

    // The original, byte for byte, and its reason.
    let files: BTreeSet<String> = std::fs::read_dir(rejected.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, BTreeSet::from([format!("{BAD}.json"), format!("{BAD}.json.error.txt")]));
    assert_eq!(std::fs::read_to_string(rejected.path().join(format!("{BAD}.json"))).unwrap(), bad);
    let reason = std::fs::read_to_string(rejected.path().join(format!("{BAD}.json.error.txt"))).unwrap();
    assert!(
        reason.starts_with(&format!("{BAD}: parse.invalid-value: Quantity must be a decimal number")),
        "{reason}"
    );
    assert!(reason.contains("export it again from Saberis"), "{reason}");

    // Dead-lettered once: parked and alerted, naming the GUID and the reason.
    let parked = ns.drain(&ns.topology.parked_queue()).await;
    let alerts = ns.drain(&ns.topology.alerts_queue()).await;
    assert_eq!((parked.len(), alerts.len()), (1, 1));
    let props = &parked[0].delivery.properties;
    assert_eq!(headers::text(props.headers(), "sj-source").as_deref(), Some(BAD));
    assert_eq!(headers::text(props.headers(), "sj-error-kind").as_deref(), Some("parse.invalid-value"));
    let letter: Value = serde_json::from_slice(&parked[0].delivery.data).unwrap();
    assert_eq!(letter["source"]["kind"], "saberis-connect");
    assert_eq!(letter["kept_at"], rejected.path().join(format!("{BAD}.json")).display().to_string());

    // Not refused again at the next poll: not even fetched.
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(stdout(&out), summary(2, 0, 0, 0, 0, 0), "{}", stderr(&out));
    assert!(ns.drain(&ns.topology.parked_queue()).await.is_empty());
    assert_eq!(std::fs::read_dir(rejected.path()).unwrap().count(), 2);
    assert!(fetch_counts(&sandbox).await.iter().all(|(_, n)| *n == 1));

    sandbox.shutdown().await;
    ns.remove().await;
}

#[tokio::test]
async fn without_redis_nothing_is_taken_from_the_api() {
    let ns = Namespace::new("sc-noredis").await;
    let sandbox = sandbox().await;
    let rejected = tempfile::tempdir().unwrap();
    add_document(&sandbox, KITCHEN, &sample("saberis/kitchen-harbour-lane.json")).await;

    let out = poll_once(&ns, &sandbox, rejected.path(), &[("SJ_REDIS__URL", "redis://127.0.0.1:1")]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), summary(1, 0, 0, 0, 0, 0));
    assert!(stderr(&out).contains("Redis unavailable"), "{}", stderr(&out));
    assert!(published_guids(&ns).await.is_empty());
    assert_eq!(fetch_counts(&sandbox).await, [(KITCHEN.to_owned(), 0)]);

    // Redis back: the document is taken.
    let out = poll_once(&ns, &sandbox, rejected.path(), &[]).await;
    assert_eq!(stdout(&out), summary(1, 1, 1, 0, 0, 0), "{}", stderr(&out));
    assert_eq!(published_guids(&ns).await, [KITCHEN]);

    sandbox.shutdown().await;
    ns.remove().await;
}

/// Takes quote messages as they arrive until `n` came (or a generous deadline passed).
async fn wait_for_quotes(ns: &Namespace, n: usize) -> Vec<QuoteRequest> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut requests = Vec::new();
    while requests.len() < n && tokio::time::Instant::now() < deadline {
        for message in ns.drain(&ns.topology.quotes_queue()).await {
            requests.push(QuoteRequest::from_json(&message.delivery.data).unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    requests
}

#[tokio::test]
async fn watch_mode_runs_both_sources_and_stops_cleanly_on_sigterm() {
    let ns = Namespace::new("sc-watch").await;
    // Declared here too, so the test can look at the queue before the poller has started.
    ns.topology.declare(&ns.channel).await.unwrap();
    let sandbox = sandbox().await;
    let exports = tempfile::tempdir().unwrap();
    let root = exports.path();
    std::fs::create_dir_all(root.join("incoming")).unwrap();
    std::fs::copy(samples().join("saberis/bath-gatineau.json"), root.join("incoming/bath.json")).unwrap();
    add_document(&sandbox, KITCHEN, &sample("saberis/kitchen-harbour-lane.json")).await;

    let log = std::fs::File::create(root.join("poller.log")).unwrap();
    let mut child = tokio::process::Command::new(binary("sj-poller", "sj-poller").await)
        .env_remove("SJ_CONFIG")
        .env("SJ_NAMESPACE", &ns.name)
        .env("SJ_LOG__FORMAT", "json")
        .env("SJ_POLLER__FOLDER__INCOMING", root.join("incoming"))
        .env("SJ_POLLER__FOLDER__ARCHIVE", root.join("archive"))
        .env("SJ_POLLER__FOLDER__REJECTED", root.join("rejected"))
        .env("SJ_POLLER__FOLDER__SETTLE", "50ms")
        .env("SJ_POLLER__SABERIS_CONNECT__ENABLED", "true")
        .env("SJ_POLLER__SABERIS_CONNECT__BASE_URL", sandbox.url("/saberis"))
        .env("SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN", "sandbox-saberis-auth-token")
        .env("SJ_POLLER__SABERIS_CONNECT__POLL_INTERVAL", "300ms")
        .env("SJ_POLLER__FOLDER__START_FROM", "everything")
        .env("SJ_POLLER__SABERIS_CONNECT__START_FROM", "everything")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start sj-poller");

    // One document from each source.
    let mut sources: Vec<(SourceKind, String)> =
        wait_for_quotes(&ns, 2).await.into_iter().map(|r| (r.source.kind, r.source.id)).collect();
    sources.sort_by_key(|(kind, _)| *kind == SourceKind::Folder);
    assert_eq!(
        sources,
        [(SourceKind::SaberisConnect, KITCHEN.to_owned()), (SourceKind::Folder, "bath.json".to_owned())]
    );
    // A document exported while it runs is taken at the next poll; the kitchen is not sent again.
    add_document(&sandbox, VANITY, &sample("saberis/vanity-single-item.json")).await;
    let later = wait_for_quotes(&ns, 1).await;
    assert_eq!(later.iter().map(|r| r.source.id.as_str()).collect::<Vec<_>>(), [VANITY]);

    let pid = child.id().expect("running").to_string();
    let kill = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("sj-poller stops within 15 s of SIGTERM")
        .unwrap();
    let log = std::fs::read_to_string(root.join("poller.log")).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("shutdown requested") && log.contains("sj-poller stopped"), "{log}");
    assert!(ns.drain(&ns.topology.quotes_queue()).await.is_empty(), "nothing sent twice");
    assert!(std::fs::read_dir(root.join("incoming")).unwrap().next().is_none());

    sandbox.shutdown().await;
    ns.remove().await;
}
