//! Certificates for the TLS tests, made with the `openssl` command line: a private certificate
//! authority (what `SSL_CERT_FILE` points the bridge at) and server certificates it signs for the
//! names a test chooses. A second authority, never trusted, stands for "someone else's
//! certificate".

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A certificate authority of its own, in a temporary folder.
pub struct Ca {
    dir: tempfile::TempDir,
    /// The authority's certificate (PEM): the file to trust.
    pub cert: PathBuf,
    key: PathBuf,
    issued: AtomicU32,
}

/// A server certificate (PEM) and its private key, signed by a [`Ca`].
#[derive(Clone)]
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Runs `openssl` without blocking the test's runtime (its AMQP connection sends heartbeats).
async fn openssl(args: &[&str], dir: &Path) {
    let out = tokio::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// An EC P-256 key: quick to make, and what rustls and Python's `ssl` both speak.
const EC_KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Ca {
    pub async fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let subject = format!("/CN={name}");
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", &subject];
        args.extend(EC_KEY);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        args.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        openssl(&args, dir.path()).await;
        let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
        Self { dir, cert, key, issued: AtomicU32::new(0) }
    }

    /// A server certificate for `names`, in subjectAltName form (`DNS:localhost`, `IP:127.0.0.1`).
    pub async fn issue(&self, names: &[&str]) -> ServerCert {
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let dir = self.dir.path();
        let (key, csr, cert, ext) = (
            format!("server{n}.key"),
            format!("server{n}.csr"),
            format!("server{n}.pem"),
            format!("server{n}.ext"),
        );
        let common_name = names[0].split_once(':').map_or(names[0], |(_, name)| name);
        let subject = format!("/CN={common_name}");
        let mut args = vec!["req", "-nodes", "-subj", &subject];
        args.extend(EC_KEY);
        args.extend(["-keyout", &key, "-out", &csr]);
        openssl(&args, dir).await;
        std::fs::write(
            dir.join(&ext),
            format!(
                "subjectAltName={}\nbasicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
                names.join(",")
            ),
        )
        .unwrap();
        let (ca_cert, ca_key) = (self.cert.to_str().unwrap(), self.key.to_str().unwrap());
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                ca_cert,
                "-CAkey",
                ca_key,
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
            dir,
        )
        .await;
        ServerCert { cert: dir.join(cert), key: dir.join(key) }
    }
}

/// A child process killed (and reaped) when dropped, so a failed test leaves none behind.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Python TLS server script that picks its own port and prints `listening PORT` on stdout
/// once it accepts connections: starts it and returns it with that port. The line is awaited on
/// a blocking thread, not on the test's runtime.
pub async fn spawn_listening(mut command: Command) -> (ChildGuard, u16) {
    let mut child = ChildGuard(command.stdout(Stdio::piped()).spawn().expect("start the Python server"));
    let stdout = child.0.stdout.take().unwrap();
    // Returns at the line, or at end of file if the script died (then the assertion says so).
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let port = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok());
    let port =
        port.unwrap_or_else(|| panic!("the server did not start: {line:?} ({:?})", child.0.try_wait()));
    (child, port)
}
