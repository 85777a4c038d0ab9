//! The Google Sheets store against the sandbox: the service account's token, its renewal on 401,
//! the header written to an empty tab, concurrent appends, and every failure classified:
//! unreachable, timeouts, 5xx and 429 are `Unavailable` (try later); an unknown spreadsheet or
//! tab, a refused share (403) or a refused key are `Unusable`, with what to fix.

use std::time::Duration;

use sj_sandbox::faults::FaultSpec;
use sj_shared::config::HumanDuration;
use sj_shared::mapping::{Mapping, MappingError, AUTO};

use super::{
    client_of, is_unavailable, key, reads, row, write_key_file, Fixture, Kind, CLIENT_EMAIL, HEADER,
};

const VALUES_ROUTE: &str = "/sheets/v4/spreadsheets/{id}/values/{range}";

fn unusable(e: MappingError) -> String {
    match e {
        MappingError::Unusable(reason) => reason,
        other => panic!("expected Unusable, got {other:?}"),
    }
}

fn fault(f: &Fixture, spec: FaultSpec) {
    f.sandbox.shared().faults.set(FaultSpec { route: VALUES_ROUTE.into(), ..spec });
}

/// The appends are in flight together (token, header read, append), on several threads; the
/// sandbox handles each append whole, as Google does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_tab_gets_the_header_and_concurrent_appends_all_land() {
    let f = Fixture::new("sheets-append", Kind::Sheets).await;
    let (a, b) = (f.mapping(), f.mapping());
    a.append(&row("name:first", "Z2lk-0", AUTO)).await.unwrap();
    assert_eq!(f.sheet_rows().await[0], HEADER, "the header row comes first");
    let tasks: Vec<_> = (1..=6)
        .map(|i| {
            let mapping = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                mapping.append(&row(&format!("number:{i}"), &format!("Z2lk-{i}"), AUTO)).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let table = a.read_table().await.unwrap();
    assert_eq!(table.problems, Vec::<String>::new());
    assert_eq!(table.rows.len(), 7);
    for i in 1..=6 {
        assert_eq!(client_of(&b, &format!("number:{i}")).await, Some(format!("Z2lk-{i}")));
    }
    f.finish().await;
}

#[tokio::test]
async fn an_expired_access_token_is_renewed_once_and_the_request_retried() {
    let mut config = sj_sandbox::Config::default();
    config.sheets.access_token_lifetime_secs = 120;
    let f = Fixture::with_sandbox("sheets-401", Kind::Sheets, config).await;
    f.put_rows(&[&HEADER, &["name:a", "Z2lk-a"]]).await;
    let mapping = f.mapping();
    mapping.refresh().await.unwrap();
    let tokens = |f: &Fixture| f.sandbox.shared().counters.snapshot().requests.get("/sheets/token").copied();
    assert_eq!(tokens(&f), Some(1));
    mapping.refresh().await.unwrap();
    assert_eq!(tokens(&f), Some(1), "the access token is kept");

    // Google's clock runs past the token's end while the bridge still thinks it valid: Sheets
    // answers 401, the bridge takes a new token and the same request succeeds.
    f.sandbox.advance_clock(Duration::from_secs(121));
    let reads_before = reads(&f.sandbox);
    let report = mapping.refresh().await.unwrap();
    assert_eq!(report.rows, 1);
    assert_eq!(tokens(&f), Some(2));
    assert_eq!(reads(&f.sandbox) - reads_before, 2, "one refused read, one retried");
    f.finish().await;
}

#[tokio::test]
async fn an_unreachable_slow_or_failing_sheet_is_unavailable_and_the_last_index_still_serves() {
    let mut f = Fixture::new("sheets-unavailable", Kind::Sheets).await;
    f.settings.sheets.request_timeout = HumanDuration(Duration::from_secs(1));
    f.settings.refresh = HumanDuration(Duration::from_millis(500));
    f.put_rows(&[&HEADER, &["name:a", "Z2lk-a"]]).await;
    let mapping = f.mapping();
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("Z2lk-a"));

    for spec in [
        FaultSpec { fail_next: 1, status: Some(503), ..FaultSpec::default() },
        FaultSpec { too_many_next: 1, ..FaultSpec::default() },
        FaultSpec { timeout_next: 1, hold_ms: Some(5000), ..FaultSpec::default() },
        FaultSpec { reset_next: 1, ..FaultSpec::default() },
    ] {
        fault(&f, spec.clone());
        let e = mapping.refresh().await.unwrap_err();
        assert!(is_unavailable(&e), "{spec:?}: {e:?}");
    }
    // The index is stale and the sheet fails: look-ups go on with the index Redis holds.
    tokio::time::sleep(Duration::from_millis(600)).await;
    fault(&f, FaultSpec { fail_next: 1, status: Some(502), ..FaultSpec::default() });
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("Z2lk-a"));

    // Nothing listens at the API's address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = f.settings.clone();
    settings.sheets.api_url = format!("http://127.0.0.1:{closed}/sheets");
    let e = f.mapping_with(&settings).refresh().await.unwrap_err();
    assert!(is_unavailable(&e), "{e:?}");
    // And with no index in Redis at all, a look-up says so too (transient: try later).
    f.ns.forget_redis().await;
    let e = f.mapping_with(&settings).lookup(&key("name:a")).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    f.finish().await;
}

