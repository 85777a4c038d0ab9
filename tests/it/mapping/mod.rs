//! The mapping table (`sj_shared::mapping`) against both of its real stores — a CSV file and the
//! sandbox's Google Sheets — and the real Redis: columns found by name, the person's row ahead of
//! the bridge's, skipped rows named, edits picked up, the index rebuilt after Redis forgot it,
//! concurrent appends, the store's failures classified; and `sjctl mapping` run as a user runs it.
//!
//! Each test has its own Redis namespace (and so its own index) and its own table.

mod csv;
mod sheets;
pub(crate) mod sjctl;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use sj_sandbox::config::SANDBOX_SHEETS_PRIVATE_KEY_PEM;
use sj_sandbox::Sandbox;
use sj_shared::config::{HumanDuration, MappingSettings, MappingStoreKind, RedisSettings};
use sj_shared::mapping::{CustomerKey, Mapping, MappingError, MappingRow, AUTO};
use sj_shared::store::Keys;

use crate::pipeline::Namespace;

pub const SPREADSHEET: &str = "sandbox-mapping";
pub const TAB: &str = "Sheet1";
pub const CLIENT_EMAIL: &str = "bridge@sj-sandbox.iam.gserviceaccount.com";
pub const HEADER: [&str; 8] = [
    "saberis_key",
    "jobber_client_id",
    "jobber_property_id",
    "saberis_name",
    "saberis_address",
    "made_by",
    "made_at",
    "note",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Csv,
    Sheets,
}

/// One test's table, Redis namespace and (for Sheets) sandbox.
pub struct Fixture {
    pub kind: Kind,
    pub ns: Namespace,
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub settings: MappingSettings,
}

impl Fixture {
    pub async fn new(test: &str, kind: Kind) -> Fixture {
        Self::with_sandbox(test, kind, sj_sandbox::Config::default()).await
    }

    pub async fn with_sandbox(test: &str, kind: Kind, config: sj_sandbox::Config) -> Fixture {
        let ns = Namespace::new(&format!("mapping-{test}")).await;
        let sandbox = sj_sandbox::spawn(config).await.expect("sandbox");
        let dir = tempfile::tempdir().unwrap();
        let key_file = write_key_file(&dir, &sandbox, SANDBOX_SHEETS_PRIVATE_KEY_PEM);
        let mut settings = MappingSettings {
            store: match kind {
                Kind::Csv => MappingStoreKind::Csv,
                Kind::Sheets => MappingStoreKind::Sheets,
            },
            refresh: HumanDuration(Duration::from_secs(60)),
            ..MappingSettings::default()
        };
        settings.csv.path = dir.path().join("mapping.csv");
        settings.sheets.api_url = sandbox.url("/sheets");
        settings.sheets.spreadsheet_id = SPREADSHEET.to_owned();
        settings.sheets.tab = TAB.to_owned();
        settings.sheets.service_account_file = Some(key_file);
        settings.sheets.request_timeout = HumanDuration(Duration::from_secs(5));
        Fixture { kind, ns, dir, sandbox, settings }
    }

    pub fn keys(&self) -> Keys {
        Keys::new(&self.ns.name)
    }

    /// A `Mapping` as a worker process builds it (each call: as another process would).
    pub fn mapping(&self) -> Mapping {
        self.mapping_with(&self.settings)
    }

    pub fn mapping_with(&self, settings: &MappingSettings) -> Mapping {
        // Each its own pool, as separate processes have.
        let pool = sj_shared::store::pool(&RedisSettings::default()).expect("Redis pool");
        Mapping::new(settings, pool, self.keys()).expect("Mapping::new")
    }

    pub fn csv_path(&self) -> PathBuf {
        self.settings.csv.path.clone()
    }

