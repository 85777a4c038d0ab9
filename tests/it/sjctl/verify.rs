//! `sjctl verify` against the real services: all green for a working installation, and each
//! broken dependency named with its fix while the other checks still run.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::pipeline::worker::Bridge;
use crate::support::root;

/// Runs `sjctl verify`, without blocking the test's runtime (the sandbox answers from it).
async fn verify(bridge: &Bridge, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bridge.command("sjctl", "sjctl");
    cmd.arg("verify").args(args).envs(env.iter().copied());
    cmd.output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real SMTP server (tests/it/alerter/smtp_sink.py, aiosmtpd), killed when dropped.
struct SmtpSink {
    port: u16,
    process: Child,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    async fn start() -> Self {
        let python: PathBuf =
            std::env::var_os("SJ_TEST_PYTHON").map_or_else(|| "/usr/bin/python3".into(), Into::into);
        let (port, dir) = (free_port(), tempfile::tempdir().unwrap());
        let process = Command::new(python)
            .arg(root().join("tests/it/alerter/smtp_sink.py"))
            .arg(port.to_string())
            .arg(dir.path().join("mail"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the SMTP sink");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the SMTP sink did not listen");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Self { port, process, _dir: dir }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The line of the check named `what` (each line starts with its mark, then the name).
fn line<'a>(text: &'a str, what: &str) -> &'a str {
    text.lines()
        .find(|l| l.get(l.find(' ').map_or(0, |i| i + 1)..).is_some_and(|rest| rest.starts_with(what)))
        .unwrap_or_else(|| panic!("no {what} line in:\n{text}"))
}

#[tokio::test]
async fn a_working_installation_is_all_green_and_a_dead_smtp_server_is_named() {
    let sink = SmtpSink::start().await;
    let mut bridge = Bridge::start("verify-ok").await;
    bridge.env.push(("SJ_ALERTS__SMTP__PORT".into(), sink.port.to_string()));
    bridge.start_consuming_worker().await;

    let out = verify(&bridge, &[], &[]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for what in [
        "configuration",
        "RabbitMQ reachable",
        "RabbitMQ topology",
        "dead-letter exchange",
        "Redis reachable",
        "Jobber",
        "SMTP",
    ] {
        assert!(line(&text, what).starts_with('✓'), "{what}:\n{text}");
    }
    assert!(line(&text, "RabbitMQ reachable").contains("127.0.0.1:5672"), "{text}");
    assert!(!text.contains("guest"), "credentials never printed:\n{text}");
    let jobber = line(&text, "Jobber");
    assert!(jobber.contains("cost budget") && jobber.contains("access token expires in"), "{jobber}");
    assert_eq!(
        line(&text, "SaberisConnect"),
        "- SaberisConnect skipped (poller.saberis_connect.enabled = false)"
    );

    // --json: the same checks, machine-readable.
    let out = verify(&bridge, &["--json"], &[]).await;
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checks.len(), 10, "{checks:?}");
    assert!(checks.iter().all(|c| c["outcome"] == "ok" || c["outcome"] == "skipped"), "{checks:?}");

    // The catalog table beside the mapping table: its rows that price nothing, and the catalogs
    // the settings' markups name too, are notes (✓ still: exit 0).
    let catalogs = bridge.mapping_csv().with_file_name("catalogs.csv");
    std::fs::write(
        &catalogs,
        "catalog,brand,multiplier,margin,markup,updated_by,updated_at\n\
         KWP_*,Kitchen Craft,0.42,35%,,maria,2026-12-01\n\
         fwa0724b,Fabuwood,0.5,1.2,,maria,2026-12-01\n\
         Shaker,,,,,auto,2026-12-08T09:12:44Z\n",
    )
    .unwrap();
    let markups = r#"{"kwp_*"=30,"FWA0724B"=25,"Shaker"=10,"Decorative"=5}"#;
    let out = verify(&bridge, &[], &[("SJ_PRICING__CATALOG_MARKUPS", markups)]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "notes are not failures:\n{text}");
    let table = line(&text, "catalog table readable and writable");
    assert!(table.starts_with('✓') && table.contains("3 catalog rows, 1 unusable; writable"), "{table}");
    let rows = line(&text, "catalog table rows");
    assert!(
        rows.starts_with(
            "! catalog table rows: 1 price nothing: row 3 (fwa0724b): margin: 1.2 is 100 % or more"
        ),
        "{rows}"
    );
    assert!(rows.contains("— correct them in csv ") && rows.contains("sjctl catalogs refresh"), "{rows}");
    let both = line(&text, "pricing.catalog_markups and the catalog table");
    assert_eq!(
        both,
        "! pricing.catalog_markups and the catalog table: catalogs named in both: kwp_*: the table wins; \
         FWA0724B, Shaker: the table's rows price nothing yet, so the setting prices them until a row is \
         filled in — keep one of them: remove the catalog from pricing.catalog_markups, or its rows from the \
         table",
        "Decorative has no row; keys compare ignoring case"
    );
    let out = verify(&bridge, &["--json"], &[("SJ_PRICING__CATALOG_MARKUPS", markups)]).await;
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let notes: Vec<&Value> = checks.iter().filter(|c| c["outcome"] == "note").collect();
    assert_eq!(notes.len(), 2, "{checks:?}");
    std::fs::remove_file(&catalogs).unwrap();

    // The SMTP server goes away: SMTP is ✗ with the fix, everything else still checked.
    drop(sink);
    let dead_port = free_port().to_string();
    let out = verify(&bridge, &[], &[("SJ_ALERTS__SMTP__PORT", &dead_port)]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let smtp = line(&text, "SMTP");
    assert!(smtp.starts_with("✗ SMTP: ") && smtp.contains(&dead_port), "{smtp}");
    assert!(smtp.contains("— start the mail server, or fix alerts.smtp"), "{smtp}");
    assert!(line(&text, "Redis reachable").starts_with('✓'), "{text}");
    let out = verify(&bridge, &["--json"], &[("SJ_ALERTS__SMTP__PORT", &dead_port)]).await;
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&Value> = checks.iter().filter(|c| c["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{checks:?}");
    assert_eq!(failed[0]["check"], "SMTP");
    assert!(failed[0]["fix"].as_str().unwrap().contains("alerts.smtp"));
    bridge.stop().await;
}

#[tokio::test]
async fn a_broken_redis_url_and_an_undeclared_topology_are_told_apart() {
    let bridge = Bridge::start("verify-broken").await;
    // Nothing has run in this namespace: no topology yet.
    let out = verify(&bridge, &[], &[]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(line(&text, "RabbitMQ reachable").starts_with('✓'), "{text}");
    let topology = line(&text, "RabbitMQ topology");
    assert!(topology.starts_with("✗ RabbitMQ topology: not declared"), "{topology}");
    assert!(topology.contains("— start sj-worker or sj-poller once"), "{topology}");
    assert!(line(&text, "dead-letter exchange").starts_with('✗'), "{text}");
    assert!(line(&text, "Redis reachable").starts_with('✓'), "{text}");

    // Once declared (the poller does it at start), the topology is fine; Redis is not.
    bridge.poll_once(&[]).await;
    let out = verify(&bridge, &[], &[("SJ_REDIS__URL", "redis://127.0.0.1:1/0")]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(line(&text, "RabbitMQ topology").starts_with('✓'), "{text}");
    let redis = line(&text, "Redis reachable");
    assert!(redis.starts_with("✗ Redis reachable: 127.0.0.1:1/0"), "{redis}");
    assert!(redis.contains("— start Redis, or fix redis.url (SJ_REDIS__URL)"), "{redis}");
    assert!(line(&text, "Jobber").starts_with("- Jobber skipped"), "{text}");
    // The checks after it still ran.
    line(&text, "SaberisConnect");
    line(&text, "SMTP");

    // SaberisConnect, when enabled: its auth token must give a session.
    let base_url = bridge.sandbox.url("/saberis");
    let enabled = [
        ("SJ_POLLER__SABERIS_CONNECT__ENABLED", "true"),
        ("SJ_POLLER__SABERIS_CONNECT__BASE_URL", base_url.as_str()),
    ];
    let with_token = |token: &'static str| {
        let mut env = enabled.to_vec();
        env.push(("SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN", token));
        env
    };
    let out = verify(&bridge, &[], &with_token("sandbox-saberis-auth-token")).await;
    let text = stdout(&out);
    assert!(line(&text, "SaberisConnect").starts_with("✓ SaberisConnect"), "{text}");
    let out = verify(&bridge, &[], &with_token("wrong-token")).await;
    let text = stdout(&out);
    let saberis = line(&text, "SaberisConnect");
    assert!(
        saberis.starts_with("✗ SaberisConnect: ") && saberis.contains("refused the auth token"),
        "{saberis}"
    );
    assert!(saberis.contains("— set the auth token") && !saberis.contains("wrong-token"), "{saberis}");
    bridge.stop().await;
}