#[tokio::test]
async fn an_unknown_sheet_a_refused_share_or_a_bad_key_is_unusable_with_what_to_fix() {
    let f = Fixture::new("sheets-unusable", Kind::Sheets).await;
    f.put_rows(&[&HEADER, &["name:a", "Z2lk-a"]]).await;

    let mut settings = f.settings.clone();
    settings.sheets.spreadsheet_id = "no-such-spreadsheet".into();
    let reason = unusable(f.mapping_with(&settings).lookup(&key("name:a")).await.unwrap_err());
    assert!(reason.contains("spreadsheet no-such-spreadsheet not found"), "{reason}");
    assert!(reason.contains("mapping.sheets.spreadsheet_id"), "{reason}");

    let mut settings = f.settings.clone();
    settings.sheets.tab = "Mapping".into();
    let reason = unusable(f.mapping_with(&settings).refresh().await.unwrap_err());
    assert!(reason.contains("no tab \"Mapping\"") && reason.contains("mapping.sheets.tab"), "{reason}");

    // The sheet is not shared with the service account: Google answers 403.
    fault(&f, FaultSpec { fail_next: 1, status: Some(403), ..FaultSpec::default() });
    let reason = unusable(f.mapping().refresh().await.unwrap_err());
    assert!(reason.contains(&format!("share the sheet with {CLIENT_EMAIL}")), "{reason}");

    // A person broke the header row.
    f.put_rows(&[&["customer", "client"], &["name:a", "Z2lk-a"]]).await;
    let reason = unusable(f.mapping().refresh().await.unwrap_err());
    assert!(reason.contains("row 1 must be the header row"), "{reason}");
    let reason = unusable(f.mapping().append(&row("name:b", "Z2lk-b", AUTO)).await.unwrap_err());
    assert!(reason.contains("row 1 must be the header row"), "{reason}");
    assert_eq!(f.sheet_rows().await.len(), 2, "nothing appended to a broken table");

    // A key Google does not know (another key pair): the token is refused.
    let dir = tempfile::tempdir().unwrap();
    let other_key = tokio::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .await
        .expect("openssl");
    assert!(other_key.status.success());
    let mut settings = f.settings.clone();
    settings.sheets.service_account_file =
        Some(write_key_file(&dir, &f.sandbox, std::str::from_utf8(&other_key.stdout).unwrap()));
    let reason = unusable(f.mapping_with(&settings).refresh().await.unwrap_err());
    assert!(reason.contains(&format!("Google refused the service account {CLIENT_EMAIL}")), "{reason}");
    assert!(reason.contains("Invalid JWT Signature"), "{reason}");

    // A key file that is not one: refused when the table is opened.
    std::fs::write(dir.path().join("service-account.json"), "{\"client_email\": 1}").unwrap();
    let e = Mapping::new(&settings, sj_shared::store::pool(&Default::default()).unwrap(), f.keys())
        .err()
        .expect("refused");
    let reason = unusable(e);
    assert!(reason.contains("is not a service account's JSON key"), "{reason}");
    f.finish().await;
}