    /// The whole table as a person leaves it after editing (header included).
    pub async fn put_rows(&self, rows: &[&[&str]]) {
        match self.kind {
            Kind::Csv => {
                let text: String = rows.iter().map(|r| csv_line(r)).collect();
                std::fs::write(self.csv_path(), text).unwrap();
            }
            Kind::Sheets => {
                let response = reqwest::Client::new()
                    .put(self.sandbox.url(&format!("/_admin/sheets/{SPREADSHEET}/{TAB}")))
                    .json(&json!(rows))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.status());
            }
        }
    }

    /// The store's cells as they are now (CSV: the file's text).
    pub async fn sheet_rows(&self) -> Vec<Vec<String>> {
        assert_eq!(self.kind, Kind::Sheets);
        reqwest::Client::new()
            .get(self.sandbox.url(&format!("/_admin/sheets/{SPREADSHEET}/{TAB}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn finish(self) {
        self.sandbox.shutdown().await;
        self.ns.remove().await;
    }
}

/// A Google service-account JSON key file for the sandbox.
pub fn write_key_file(dir: &tempfile::TempDir, sandbox: &Sandbox, private_key: &str) -> PathBuf {
    let path = dir.path().join("service-account.json");
    let key = json!({
        "type": "service_account",
        "project_id": "sj-sandbox",
        "private_key_id": "sandbox-key-1",
        "private_key": private_key,
        "client_email": CLIENT_EMAIL,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": sandbox.url("/sheets/token"),
    });
    std::fs::write(&path, serde_json::to_string_pretty(&key).unwrap()).unwrap();
    path
}

/// One CSV line, quoted where needed.
pub fn csv_line(cells: &[&str]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.to_string()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}

pub fn key(text: &str) -> CustomerKey {
    CustomerKey::parse(text).unwrap()
}

pub fn row(key_text: &str, client: &str, by: &str) -> MappingRow {
    MappingRow {
        key: key(key_text),
        client_id: client.into(),
        property_id: None,
        saberis_name: String::new(),
        saberis_address: String::new(),
        made_by: by.to_owned(),
        made_at: "2026-11-22T10:00:00Z".to_owned(),
        note: String::new(),
    }
}

/// An address key as the mapping's address look-up takes it.
pub fn address(text: &str) -> sj_shared::mapping::AddressKey {
    sj_shared::mapping::address_key_of_text(text).expect("an address")
}

pub async fn client_of(mapping: &Mapping, key_text: &str) -> Option<String> {
    mapping.lookup(&key(key_text)).await.expect("lookup").map(|r| r.client_id.into())
}

// ---------------------------------------------------------------------------------------------
// What both stores must do alike.

async fn columns_by_name_and_bad_rows_reported(kind: Kind) {
    let f = Fixture::new("columns", kind).await;
    f.put_rows(&[
        &[
            "Note",
            "Saberis Key",
            "My own column",
            "JOBBER_CLIENT_ID",
            "saberis_address",
            "made_by",
            "jobber_property_id",
        ],
        &[
            "call first",
            "name: Affinity Homes",
            "whatever",
            "Z2lk-affinity",
            "12 Main Street | Springfield | 62704",
            "ann",
            "P-1",
        ],
        &["", "Affinity Homes", "", "Z2lk-x", "", "ann", ""],
        &[],
        &["", "number:C-17", "", "", "", "ann", ""],
        &["", "number:C-18", "", "Z2lk-18", "", "auto", ""],
    ])
    .await;
    let mapping = f.mapping();
    let report = mapping.refresh().await.expect("refresh");
    assert_eq!(report.rows, 2, "{report:?}");
    assert_eq!(report.problems.len(), 2, "{report:?}");
    assert!(report.problems[0].starts_with("row 3: \"Affinity Homes\" is not a customer key"), "{report:?}");
    assert_eq!(report.problems[1], "row 5: no jobber_client_id for number:C-17");

    let found = mapping.lookup(&key("name:affinity homes")).await.unwrap().expect("a row");
    assert_eq!(found.client_id, "Z2lk-affinity");
    assert_eq!(found.property_id.as_ref().map(|p| p.as_str()), Some("P-1"));
    assert_eq!(found.note, "call first");
    assert_eq!(found.made_by, "ann");
    let by_address =
        mapping.lookup_address(&address("12 main st|springfield|62704")).await.unwrap().expect("by address");
    assert_eq!(by_address.client_id, "Z2lk-affinity");
    assert_eq!(client_of(&mapping, "number:C-18").await.as_deref(), Some("Z2lk-18"));
    assert_eq!(client_of(&mapping, "number:C-17").await, None);
    assert_eq!(mapping.lookup_address(&address("1 nowhere||")).await.unwrap(), None);

    // The rows in use and the problems, as sjctl mapping list shows them.
    let in_use = mapping.in_use().await.unwrap();
    assert_eq!(in_use.rows.len(), 2);
    assert_eq!(in_use.problems, report.problems);

    // A row appended to this table follows its column order.
    let mut new = row("name:Smith Kitchens", "Z2lk-smith", AUTO);
    new.note = "created by the bridge".into();
    mapping.append(&new).await.unwrap();
    let table = mapping.read_table().await.unwrap();
    let last = table.rows.last().unwrap();
    // This table has no made_at column: that value is not written.
    new.made_at = String::new();
    assert_eq!((last.row_number, &last.row), (7, &new));
    if kind == Kind::Sheets {
        let cells = f.sheet_rows().await;
        assert_eq!(
            cells[6],
            ["created by the bridge", "name:smith kitchens", "", "Z2lk-smith", "", "auto", ""]
        );
    }
    f.finish().await;
}

#[tokio::test]
async fn csv_columns_are_found_by_name_and_bad_rows_reported_by_row_number() {
    columns_by_name_and_bad_rows_reported(Kind::Csv).await;
}

#[tokio::test]
async fn sheets_columns_are_found_by_name_and_bad_rows_reported_by_row_number() {
    columns_by_name_and_bad_rows_reported(Kind::Sheets).await;
}

async fn persons_row_wins(kind: Kind) {
    let f = Fixture::new("person-wins", kind).await;
    f.put_rows(&[
        &HEADER,
        &["name:a", "auto-a-1", "", "", "", "auto"],
        &["name:a", "ann-a", "", "", "", "ann"],
        &["name:a", "auto-a-2", "", "", "", "auto"],
        &["name:b", "auto-b-1", "", "", "", "auto"],
        &["name:b", "auto-b-2", "", "", "", "auto"],
        &["name:c", "ann-c", "", "", "", "ann"],
        &["name:c", "bob-c", "", "", "", "bob"],
    ])
    .await;
    let mapping = f.mapping();
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("ann-a"));
    assert_eq!(client_of(&mapping, "name:b").await.as_deref(), Some("auto-b-2"));
    assert_eq!(client_of(&mapping, "name:c").await.as_deref(), Some("bob-c"));

    // The bridge appends for a key a person mapped: the person's row stays in use, in the index
    // and after a re-read; nothing the person wrote is changed.
    mapping.append(&row("name:a", "auto-a-3", AUTO)).await.unwrap();
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("ann-a"));
    // A new key appended by one process is seen at once by another (no refresh in between).
    let other = f.mapping();
    mapping.append(&row("name:d", "auto-d", AUTO)).await.unwrap();
    assert_eq!(client_of(&other, "name:d").await.as_deref(), Some("auto-d"));
    // A person's correction appended later wins over the bridge's rows at once.
    other.append(&row("name:b", "carol-b", "carol")).await.unwrap();
    assert_eq!(client_of(&mapping, "name:b").await.as_deref(), Some("carol-b"));

    let report = mapping.refresh().await.unwrap();
    assert_eq!((report.rows, report.problems.len()), (4, 0));
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("ann-a"));
    assert_eq!(client_of(&mapping, "name:b").await.as_deref(), Some("carol-b"));
    let all = mapping.rows().await.unwrap();
    assert_eq!(all.len(), 10, "appends never rewrite: {all:?}");
    assert_eq!(all[1].client_id, "ann-a");
    f.finish().await;
}

