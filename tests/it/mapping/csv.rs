//! The CSV store: created with its header, appended by many writers at once without torn lines,
//! RFC 4180 quoting of awkward names, and the file's own problems named.

use std::time::Duration;

use sj_shared::mapping::{Mapping, MappingError, MappingRow, Table, AUTO};

use super::{client_of, row, Fixture, Kind, HEADER};

/// A row whose every text field is awkward for CSV (commas, quotes, line breaks, long).
fn awkward(i: usize, writer: &str) -> MappingRow {
    let mut r = row(&format!("name:{writer} customer {i}"), &format!("Z2lk-{writer}-{i}"), AUTO);
    r.saberis_name = format!("O'Brien, \"The Kitchen\" {writer} #{i}\nSecond line");
    r.saberis_address = format!("{i} Main Street, Unit \"B\" | Springfield | K1A 0B{i}");
    r.note = format!("{writer}:{i}:").repeat(600);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_from_tasks_and_processes_keep_every_row_whole() {
    let f = Fixture::new("csv-concurrent", Kind::Csv).await;
    assert!(!f.csv_path().exists());

    // Two "processes" (two Mapping values, each with its own tasks) append 25 rows each at once.
    let writers: Vec<_> = ["w1", "w2"]
        .into_iter()
        .flat_map(|writer| {
            let mapping = f.mapping();
            (0..25).map(move |i| {
                let mapping = mapping.clone();
                tokio::spawn(async move { mapping.append(&awkward(i, writer)).await })
            })
        })
        .collect();
    // Meanwhile two real processes append rows with `sjctl mapping set`.
    let sjctl = |who: &'static str| {
        let f = &f;
        async move {
            for i in 0..5 {
                let out = super::sjctl::sjctl(
                    f,
                    &[
                        "mapping",
                        "set",
                        &format!("number:{who}-{i}"),
                        &format!("Z2lk-{who}-{i}"),
                        "--name",
                        "Smith, \"Jr\"",
                        "--by",
                        who,
                        "--no-check",
                    ],
                )
                .await;
                assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    };
    tokio::join!(sjctl("ann"), sjctl("bob"));
    for writer in writers {
        writer.await.unwrap().expect("append");
    }

    let text = std::fs::read_to_string(f.csv_path()).unwrap();
    assert!(text.starts_with(&(HEADER.join(",") + "\n")), "created with its header row");
    assert!(text.ends_with('\n'));
    let table = Table::from_csv(&text).unwrap();
    assert_eq!(table.problems, Vec::<String>::new(), "no torn or interleaved line");
    assert_eq!(table.rows.len(), 60);
    for writer in ["w1", "w2"] {
        for i in 0..25 {
            let expected = awkward(i, writer);
            let found: Vec<&MappingRow> =
                table.rows.iter().map(|r| &r.row).filter(|r| r.key == expected.key).collect();
            assert_eq!(found, vec![&expected], "{writer} {i}");
        }
    }
    let mapping = f.mapping();
    for who in ["ann", "bob"] {
        for i in 0..5 {
            assert_eq!(
                client_of(&mapping, &format!("number:{who}-{i}")).await,
                Some(format!("Z2lk-{who}-{i}"))
            );
        }
    }
    // The index had every row at once, and a fresh read agrees.
    assert_eq!(mapping.refresh().await.unwrap().rows, 60);
    f.finish().await;
}

#[tokio::test]
async fn a_file_edited_by_hand_is_appended_to_as_it_is() {
    let f = Fixture::new("csv-by-hand", Kind::Csv).await;
    // Saved by a spreadsheet program: byte-order mark, CRLF, no line break at the end, its own
    // column order.
    let by_hand = "\u{feff}jobber_client_id,saberis_key,made_by\r\nZ2lk-a,name:a,ann";
    std::fs::write(f.csv_path(), by_hand).unwrap();
    let mapping = f.mapping();
    mapping.append(&row("name:b", "Z2lk-b", AUTO)).await.unwrap();
    let text = std::fs::read_to_string(f.csv_path()).unwrap();
    assert_eq!(text, format!("{by_hand}\r\nZ2lk-b,name:b,auto\r\n"));
    assert_eq!(client_of(&mapping, "name:a").await.as_deref(), Some("Z2lk-a"));
    assert_eq!(client_of(&mapping, "name:b").await.as_deref(), Some("Z2lk-b"));
    f.finish().await;
}

#[tokio::test]
async fn the_files_own_problems_are_unusable_with_what_to_fix() {
    let f = Fixture::new("csv-problems", Kind::Csv).await;
    let mapping = f.mapping();
    let unusable = |e: MappingError| match e {
        MappingError::Unusable(reason) => reason,
        other => panic!("expected Unusable, got {other:?}"),
    };

    std::fs::write(f.csv_path(), "customer,client\nAffinity,Z2lk\n").unwrap();
    let reason = unusable(mapping.refresh().await.unwrap_err());
    assert!(
        reason.contains("row 1 must be the header row") && reason.contains("found: customer, client"),
        "{reason}"
    );
    // A broken header is not appended to either.
    let reason = unusable(mapping.append(&row("name:a", "Z2lk", AUTO)).await.unwrap_err());
    assert!(reason.contains("row 1 must be the header row"), "{reason}");
    assert_eq!(std::fs::read_to_string(f.csv_path()).unwrap(), "customer,client\nAffinity,Z2lk\n");

    std::fs::write(f.csv_path(), b"saberis_key,jobber_client_id\nname:caf\xe9,Z2lk\n").unwrap();
    let reason = unusable(mapping.refresh().await.unwrap_err());
    assert!(reason.contains("is not UTF-8") && reason.contains("CSV UTF-8"), "{reason}");

    // A folder that does not exist.
    let mut settings = f.settings.clone();
    settings.csv.path = f.dir.path().join("no-such-folder/mapping.csv");
    let reason = unusable(f.mapping_with(&settings).lookup(&super::key("name:a")).await.unwrap_err());
    assert!(reason.contains("the folder does not exist") && reason.contains("mapping.csv.path"), "{reason}");
    f.finish().await;
}

#[tokio::test]
async fn without_redis_lookups_are_unavailable() {
    let f = Fixture::new("csv-no-redis", Kind::Csv).await;
    let redis = sj_shared::config::RedisSettings { url: "redis://127.0.0.1:1/0".parse().unwrap() };
    let pool = sj_shared::store::pool(&redis).unwrap();
    let mapping = Mapping::new(&f.settings, pool, f.keys()).unwrap();
    let e = tokio::time::timeout(Duration::from_secs(20), mapping.lookup(&super::key("name:a")))
        .await
        .expect("fails fast")
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    f.finish().await;
}
