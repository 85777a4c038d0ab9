//! `sj-alerter` as a process, against the real RabbitMQ and a real SMTP server (aiosmtpd, in
//! `alerter/smtp_sink.py`): one email per window, repeats counted, nothing acked before the server
//! took the email, nothing lost while it is away, a mail refused for good parked.
//!
//! The sink needs Python with aiosmtpd (Debian: `apt-get install python3-aiosmtpd`); set
//! `SJ_TEST_PYTHON` to use another interpreter. STARTTLS, implicit TLS and SMTP AUTH: `tls.rs`.

mod outage;
mod tls;
mod unauthorized;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::BasicProperties;
use serde_json::Value;
use sj_shared::amqp::{header, text, Publisher};
use sj_shared::intake::DocumentReader;
use sj_shared::message::{DeadLetter, QuoteRequest, Source, SourceKind, SCHEMA};

use crate::pipeline::Namespace;
use crate::support::{binary, root, samples};

/// A Python that has aiosmtpd (asked without blocking the runtime).
async fn python() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os("SJ_TEST_PYTHON") {
        Some(p) => vec![p.into()],
        None => vec!["/usr/bin/python3".into(), "python3".into()],
    };
    for p in candidates {
        let status = tokio::process::Command::new(&p)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .await;
        if status.is_ok_and(|s| s.success()) {
            return p;
        }
    }
    panic!("the SMTP sink needs Python with aiosmtpd: apt-get install -y python3-aiosmtpd (or set SJ_TEST_PYTHON)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (up to a generous bound: this is no timing assertion) until `done` holds.
async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The SMTP server: a port chosen up front, so the alerter can be pointed at it before it runs.
/// (The fault run uses it too.)
pub(crate) struct Sink {
    pub(crate) port: u16,
    dir: tempfile::TempDir,
    /// Options of `smtp_sink.py` (`--starttls CERT KEY`, `--tls CERT KEY`, `--auth USER PASSWORD`).
    options: Vec<OsString>,
    process: Option<Child>,
}

impl Sink {
    pub(crate) fn new() -> Self {
        Self::with_options(Vec::new())
    }

    fn with_options(options: Vec<OsString>) -> Self {
        Self { port: free_port(), dir: tempfile::tempdir().unwrap(), options, process: None }
    }

    pub(crate) async fn start(&mut self) {
        let script = root().join("tests/it/alerter/smtp_sink.py");
        let maildir = self.dir.path().join("mail");
        let log = std::fs::File::options().create(true).append(true).open(self.dir.path().join("sink.log"));
        let child = Command::new(python().await)
            .arg(script)
            .arg(self.port.to_string())
            .arg(&maildir)
            .args(&self.options)
            .stdout(Stdio::null())
            .stderr(log.unwrap())
            .spawn()
            .expect("start the SMTP sink");
        self.process = Some(child);
        let port = self.port;
        wait_until("the SMTP sink to listen", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
    }

    /// Every email received, oldest first (the JSON the sink wrote: subject, text, html…).
    pub(crate) fn mails(&self) -> Vec<Value> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail")) else { return Vec::new() };
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }

    pub(crate) async fn wait_for_mails(&self, n: usize) -> Vec<Value> {
        wait_until(&format!("{n} email(s)"), || async { self.mails().len() >= n }).await;
        self.mails()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One `sj-alerter` process of the test, its log (JSON lines) in a file. A tokio child: waiting
/// for it never blocks the test's runtime (its AMQP connection must keep sending heartbeats).
struct Alerter {
    process: tokio::process::Child,
    log: PathBuf,
}

impl Alerter {
    async fn start(ns: &Namespace, sink: &Sink, env: &[(&str, &str)]) -> Self {
        let log = sink.dir.path().join(format!("alerter-{}.log", free_port()));
        let process = tokio::process::Command::new(binary("sj-alerter", "sj-alerter").await)
            .env_remove("SJ_CONFIG")
            .env("SJ_NAMESPACE", &ns.name)
            .env("SJ_LOG__FORMAT", "json")
            .env("SJ_ALERTS__SMTP__PORT", sink.port.to_string())
            .env("SJ_ALERTS__FROM", "sj-bridge@example.com")
            .env("SJ_ALERTS__TO", r#"["ops@example.com"]"#)
            .env("SJ_ALERTS__WINDOW", "500ms")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { process, log }
    }

    fn log_lines(&self, part: &str) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().filter(|l| l.contains(part)).count()
    }

    async fn wait_for_log(&self, part: &str) {
        wait_until(&format!("{part:?} in the alerter's log"), || async { self.log_lines(part) > 0 }).await;
    }

    /// SIGKILL: whatever it had not acked returns to the queue.
    async fn crash(mut self) {
        // tokio's kill: SIGKILL, then waits for the exit.
        self.process.kill().await.unwrap();
    }

    /// SIGTERM, and a clean exit.
    async fn stop(mut self) {
        let pid = self.process.id().unwrap().to_string();
        assert!(tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
        let status = self.process.wait().await.unwrap();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(status.success(), "a clean exit after SIGTERM: {status:?}\n{log}");
    }
}

/// Declares the namespace's topology, so what the test publishes is routed before any alerter ran.
async fn publisher(ns: &Namespace) -> Publisher {
    let publisher = Publisher::open(&ns.connection, ns.topology.clone()).await.unwrap();
    ns.topology.declare(publisher.channel()).await.unwrap();
    publisher
}

/// What the poller dead-letters for a document it refused.
async fn reject(publisher: &Publisher, file: &str, kind: &str, reason: &str) {
    let letter = DeadLetter {
        schema: DeadLetter::SCHEMA.to_owned(),
        source: Source::now(SourceKind::Folder, file),
        kept_at: format!("rejected/{file}"),
        kind: sj_shared::failure::KindName::parse(kind),
        problems: vec![format!("{kind}: {reason}")],
        failed_at: "2026-03-14T09:30:00Z".to_owned(),
    };
    publisher.publish_dead_letter(&letter).await.unwrap().confirmed().await.unwrap();
}

fn quote_request(sample: &str) -> QuoteRequest {
    let bytes = std::fs::read(samples().join("saberis").join(sample)).unwrap();
    DocumentReader::default()
        .quote_request(&bytes, None, Source::now(SourceKind::Folder, sample), true)
        .unwrap()
}

/// What a worker dead-letters: the quote message as it was, with the reason in headers.
async fn park(
    publisher: &Publisher,
    ns: &Namespace,
    request: &QuoteRequest,
    kind: &str,
    reason: &str,
    attempts: i64,
) {
    let mut table = FieldTable::default();
    table.insert(header::SOURCE.into(), text(&request.source.id));
    let properties = BasicProperties::default()
        .with_message_id(ShortString::from(request.content_hash.as_str()))
        .with_type(SCHEMA.into())
        .with_headers(table);
    let added = [
        (header::ERROR_KIND, text(kind)),
        (header::ERROR, text(reason)),
        (header::ATTEMPTS, AMQPValue::LongLongInt(attempts)),
        (header::FIRST_FAILURE, text("2026-03-14T09:00:00Z")),
    ];
    let body = serde_json::to_vec(request).unwrap();
    publisher
        .republish(&ns.topology.dead_exchange(), "", &body, &properties, &added)
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
}

fn subject(mail: &Value) -> &str {
    mail["subject"].as_str().unwrap()
}

fn body(mail: &Value) -> &str {
    mail["text"].as_str().unwrap()
}

/// No more mail comes: waits past a few windows and checks the count.
async fn assert_no_more_mail(sink: &Sink, expected: usize) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.mails().len(), expected, "{:#?}", sink.mails());
}

#[tokio::test]
async fn a_poison_document_is_parked_and_named_in_exactly_one_email() {
    let ns = Namespace::new("alert-poison").await;
    let mut sink = Sink::new();
    sink.start().await;
    let alerter = Alerter::start(&ns, &sink, &[]).await;
    let publisher = publisher(&ns).await;
    reject(
        &publisher,
        "price-slip.xml",
        "sanity.price-above-limit",
        "unit price 1612400.00 is above the limit",
    )
    .await;

    let mails = sink.wait_for_mails(1).await;
    let mail = &mails[0];
    assert_eq!(
        subject(mail),
        format!("[sj-bridge {}] 1 document needs attention: 1 rejected (sanity)", ns.name)
    );
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["ops@example.com"]));
    assert_eq!(mail["content_type"], "multipart/alternative");
    let text = body(mail);
    assert!(text.contains("1. price-slip.xml: REJECTED by the poller"), "{text}");
    assert!(
        text.contains("Reason:        sanity.price-above-limit: unit price 1612400.00 is above the limit"),
        "{text}"
    );
    assert!(text.contains("First failure: 2026-03-14T09:30:00Z"), "{text}");
    assert!(text.contains("File kept at:  rejected/price-slip.xml"), "{text}");
    assert!(text.contains("change [sanity]"), "the fix hint: {text}");
    let parked_page = format!("http://127.0.0.1:15672/#/queues/%2f/{}", ns.topology.parked_queue());
    assert!(text.contains(&parked_page), "{text}");
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("price-slip.xml: REJECTED by the poller"), "{html}");
    assert!(html.contains(&format!("<a href=\"{parked_page}\">")), "{html}");

    assert_no_more_mail(&sink, 1).await;
    // The document is parked (the fanout's other copy), the alert consumed.
    assert_eq!(ns.peek_count(&ns.topology.parked_queue()).await, 1);
    alerter.stop().await;
    assert_eq!(ns.peek_count(&ns.topology.alerts_queue()).await, 0, "acked once emailed");
    ns.remove().await;
}

