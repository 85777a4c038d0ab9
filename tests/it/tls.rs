//! HTTPS, as the real Jobber and SaberisConnect speak it: the bridge's HTTP stack (reqwest on
//! rustls) completes a TLS handshake with a real TLS server (Python's `ssl`, a certificate made
//! by `openssl` here) and refuses a certificate it cannot trust.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    port: u16,
    cert: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn https_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = format!(
        "import http.server, ssl\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200); self.send_header('Content-Length', '6'); self.end_headers(); self.wfile.write(b'tls ok')\n\
         \x20   def log_message(self, *a): pass\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain({cert:?}, {key:?})\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         s.serve_forever()\n",
        cert = cert.display().to_string(),
        key = key.display().to_string(),
    );
    let child = Command::new("python3").arg("-c").arg(script).stderr(Stdio::null()).spawn().expect("python3");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port, cert: std::fs::read(&cert).unwrap(), _dir: dir }
}

#[tokio::test]
async fn https_works_and_an_untrusted_certificate_is_refused() {
    let server = https_server();
    let url = format!("https://127.0.0.1:{}/", server.port);

    // A self-signed certificate is not trusted: the request fails at the handshake.
    let refused = reqwest::get(&url).await.expect_err("an untrusted certificate must be refused");
    let chain = format!("{refused:?}");
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");

    // Trusting it, the handshake and the request go through.
    let root = reqwest::Certificate::from_pem(&server.cert).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
    let body = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, "tls ok");
}
