//! `amqps://` for real: the local RabbitMQ has no TLS listener (and is shared, so it is not
//! reconfigured), so a TLS terminator (`tls_proxy.py`, Python's `ssl`) stands in front of it and
//! the bridge's processes talk AMQP over TLS to it, trusting the test's authority through
//! `SSL_CERT_FILE` as an operator trusts a private CA.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::pipeline::worker::Bridge;
use crate::support::root;
use crate::support::tls::{spawn_listening, Ca, ChildGuard, ServerCert};

/// The TLS terminator in front of 127.0.0.1:5672, with `cert`; its log (one line per connection)
/// in a file.
struct TlsProxy {
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _process: ChildGuard,
}

impl TlsProxy {
    async fn start(cert: &ServerCert) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("proxy.log");
        let mut python = Command::new("python3");
        python
            .arg(root().join("tests/it/tls/tls_proxy.py"))
            .arg(&cert.cert)
            .arg(&cert.key)
            .arg("5672")
            .stderr(std::fs::File::create(&log).unwrap());
        let (process, port) = spawn_listening(python).await;
        Self { port, log, _dir: dir, _process: process }
    }

    fn log_lines(&self, line: &str) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().filter(|l| *l == line).count()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The URL of the broker behind the proxy, reached by `host`.
fn amqps_url(host: &str, proxy: &TlsProxy) -> String {
    format!("amqps://guest:guest@{host}:{}/%2f", proxy.port)
}

/// `sj-poller --once` on an empty folder over `url`, trusting `ca`: it connects, declares the
/// topology and exits 0, or exits 2 when the broker cannot be used.
async fn poll_once(bridge: &Bridge, url: &str, ca: &Ca) -> Output {
    bridge
        .command("sj-poller", "sj-poller")
        .arg("--once")
        .env("SJ_AMQP__URL", url)
        .env("SSL_CERT_FILE", &ca.cert)
        // A refused certificate is retried like an unreachable broker until this runs out.
        .env("SJ_AMQP__CONNECT_TIMEOUT", "1s")
        .stdout(Stdio::null())
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn poller_and_worker_run_end_to_end_over_amqps_trusting_a_private_ca() {
    let ca = Ca::new("sj test CA").await;
    let proxy = TlsProxy::start(&ca.issue(&["DNS:localhost"]).await).await;
    let mut bridge = Bridge::start("amqps-e2e").await;
    bridge.env.push(("SJ_AMQP__URL".into(), amqps_url("localhost", &proxy)));
    bridge.env.push(("SSL_CERT_FILE".into(), ca.cert.display().to_string()));
    bridge.add(&crate::support::samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");

    // Published over TLS (the poller waits for the broker's confirmation), written by a worker
    // that consumed it over TLS.
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { !bridge.quotes().await.is_empty() }).await;
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), 1);
    assert_eq!(format!("{:.2}", quotes[0]["amounts"]["total"].as_f64().unwrap()), "2911.85");

    // Both went through the terminator, asking for the certificate's name.
    assert!(proxy.log_lines("tls connection") >= 2, "{}", proxy.log());
    assert!(proxy.log_lines("sni localhost") >= 2, "{}", proxy.log());
    assert_eq!(proxy.log_lines("sni -"), 0, "{}", proxy.log());
    let consuming = bridge.worker_log(&["sj-worker consuming"]);
    assert!(!consuming.is_empty());
    bridge.stop().await;
}

#[tokio::test]
async fn amqps_refuses_a_certificate_from_an_untrusted_ca_or_for_another_name() {
    let trusted = Ca::new("sj test CA").await;
    let stranger = Ca::new("someone else's CA").await;
    let bridge = Bridge::start("amqps-refused").await;

    // A certificate for the right name, from an authority the bridge does not trust.
    let untrusted = TlsProxy::start(&stranger.issue(&["DNS:localhost"]).await).await;
    let url = amqps_url("localhost", &untrusted);
    let out = poll_once(&bridge, &url, &trusted).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "the broker could not be used: {stderr}");
    let expected = format!("sj-poller: cannot connect to RabbitMQ at localhost:{}", untrusted.port);
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("invalid peer certificate: UnknownIssuer"), "{stderr}");
    assert!(!stderr.contains("guest:guest"), "the password stays out of the logs: {stderr}");
    assert_eq!(untrusted.log_lines("tls connection"), 0, "{}", untrusted.log());

    // A trusted certificate, but for localhost only, reached as 127.0.0.1: the name is checked.
    let localhost_only = TlsProxy::start(&trusted.issue(&["DNS:localhost"]).await).await;
    let out = poll_once(&bridge, &amqps_url("127.0.0.1", &localhost_only), &trusted).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let wrong_name = r#"invalid peer certificate: certificate not valid for name "127.0.0.1""#;
    assert!(stderr.contains(wrong_name), "{stderr}");
    assert_eq!(localhost_only.log_lines("tls connection"), 0, "{}", localhost_only.log());

    // The same terminator reached by its certificate's name: accepted (so the refusals above were
    // the certificate's, not the terminator's).
    let out = poll_once(&bridge, &amqps_url("localhost", &localhost_only), &trusted).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(localhost_only.log_lines("tls connection") >= 1, "{}", localhost_only.log());
    bridge.stop().await;
}