#[tokio::test]
async fn failures_in_one_window_make_one_email_and_a_repeat_is_counted_once() {
    let ns = Namespace::new("alert-window").await;
    let mut sink = Sink::new();
    sink.start().await;
    let publisher = publisher(&ns).await;
    // Everything is waiting before the alerter starts: all of it falls in its first window.
    let harbour = quote_request("kitchen-harbour-lane.json");
    reject(&publisher, "truncated.xml", "parse.malformed-xml", "the document ends inside <Description>")
        .await;
    park(&publisher, &ns, &harbour, "mapping.ambiguous-client", "two clients named Harbour Lane Builders", 1)
        .await;
    reject(&publisher, "one.json", "parse.invalid-value", "Quantity must be a decimal number").await;
    park(&publisher, &ns, &harbour, "mapping.ambiguous-client", "two clients named Harbour Lane Builders", 2)
        .await;
    let alerter = Alerter::start(&ns, &sink, &[("SJ_ALERTS__WINDOW", "2s")]).await;

    let mails = sink.wait_for_mails(1).await;
    assert_no_more_mail(&sink, 1).await;
    let mail = &mails[0];
    assert_eq!(
        subject(mail),
        format!("[sj-bridge {}] 3 documents need attention: 2 rejected (parse), 1 parked (mapping)", ns.name)
    );
    let text = body(mail);
    assert_eq!(text.matches("kitchen-harbour-lane.json: PARKED").count(), 1, "counted, not repeated: {text}");
    assert!(text.contains("Attempts:      2 (failed 2 times since the last email)"), "{text}");
    assert!(text.contains("Customer:      Harbour Lane Builders"), "{text}");
    // The id `sjctl dlq list` shows: 12 hex digits of the content hash.
    let id = harbour.content_hash.hex()[..12].to_owned();
    let replay = format!("Replay:        sjctl dlq replay --id {id}");
    assert!(text.lines().any(|l| l.trim() == replay), "{text}");
    assert!(text.contains("add a mapping"), "the fix hint: {text}");
    assert!(text.contains("truncated.xml: REJECTED") && text.contains("one.json: REJECTED"), "{text}");
    assert!(text.contains("put it back in incoming/"), "{text}");

    alerter.stop().await;
    assert_eq!(ns.peek_count(&ns.topology.alerts_queue()).await, 0, "all four acked");
    ns.remove().await;
}