#[tokio::test]
async fn csv_a_persons_row_beats_the_bridges_and_the_later_row_the_earlier() {
    persons_row_wins(Kind::Csv).await;
}

#[tokio::test]
async fn sheets_a_persons_row_beats_the_bridges_and_the_later_row_the_earlier() {
    persons_row_wins(Kind::Sheets).await;
}

async fn edits_picked_up(kind: Kind) {
    let mut f = Fixture::new("edits", kind).await;
    f.settings.refresh = HumanDuration(Duration::from_secs(2));
    f.put_rows(&[&HEADER, &["number:7", "first", "", "", "", "ann"]]).await;
    let mapping = f.mapping();
    assert_eq!(client_of(&mapping, "number:7").await.as_deref(), Some("first"));

    // A person edits the row: the index is fresh, so the old value is still served…
    f.put_rows(&[&HEADER, &["number:7", "second", "", "", "", "ann"]]).await;
    assert_eq!(client_of(&mapping, "number:7").await.as_deref(), Some("first"));
    // …until `refresh()` (sjctl mapping refresh), which takes it at once.
    mapping.refresh().await.unwrap();
    assert_eq!(client_of(&mapping, "number:7").await.as_deref(), Some("second"));

    // Without anyone asking, the edit is picked up once `mapping.refresh` has passed.
    f.put_rows(&[&HEADER, &["number:7", "third", "", "", "", "ann"]]).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(client_of(&mapping, "number:7").await.as_deref(), Some("third"));
    f.finish().await;
}

