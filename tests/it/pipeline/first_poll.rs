//! A first connection that sends nothing old: the real `sj-poller` against the in-process
//! sandbox's SaberisConnect (and a folder), the real RabbitMQ and Redis. The first poll holds back
//! what is already listed (`start_from`: nothing, a date, everything); the backfill
//! (`--once --since`) takes it later, exactly once; `--dry-run` only prints.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sj_sandbox::config::ClockConfig;
use sj_sandbox::{Config, Sandbox};
use sj_shared::config::RedisSettings;
use sj_shared::message::QuoteRequest;

use super::Namespace;
use crate::support::{binary, samples};

/// The sandbox on a frozen clock (sessions never expire during a test).
async fn sandbox() -> Sandbox {
    let config = Config { clock: ClockConfig { frozen: true }, ..Config::default() };
    sj_sandbox::spawn(config).await.expect("sandbox starts")
}

/// A one-line order (the vanity sample) for customer `name`, dated `date` (`2025-06-01`), each
/// unit at `price`: distinct content per customer.
fn order(name: &str, date: &str, price: &str) -> String {
    let text = std::fs::read_to_string(samples().join("saberis/vanity-single-item.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let o = &mut doc["SaberisOrderDocument"]["Order"];
    o["Date"] = Value::from(date.replace('-', "."));
    o["Customer"]["Name"] = Value::from(name);
    let item = &mut o["Group"]["Item"];
    for field in ["List", "Selling", "Cost"] {
        item[field] = Value::from(price);
    }
    doc.to_string()
}

/// The GUID of the n-th export (1-based).
fn guid(n: u32) -> String {
    format!("{n:08}-0000-4000-8000-000000000000")
}

/// The n-th export: customer "Customer n", dated 2025-06-0n, priced 100 × n.
fn export(n: u32) -> String {
    order(&format!("Customer {n}"), &format!("2025-06-{n:02}"), &format!("{}.00", 100 * n))
}

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

/// Seven exports listed before the bridge's first poll.
async fn seven_listed(sandbox: &Sandbox) {
    for n in 1..=7 {
        add_document(sandbox, &guid(n), &export(n)).await;
    }
}

/// The real `sj-poller` with only SaberisConnect, `args` after `--once`; `extra` settings.
async fn poller(
    ns: &Namespace,
    sandbox: &Sandbox,
    dir: &Path,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Output {
    let mut command = tokio::process::Command::new(binary("sj-poller", "sj-poller").await);
    command
        .arg("--once")
        .args(args)
        .env_remove("SJ_CONFIG")
        .env("SJ_NAMESPACE", &ns.name)
        .env("SJ_LOG__FORMAT", "json")
        .env("SJ_POLLER__FOLDER__ENABLED", "false")
        .env("SJ_POLLER__FOLDER__REJECTED", dir.join("rejected"))
        .env("SJ_POLLER__SABERIS_CONNECT__ENABLED", "true")
        .env("SJ_POLLER__SABERIS_CONNECT__BASE_URL", sandbox.url("/saberis"))
        .env("SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN", "sandbox-saberis-auth-token")
        .env("SJ_POLLER__SABERIS_CONNECT__REQUEST_TIMEOUT", "5s");
    for (key, value) in extra {
        command.env(key, value);
    }
    command.output().await.expect("run sj-poller")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
}

/// The `sj-source` of every quote message now queued (taken from the queue), sorted.
async fn published(ns: &Namespace) -> Vec<String> {
    let mut ids: Vec<String> = ns
        .drain(&ns.topology.quotes_queue())
        .await
        .iter()
        .map(|m| QuoteRequest::from_json(&m.delivery.data).unwrap().source.id)
        .collect();
    ids.sort();
    ids
}

/// What Redis records for each of the seven GUIDs (`None`: nothing).
async fn records(ns: &Namespace, guids: impl IntoIterator<Item = String>) -> Vec<Option<String>> {
    let client = redis::Client::open(RedisSettings::default().url.expose()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut out = Vec::new();
    for g in guids {
        let key = format!("{}:sj:saberis-taken:{g}", ns.name);
        out.push(redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap());
    }
    out
}

fn before_bridge(record: &Option<String>) -> bool {
    record.as_deref().is_some_and(|r| r.starts_with("before the bridge"))
}

fn guids(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(guid).collect()
}

#[tokio::test]
async fn the_first_poll_publishes_none_of_seven_listed_exports_and_takes_the_next_one() {
    let ns = Namespace::new("first-poll").await;
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    seven_listed(&sandbox).await;

    let out = poller(&ns, &sandbox, dir.path(), &[], &[]).await;
    ok(&out);
    assert!(
        stdout(&out).contains("first poll: 7 exports held back as made before the bridge"),
        "{}",
        stdout(&out)
    );
    // Logged once, with the count and how to take them.
    let log = stderr(&out);
    let said: Vec<&str> = log.lines().filter(|l| l.contains("held back, not sent")).collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(said[0].contains(r#""count":7"#) && said[0].contains("--since"), "{}", said[0]);
    assert!(published(&ns).await.is_empty(), "nothing old is sent");
    assert!(records(&ns, guids(1..=7)).await.iter().all(before_bridge));
    // Not even fetched: the listing was enough.
    let fetched = sandbox_fetches(&sandbox).await;
    assert_eq!(fetched, 0);

    // The next poll: nothing new, nothing said again.
    let out = poller(&ns, &sandbox, dir.path(), &[], &[]).await;
    ok(&out);
    assert!(!stderr(&out).contains("held back, not sent") && !stdout(&out).contains("held back"));
    assert!(published(&ns).await.is_empty());

    // An export made after the first poll is new: published.
    add_document(&sandbox, &guid(8), &export(8)).await;
    let out = poller(&ns, &sandbox, dir.path(), &[], &[]).await;
    ok(&out);
    assert_eq!(published(&ns).await, [guid(8)]);

    // Redis loses everything (a restart without persistence): the next poll is a first
    // connection again and holds back what is listed; nothing is sent a second time.
    ns.forget_redis().await;
    add_document(&sandbox, &guid(9), &export(9)).await;
    let out = poller(&ns, &sandbox, dir.path(), &[], &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("first poll: 9 exports held back"), "{}", stdout(&out));
    assert!(published(&ns).await.is_empty());

    sandbox.shutdown().await;
    ns.remove().await;
}

/// How many documents SaberisConnect served, in all.
async fn sandbox_fetches(sandbox: &Sandbox) -> u64 {
    let docs: Value = reqwest::Client::new()
        .get(sandbox.url("/_admin/saberis/documents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    docs.as_array().unwrap().iter().map(|d| d["fetch_count"].as_u64().unwrap()).sum()
}

#[tokio::test]
async fn start_from_a_date_takes_the_exports_dated_on_or_after_it_and_everything_takes_all() {
    let ns = Namespace::new("first-poll-date").await;
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    seven_listed(&sandbox).await;
    let since = [("SJ_POLLER__SABERIS_CONNECT__START_FROM", "2025-06-04")];
    let out = poller(&ns, &sandbox, dir.path(), &[], &since).await;
    ok(&out);
    assert_eq!(published(&ns).await, guids(4..=7));
    assert!(stdout(&out).contains("first poll: 3 exports held back"), "{}", stdout(&out));
    let recorded = records(&ns, guids(1..=7)).await;
    assert!(recorded[..3].iter().all(before_bridge), "{recorded:?}");
    assert!(recorded[3..].iter().all(|r| r.as_deref().is_some_and(|r| r.starts_with("published"))));
    // Done: the next poll takes nothing, even with another start_from.
    let out =
        poller(&ns, &sandbox, dir.path(), &[], &[("SJ_POLLER__SABERIS_CONNECT__START_FROM", "everything")])
            .await;
    ok(&out);
    assert!(published(&ns).await.is_empty());

    // A bad date is refused at start, naming the key.
    let out =
        poller(&ns, &sandbox, dir.path(), &[], &[("SJ_POLLER__SABERIS_CONNECT__START_FROM", "2025-06-31")])
            .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("poller.saberis_connect.start_from"), "{}", stderr(&out));

    // Another installation (namespace), "everything": all seven.
    let other = Namespace::new("first-poll-all").await;
    let out = poller(
        &other,
        &sandbox,
        dir.path(),
        &[],
        &[("SJ_POLLER__SABERIS_CONNECT__START_FROM", "everything")],
    )
    .await;
    ok(&out);
    assert_eq!(published(&other).await, guids(1..=7));
    assert!(!stdout(&out).contains("held back"), "{}", stdout(&out));

    sandbox.shutdown().await;
    other.remove().await;
    ns.remove().await;
}

#[tokio::test]
async fn the_backfill_takes_its_window_exactly_once_and_a_dry_run_changes_nothing() {
    let ns = Namespace::new("backfill").await;
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    seven_listed(&sandbox).await;
    ok(&poller(&ns, &sandbox, dir.path(), &[], &[]).await);
    assert!(published(&ns).await.is_empty());

    // The dry run: the window's three, with GUID, date, customer and total; nothing else.
    let window = ["--since", "2025-06-03", "--until", "2025-06-05"];
    let out = poller(&ns, &sandbox, dir.path(), &[&window[..], &["--dry-run"]].concat(), &[]).await;
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("dry run, nothing published or recorded: 3 of 3"), "{text}");
    for n in 3..=5 {
        let line = text.lines().find(|l| l.contains(&guid(n))).unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(&format!("2025-06-{n:02}")), "{line}");
        assert!(line.contains(&format!("Customer {n}")), "{line}");
        assert!(line.contains(&format!("total {}.00", 100 * n)), "{line}");
    }
    for n in [1, 2, 6, 7] {
        assert!(!text.contains(&guid(n)), "{text}");
    }
    assert!(published(&ns).await.is_empty(), "a dry run publishes nothing");
    assert!(records(&ns, guids(1..=7)).await.iter().all(before_bridge), "and records nothing");

    // For real: those three, once.
    let out = poller(&ns, &sandbox, dir.path(), &window, &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("SaberisConnect: 3 published"), "{}", stdout(&out));
    assert_eq!(published(&ns).await, guids(3..=5));
    let out = poller(&ns, &sandbox, dir.path(), &window, &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("backfill: 0 of 0"), "{}", stdout(&out));
    assert!(published(&ns).await.is_empty(), "run twice: no second publish");

    // --limit: the oldest first.
    let out = poller(&ns, &sandbox, dir.path(), &["--since", "2025-06-01", "--limit", "2"], &[]).await;
    ok(&out);
    assert_eq!(published(&ns).await, guids(1..=2));
    let recorded = records(&ns, guids(1..=7)).await;
    assert!(recorded[5..].iter().all(before_bridge), "{recorded:?}");
    assert!(!recorded[..5].iter().any(before_bridge), "{recorded:?}");

    // The normal poll meanwhile never takes what is before the bridge.
    ok(&poller(&ns, &sandbox, dir.path(), &[], &[]).await);
    assert!(published(&ns).await.is_empty());

    // --dry-run alone is refused: it belongs to --since.
    let out = poller(&ns, &sandbox, dir.path(), &["--dry-run"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--since"), "{}", stderr(&out));

    sandbox.shutdown().await;
    ns.remove().await;
}

/// A folder of exports for the folder source's tests.
struct Folder {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Folder {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("incoming")).unwrap();
        Self { _dir: dir, root }
    }

    fn put(&self, name: &str, n: u32) {
        std::fs::write(self.root.join("incoming").join(name), export(n)).unwrap();
    }

    /// The documents in `sub` (not the first start's note, not reason files).
    fn names(&self, sub: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root.join(sub)) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") || n.ends_with(".xml"))
            .collect();
        names.sort();
        names
    }

    async fn poller(&self, ns: &Namespace, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut command = tokio::process::Command::new(binary("sj-poller", "sj-poller").await);
        command
            .arg("--once")
            .args(args)
            .env_remove("SJ_CONFIG")
            .env("SJ_NAMESPACE", &ns.name)
            .env("SJ_LOG__FORMAT", "json")
            .env("SJ_POLLER__FOLDER__INCOMING", self.root.join("incoming"))
            .env("SJ_POLLER__FOLDER__ARCHIVE", self.root.join("archive"))
            .env("SJ_POLLER__FOLDER__REJECTED", self.root.join("rejected"))
            .env("SJ_POLLER__FOLDER__SETTLE", "20ms");
        for (key, value) in extra {
            command.env(key, value);
        }
        command.output().await.expect("run sj-poller")
    }
}

#[tokio::test]
async fn the_folder_source_first_start_leaves_old_files_unpublished_and_takes_new_ones() {
    let ns = Namespace::new("first-start").await;
    let folder = Folder::new();
    folder.put("old-1.json", 1);
    folder.put("old-3.json", 3);
    folder.put("old-6.json", 6);

    let out = folder.poller(&ns, &[], &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("first start: 3 files already in incoming/ held back"), "{}", stdout(&out));
    let said: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.contains("were made before the bridge"))
        .map(str::to_owned)
        .collect();
    assert_eq!(said.len(), 1, "{}", stderr(&out));
    assert!(said[0].contains(r#""count":3"#) && said[0].contains("--since"), "{}", said[0]);
    assert!(published(&ns).await.is_empty(), "nothing old is sent");
    assert_eq!(folder.names("before-the-bridge"), ["old-1.json", "old-3.json", "old-6.json"]);
    assert!(folder.names("incoming").is_empty());
    assert!(folder.names("archive").is_empty());
    // A note among them says what they are and how to send some; it marks the first start done.
    let note = std::fs::read_to_string(folder.root.join("before-the-bridge/README.txt")).unwrap();
    assert!(note.contains("were not sent to Jobber") && note.contains("--since"), "{note}");

    // A file arriving after the first start is new.
    folder.put("new-7.json", 7);
    let out = folder.poller(&ns, &[], &[]).await;
    ok(&out);
    assert!(!stdout(&out).contains("held back"), "{}", stdout(&out));
    assert_eq!(published(&ns).await, ["new-7.json"]);

    // The backfill: the dry run lists, moves and publishes nothing.
    let out = folder.poller(&ns, &["--since", "2025-06-02", "--dry-run"], &[]).await;
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("2 of 2 documents before the bridge dated 2025-06-02 or later"), "{text}");
    let line = text.lines().find(|l| l.contains("old-3.json")).unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("2025-06-03") && line.contains("Customer 3") && line.contains("total 300.00"),
        "{line}"
    );
    assert!(text.contains("old-6.json") && !text.contains("old-1.json"), "{text}");
    assert!(published(&ns).await.is_empty());
    assert_eq!(folder.names("before-the-bridge"), ["old-1.json", "old-3.json", "old-6.json"]);

    // For real, twice: published once, archived.
    let out = folder.poller(&ns, &["--since", "2025-06-02"], &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("folder: 2 published"), "{}", stdout(&out));
    assert_eq!(published(&ns).await, ["old-3.json", "old-6.json"]);
    assert_eq!(folder.names("before-the-bridge"), ["old-1.json"]);
    let out = folder.poller(&ns, &["--since", "2025-06-02"], &[]).await;
    ok(&out);
    assert!(stdout(&out).contains("folder: 0 published"), "{}", stdout(&out));
    assert!(published(&ns).await.is_empty());

    ns.remove().await;
}

#[tokio::test]
async fn the_folder_source_start_from_a_date_takes_the_files_dated_on_or_after_it() {
    let ns = Namespace::new("first-start-date").await;
    let folder = Folder::new();
    folder.put("june-1.json", 1);
    folder.put("june-5.json", 5);
    folder.put("june-7.json", 7);
    // Not a Saberis document: its date is the file's modification day (today), so it is taken
    // and refused as any unreadable file is.
    std::fs::write(folder.root.join("incoming/broken.xml"), "<SaberisOrderDocument>").unwrap();
    let out = folder.poller(&ns, &[], &[("SJ_POLLER__FOLDER__START_FROM", "2025-06-05")]).await;
    ok(&out);
    assert_eq!(published(&ns).await, ["june-5.json", "june-7.json"]);
    assert_eq!(folder.names("before-the-bridge"), ["june-1.json"]);
    assert!(folder.names("rejected").contains(&"broken.xml".to_owned()), "{:?}", folder.names("rejected"));

    // "everything" in another installation (folders): every file taken.
    let all = Folder::new();
    all.put("june-1.json", 1);
    all.put("june-2.json", 2);
    let other = Namespace::new("first-start-all").await;
    ok(&all.poller(&other, &[], &[("SJ_POLLER__FOLDER__START_FROM", "everything")]).await);
    assert_eq!(published(&other).await, ["june-1.json", "june-2.json"]);
    assert!(all.names("before-the-bridge").is_empty());

    other.remove().await;
    ns.remove().await;
}

/// Waits (up to 20 s) until `log` has a line containing `text`.
async fn wait_for_log(log: &Path, text: &str) {
    for _ in 0..200 {
        if std::fs::read_to_string(log).unwrap_or_default().contains(text) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {text:?} in the log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

/// Waits (up to 20 s) for `n` quote messages and returns their sources, sorted.
async fn wait_for_published(ns: &Namespace, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.extend(published(ns).await);
        if ids.len() >= n {
            ids.sort();
            return ids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{} of {n} messages: {ids:?}", ids.len());
}

#[tokio::test]
async fn a_running_poller_that_sees_redis_lose_its_data_resends_only_the_recent_days() {
    let ns = Namespace::new("first-poll-wipe").await;
    ns.topology.declare(&ns.channel).await.unwrap();
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    seven_listed(&sandbox).await;
    let log_path = dir.path().join("poller.log");
    let mut child = tokio::process::Command::new(binary("sj-poller", "sj-poller").await)
        .env_remove("SJ_CONFIG")
        .env("SJ_NAMESPACE", &ns.name)
        .env("SJ_LOG__FORMAT", "json")
        .env("SJ_POLLER__FOLDER__ENABLED", "false")
        .env("SJ_POLLER__FOLDER__REJECTED", dir.path().join("rejected"))
        .env("SJ_POLLER__SABERIS_CONNECT__ENABLED", "true")
        .env("SJ_POLLER__SABERIS_CONNECT__BASE_URL", sandbox.url("/saberis"))
        .env("SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN", "sandbox-saberis-auth-token")
        .env("SJ_POLLER__SABERIS_CONNECT__POLL_INTERVAL", "300ms")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("start sj-poller");

    wait_for_log(&log_path, "held back, not sent").await;
    // An order exported today: new, published.
    let today = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_owned();
    add_document(&sandbox, &guid(8), &order("Customer 8", &today, "800.00")).await;
    assert_eq!(wait_for_published(&ns, 1).await, [guid(8)]);

    // Redis loses everything under the running poller: it takes today's order again (a worker
    // finds it in Jobber), and holds back the seven old ones again rather than resend them.
    ns.forget_redis().await;
    wait_for_log(&log_path, "Redis lost the poller's records").await;
    assert_eq!(wait_for_published(&ns, 1).await, [guid(8)]);
    wait_for_log(&log_path, "first SaberisConnect poll: 7 exports").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(published(&ns).await.is_empty(), "nothing else sent");
    assert!(records(&ns, guids(1..=7)).await.iter().all(before_bridge));

    let pid = child.id().expect("running").to_string();
    let kill = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(kill.success());
    let status =
        tokio::time::timeout(std::time::Duration::from_secs(15), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "{}", std::fs::read_to_string(&log_path).unwrap());

    sandbox.shutdown().await;
    ns.remove().await;
}
