//! TLS, for real, on the bridge's one stack (rustls with aws-lc-rs): HTTPS as the real Jobber
//! and SaberisConnect speak it (here), and `amqps://` to RabbitMQ through a TLS terminator
//! (`tls/amqps.rs`). Every server is a real TLS server (Python's `ssl`) with a certificate made
//! by `openssl` (`support::tls`); the handshake completes with a trusted certificate and is
//! refused otherwise. (The alerter's SMTP STARTTLS and implicit TLS: `alerter/tls.rs`.)

mod amqps;

use std::process::{Command, Stdio};

use crate::support::tls::{spawn_listening, Ca, ChildGuard, ServerCert};

/// A one-page HTTPS server on 127.0.0.1 with `cert`.
async fn https_server(cert: &ServerCert) -> (ChildGuard, u16) {
    let script = format!(
        "import http.server, ssl\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200); self.send_header('Content-Length', '6'); self.end_headers(); self.wfile.write(b'tls ok')\n\
         \x20   def log_message(self, *a): pass\n\
         s = http.server.HTTPServer(('127.0.0.1', 0), H)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain({cert:?}, {key:?})\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         print('listening', s.server_address[1], flush=True)\n\
         s.serve_forever()\n",
        cert = cert.cert.display().to_string(),
        key = cert.key.display().to_string(),
    );
    let mut python = Command::new("python3");
    python.arg("-c").arg(script).stderr(Stdio::null());
    spawn_listening(python).await
}

#[tokio::test]
async fn https_works_and_an_untrusted_certificate_is_refused() {
    let ca = Ca::new("sj test CA").await;
    let (_server, port) = https_server(&ca.issue(&["IP:127.0.0.1"]).await).await;
    let url = format!("https://127.0.0.1:{port}/");

    // A private authority's certificate is not trusted: the request fails at the handshake.
    let refused = reqwest::get(&url).await.expect_err("an untrusted certificate must be refused");
    let chain = format!("{refused:?}");
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");

    // Trusting the authority, the handshake and the request go through.
    let root = reqwest::Certificate::from_pem(&std::fs::read(&ca.cert).unwrap()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
    let body = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, "tls ok");
}