#[tokio::test]
async fn csv_a_persons_edit_is_picked_up_after_the_refresh_interval_and_at_once_by_refresh() {
    edits_picked_up(Kind::Csv).await;
}

#[tokio::test]
async fn sheets_a_persons_edit_is_picked_up_after_the_refresh_interval_and_at_once_by_refresh() {
    edits_picked_up(Kind::Sheets).await;
}

async fn index_rebuilt(kind: Kind) {
    let f = Fixture::new("rebuilt", kind).await;
    f.put_rows(&[&HEADER, &["name:a", "Z2lk-a", "", "", "1 Oak Rd | Town | 1", "ann"]]).await;
    let mapping = f.mapping();
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("Z2lk-a"));
    mapping.append(&row("name:b", "Z2lk-b", AUTO)).await.unwrap();

    // Redis forgets everything (restarted empty, or flushed): the index is read again from the
    // store, the appended row included.
    f.ns.forget_redis().await;
    let client = redis::Client::open(RedisSettings::default().url.expose()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let left: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:*", f.ns.name)).query_async(&mut conn).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(client_of(&f.mapping(), "name:b").await.as_deref(), Some("Z2lk-b"));
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("Z2lk-a"));
    assert!(mapping.lookup_address(&address("1 oak rd|town|1")).await.unwrap().is_some());
    let meta: Option<String> = redis::cmd("HGET")
        .arg(f.keys().key("mapping", "v1-meta"))
        .arg("loaded_at")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(meta.is_some_and(|at| at.ends_with('Z')));
    drop(conn);
    f.finish().await;
}

#[tokio::test]
async fn csv_the_index_is_rebuilt_from_the_store_when_redis_forgot_it() {
    index_rebuilt(Kind::Csv).await;
}

#[tokio::test]
async fn sheets_the_index_is_rebuilt_from_the_store_when_redis_forgot_it() {
    index_rebuilt(Kind::Sheets).await;
}

/// Many look-ups at once on a missing index: one process reads the store, the others wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_index_is_built_once_for_many_concurrent_lookups() {
    let f = Fixture::new("built-once", Kind::Sheets).await;
    f.put_rows(&[&HEADER, &["name:a", "Z2lk-a"]]).await;
    let reads_before = reads(&f.sandbox);
    let lookups: Vec<_> = (0..8)
        .map(|_| {
            let mapping = f.mapping();
            tokio::spawn(async move { client_of(&mapping, "name:a").await })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(lookup.await.unwrap().as_deref(), Some("Z2lk-a"));
    }
    assert_eq!(reads(&f.sandbox) - reads_before, 1, "the sheet is read once");
    f.finish().await;
}

pub fn reads(sandbox: &Sandbox) -> u64 {
    sandbox
        .shared()
        .counters
        .snapshot()
        .requests
        .get("/sheets/v4/spreadsheets/{id}/values/{range}")
        .copied()
        .unwrap_or(0)
}

pub fn is_unavailable(e: &MappingError) -> bool {
    matches!(e, MappingError::Unavailable(_))
}