#[tokio::test]
async fn more_documents_than_one_email_holds_go_out_in_several() {
    let ns = Namespace::new("alert-split").await;
    let mut sink = Sink::new();
    sink.start().await;
    let publisher = publisher(&ns).await;
    for name in ["a.xml", "b.xml", "c.xml"] {
        reject(&publisher, name, "parse.malformed-xml", "not XML").await;
    }
    let alerter = Alerter::start(&ns, &sink, &[("SJ_ALERTS__MAX_PER_MAIL", "2")]).await;
    let mails = sink.wait_for_mails(2).await;
    assert_no_more_mail(&sink, 2).await;
    let subjects: Vec<&str> = mails.iter().map(subject).collect();
    assert!(subjects[0].ends_with("2 documents need attention: 2 rejected (parse)"), "{subjects:?}");
    assert!(subjects[1].ends_with("1 document needs attention: 1 rejected (parse)"), "{subjects:?}");
    alerter.stop().await;
    ns.remove().await;
}

#[tokio::test]
async fn alerts_wait_unacked_while_smtp_is_down_and_go_out_when_it_is_back() {
    let ns = Namespace::new("alert-smtp-down").await;
    let mut sink = Sink::new(); // not started: the port refuses connections
    let publisher = publisher(&ns).await;
    let alerts = ns.topology.alerts_queue();
    let first = Alerter::start(&ns, &sink, &[]).await;
    reject(&publisher, "a.xml", "parse.malformed-xml", "not XML").await;
    reject(&publisher, "b.xml", "parse.malformed-xml", "not XML").await;

    // The alerter holds both and tries the server, in vain.
    wait_until("the alerter to take both alerts", || async { ns.peek_count(&alerts).await == 0 }).await;
    first.wait_for_log("the mail server is not taking the email").await;
    // Not acked: a crash gives both back to the queue.
    first.crash().await;
    wait_until("both alerts back in the queue", || async { ns.peek_count(&alerts).await == 2 }).await;

    // A new alerter, the server still down for a while, then back.
    let second = Alerter::start(&ns, &sink, &[]).await;
    wait_until("the new alerter to take both alerts", || async { ns.peek_count(&alerts).await == 0 }).await;
    second.wait_for_log("the mail server is not taking the email").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sink.mails().is_empty());
    sink.start().await;

    let mails = sink.wait_for_mails(1).await;
    assert_no_more_mail(&sink, 1).await;
    let text = body(&mails[0]);
    assert!(text.contains("a.xml: REJECTED") && text.contains("b.xml: REJECTED"), "nothing dropped: {text}");
    second.wait_for_log("digest emailed").await;
    // Acked after the email: a crash now gives nothing back.
    second.crash().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ns.peek_count(&alerts).await, 0, "acked once the server took the email");
    ns.remove().await;
}

