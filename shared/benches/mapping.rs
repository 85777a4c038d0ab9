//! Mapping table benchmark: `cargo bench -p sj-shared --bench mapping` (needs Redis on
//! 127.0.0.1:6379; prints SKIPPED without it).
//!
//! A dealer's table of 10,000 customers in the CSV store:
//! - **look-up** (what every document costs a worker): `Mapping::lookup` of random keys through
//!   the Redis index, next to a baseline measured in the same run: a bare `HGET` of the same
//!   field on the same connection pool. The ratio is what the index's freshness check and the
//!   row's decoding cost on top of the one Redis round trip that cannot be avoided.
//! - **refresh** (once per `mapping.refresh`, by one process): reading and resolving the whole
//!   table and swapping the index in, next to the baseline of reading the file's bytes and
//!   splitting its lines; and the parse of the file's text alone (`Table::from_csv`: the `csv`
//!   crate's records with their row numbers, then the rows resolved), no Redis involved.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use sj_shared::config::MappingSettings;
use sj_shared::mapping::{CustomerKey, Mapping, Table, COLUMNS};
use sj_shared::store::{self, Keys};

const ROWS: usize = 10_000;
const LOOKUPS: usize = 20_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let pool = store::pool(&sj_shared::config::RedisSettings::default()).expect("pool");
    if pool.get().await.is_err() {
        println!("SKIPPED: no Redis on 127.0.0.1:6379");
        return;
    }
    let namespace = format!("bench-mapping-{}", std::process::id());
    let keys = Keys::new(&namespace);
    let dir = std::env::temp_dir().join(&namespace);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mapping.csv");
    let mut text = COLUMNS.join(",") + "\n";
    for i in 0..ROWS {
        text.push_str(&format!(
            "name:customer {i},Z2lkOi8vSm9iYmVyL0NsaWVudC8{i},,Customer {i},{i} Main St | Springfield | 62704,{},2026-11-01,\n",
            if i % 3 == 0 { "auto" } else { "ann" }
        ));
    }
    std::fs::write(&path, &text).unwrap();
    let mut settings = MappingSettings::default();
    settings.csv.path = path.clone();
    settings.refresh = sj_shared::config::HumanDuration(Duration::from_secs(3600));
    let mapping = Mapping::new(&settings, pool.clone(), keys.clone()).expect("mapping");

    // Refresh: ours against reading the bytes and splitting lines.
    let runs = 10;
    let ours = time(runs, || async {
        mapping.refresh().await.expect("refresh");
    })
    .await;
    let baseline = time(runs, || async {
        let bytes = tokio::fs::read(&path).await.unwrap();
        std::hint::black_box(bytes.split(|b| *b == b'\n').count());
    })
    .await;
    println!(
        "refresh of {ROWS} rows: {:.1} ms (baseline read + split lines {:.2} ms; ratio {:.0}x)",
        ms(ours),
        ms(baseline),
        ours.as_secs_f64() / baseline.as_secs_f64()
    );

    let parse = time(runs, || async {
        let table = Table::from_csv(std::hint::black_box(&text)).expect("table");
        assert_eq!(table.rows.len(), ROWS);
    })
    .await;
    println!(
        "parse of {ROWS} rows (Table::from_csv): {:.1} ms (ratio to the baseline {:.0}x)",
        ms(parse),
        parse.as_secs_f64() / baseline.as_secs_f64()
    );

    // Look-ups: ours against a bare HGET of the same field.
    let wanted: Vec<CustomerKey> = (0..LOOKUPS)
        .map(|n| CustomerKey::parse(&format!("name:customer {}", (n * 7919) % ROWS)).unwrap())
        .collect();
    let ours = time(1, || async {
        for key in &wanted {
            let row = mapping.lookup(key).await.expect("lookup");
            assert!(row.is_some());
        }
    })
    .await;
    let hash = keys.key("mapping", "v1-keys");
    let baseline = time(1, || async {
        let mut conn = pool.get().await.unwrap();
        for key in &wanted {
            let value: Option<String> = conn.hget(&hash, key.as_str()).await.unwrap();
            assert!(value.is_some());
        }
    })
    .await;
    println!(
        "look-up: {:.0} µs each, {:.0}/s (baseline bare HGET {:.0} µs; ratio {:.2}x)",
        ours.as_secs_f64() * 1e6 / LOOKUPS as f64,
        LOOKUPS as f64 / ours.as_secs_f64(),
        baseline.as_secs_f64() * 1e6 / LOOKUPS as f64,
        ours.as_secs_f64() / baseline.as_secs_f64()
    );

    let mut conn = pool.get().await.unwrap();
    let leftovers: Vec<String> = conn.keys(format!("{namespace}:*")).await.unwrap_or_default();
    for key in leftovers {
        let _: () = conn.del(key).await.unwrap_or(());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The mean duration of `runs` runs of `f` (after one warm-up run).
async fn time<F, Fut>(runs: u32, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let start = Instant::now();
    for _ in 0..runs {
        f().await;
    }
    start.elapsed() / runs
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
