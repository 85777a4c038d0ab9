//! The `sj-sandbox` binary stops cleanly on SIGTERM (what `docker stop` and Kubernetes send; as a
//! container's PID 1 a process without a handler ignores it and is killed after the grace period)
//! and on SIGINT, saving its state on the way out.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support;

async fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut process = tokio::process::Command::new(support::binary("sj-sandbox", "sj-sandbox").await)
        .args(["--port", "0", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start sj-sandbox");
    let mut first = String::new();
    let mut stdout = BufReader::new(process.stdout.take().unwrap());
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut first))
        .await
        .expect("sj-sandbox prints its address within 30 s")
        .unwrap();
    let url = first.trim().strip_prefix("sj-sandbox listening on ").expect("the address line").to_owned();
    // A grant made just before the signal: the state saved at shutdown holds it.
    let grant: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/_admin/oauth/grants"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh_token = grant["refresh_token"].as_str().expect("a refresh token").to_owned();

    let pid = process.id().unwrap().to_string();
    assert!(tokio::process::Command::new("kill").args([signal, &pid]).status().await.unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(10), process.wait())
        .await
        .unwrap_or_else(|_| panic!("sj-sandbox did not stop within 10 s of {signal}"))
        .unwrap();
    assert!(status.success(), "a clean exit after {signal}: {status:?}");
    let saved = std::fs::read_to_string(&state).expect("the state is saved at shutdown");
    assert!(saved.contains(&refresh_token), "the saved state holds the grant made before {signal}");
}

#[tokio::test]
async fn the_binary_stops_cleanly_on_sigterm() {
    stops_cleanly_on("-TERM").await;
}

#[tokio::test]
async fn the_binary_stops_cleanly_on_sigint() {
    stops_cleanly_on("-INT").await;
}
