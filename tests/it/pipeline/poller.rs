//! `sj-poller --once` on a folder of documents: what is published, archived and rejected.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

use sj_shared::amqp::headers;

use super::Namespace;
use crate::support::{binary, samples};

struct Exports {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Exports {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("incoming")).unwrap();
        Self { _dir: dir, root }
    }

    fn incoming(&self) -> PathBuf {
        self.root.join("incoming")
    }

    fn add(&self, from: &Path, as_name: &str) {
        std::fs::copy(from, self.incoming().join(as_name)).unwrap();
    }

    fn files(&self, sub: &str) -> Vec<String> {
        let mut names = Vec::new();
        let dir = self.root.join(sub);
        for entry in walk(&dir) {
            names.push(entry.strip_prefix(&dir).unwrap().display().to_string());
        }
        names.sort();
        names
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Without blocking the test's runtime (its AMQP connection sends heartbeats meanwhile).
async fn poll_once(ns: &Namespace, exports: &Exports) -> Output {
    Command::new(binary("sj-poller", "sj-poller").await)
        .arg("--once")
        .env_remove("SJ_CONFIG")
        .env("SJ_NAMESPACE", &ns.name)
        .env("SJ_LOG__FORMAT", "json")
        .env("SJ_POLLER__FOLDER__INCOMING", exports.incoming())
        .env("SJ_POLLER__FOLDER__ARCHIVE", exports.root.join("archive"))
        .env("SJ_POLLER__FOLDER__REJECTED", exports.root.join("rejected"))
        .env("SJ_POLLER__FOLDER__SETTLE", "50ms")
        // The documents are there before the first start: take them all.
        .env("SJ_POLLER__FOLDER__START_FROM", "everything")
        .output()
        .await
        .expect("run sj-poller")
}

#[tokio::test]
async fn documents_are_published_archived_or_rejected_and_reexports_are_not_sent_twice() {
    let ns = Namespace::new("poller").await;
    let exports = Exports::new();
    for entry in std::fs::read_dir(samples().join("saberis"))
        .unwrap()
        .chain(std::fs::read_dir(samples().join("bad")).unwrap())
    {
        let path = entry.unwrap().path();
        exports.add(&path, path.file_name().unwrap().to_str().unwrap());
    }
    std::fs::write(exports.incoming().join("notes.txt"), "not a Saberis export").unwrap();

    let out = poll_once(&ns, &exports).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The kitchen comes three times (XML, JSON, a re-export): published once.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "sj-poller: 4 published, 2 already published (archived), 3 rejected"
    );

    // What the broker holds: one message per distinct document, with the content hash as id.
    let quotes = ns.drain(&ns.topology.quotes_queue()).await;
    assert_eq!(quotes.len(), 4);
    let mut customers = Vec::new();
    for message in &quotes {
        let request = sj_shared::message::QuoteRequest::from_json(&message.delivery.data).unwrap();
        let props = &message.delivery.properties;
        assert_eq!(props.message_id().as_ref().map(|s| s.as_str()), Some(request.content_hash.as_str()));
        assert_eq!(props.delivery_mode(), &Some(2), "persistent");
        assert_eq!(props.kind().as_ref().map(|s| s.as_str()), Some("sj.quote-request.v1"));
        assert_eq!(headers::text(props.headers(), "sj-source").as_deref(), Some(request.source.id.as_str()));
        customers.push(request.customer.name.unwrap_or_default());
    }
    customers.sort();
    assert_eq!(customers, ["", "Côté Rénovations", "Dana Whitcombe", "Harbour Lane Builders"]);

    // The refused ones: dead-lettered (parked and alerted), with the reason in headers.
    let parked = ns.drain(&ns.topology.parked_queue()).await;
    let alerts = ns.drain(&ns.topology.alerts_queue()).await;
    assert_eq!((parked.len(), alerts.len()), (3, 3));
    let mut kinds: Vec<String> = parked
        .iter()
        .map(|m| headers::text(m.delivery.properties.headers(), "sj-error-kind").unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["parse.invalid-value", "parse.malformed-xml", "sanity.price-above-limit"]);

    // The files: nothing left in incoming but what is not a document; every document kept.
    assert_eq!(exports.files("incoming"), ["notes.txt"]);
    let archived = exports.files("archive");
    assert_eq!(archived.len(), 6, "{archived:?}");
    assert!(
        archived.iter().all(|p| p.len() > 11 && &p[4..5] == "-" && &p[10..11] == "/"),
        "archive/YYYY-MM-DD/: {archived:?}"
    );
    let rejected = exports.files("rejected");
    assert_eq!(rejected.len(), 6, "{rejected:?}");
    let reason = std::fs::read_to_string(exports.root.join("rejected/price-slip.xml.error.txt")).unwrap();
    assert!(
        reason.starts_with("price-slip.xml: sanity.price-above-limit: unit price 1612400.00"),
        "{reason}"
    );
    assert!(reason.contains("correct the order in Saberis"), "{reason}");

    // A later re-export of a published design, under a new name: archived, not sent again.
    exports
        .add(&samples().join("saberis/kitchen-harbour-lane.json"), "Harbour-Lane-reexport-2026-11-22.json");
    let out = poll_once(&ns, &exports).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "sj-poller: 0 published, 1 already published (archived), 0 rejected"
    );
    assert!(ns.drain(&ns.topology.quotes_queue()).await.is_empty());
    ns.remove().await;
}

#[tokio::test]
async fn an_unreachable_broker_leaves_every_file_in_place() {
    let exports = Exports::new();
    exports.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    let out = Command::new(binary("sj-poller", "sj-poller").await)
        .arg("--once")
        .env_remove("SJ_CONFIG")
        .env("SJ_AMQP__URL", "amqp://guest:guest@127.0.0.1:1/%2f")
        .env("SJ_AMQP__CONNECT_TIMEOUT", "300ms")
        .env("SJ_POLLER__FOLDER__INCOMING", exports.incoming())
        .env("SJ_POLLER__FOLDER__ARCHIVE", exports.root.join("archive"))
        .env("SJ_POLLER__FOLDER__REJECTED", exports.root.join("rejected"))
        .env("SJ_POLLER__FOLDER__START_FROM", "everything")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to RabbitMQ at 127.0.0.1:1/%2f"), "{stderr}");
    assert!(!stderr.contains("guest:guest"), "credentials must not be printed: {stderr}");
    assert_eq!(exports.files("incoming"), ["vanity.json"]);
    assert!(exports.files("archive").is_empty());
}