#[tokio::test]
async fn an_email_the_server_refuses_for_good_is_parked_not_retried() {
    let ns = Namespace::new("alert-refused").await;
    let mut sink = Sink::new();
    sink.start().await;
    let publisher = publisher(&ns).await;
    let undeliverable = ns.topology.undeliverable_alerts_queue();
    reject(&publisher, "a.xml", "parse.malformed-xml", "not XML").await;
    reject(&publisher, "b.xml", "parse.malformed-xml", "not XML").await;
    let alerter = Alerter::start(&ns, &sink, &[("SJ_ALERTS__TO", r#"["refused@example.com"]"#)]).await;

    // (The undeliverable queue is the alerter's to declare: peeking at it before would close the
    // test's channel.)
    wait_until("both alerts parked", || async { alerter.log_lines("parked, not emailed") == 2 }).await;
    wait_until("both park copies confirmed", || async { ns.peek_count(&undeliverable).await == 2 }).await;
    assert!(sink.mails().is_empty());
    assert_eq!(alerter.log_lines("sending one email per document"), 1, "the digest first, then each alone");
    alerter.crash().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ns.peek_count(&ns.topology.alerts_queue()).await, 0, "acked once parked");

    let parked = ns.drain(&undeliverable).await;
    let reason = sj_shared::amqp::headers::text(parked[0].delivery.properties.headers(), "sj-alert-error");
    assert!(reason.is_some_and(|r| r.contains("550")), "the server's answer travels with it");
    ns.remove().await;
}
