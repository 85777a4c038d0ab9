//! What several test modules need: where the documents are, and the project's binaries.

pub mod browser;
pub mod tls;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{LazyLock, Mutex};

/// The workspace root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace root")
}

/// The project's own sample documents (`samples/`), always present.
pub fn samples() -> PathBuf {
    root().join("samples")
}

/// The real Saberis documents in `../shared/fixtures/saberis`, beside the repository (never
/// copied into it). `None`, with a note on stderr, where that folder is absent; CI always has it.
pub fn real_fixtures(test: &str) -> Option<PathBuf> {
    let dir = root().parent().map(|p| p.join("shared/fixtures/saberis"));
    match dir {
        Some(dir) if dir.join("xml").is_dir() && dir.join("connect-json").is_dir() => Some(dir),
        _ => {
            eprintln!("SKIPPED {test}: ../shared/fixtures/saberis is not beside this repository");
            None
        }
    }
}

/// The binaries built in this run (by name). Held only for a look-up, never across a build.
static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// One `cargo build` at a time. A tokio mutex: a test waiting for another's build yields instead
/// of blocking its runtime (its AMQP connection must keep sending heartbeats meanwhile).
static BUILDING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

fn is_built(name: &str) -> bool {
    BUILT.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|b| b == name)
}

/// target/<profile>/deps/it-<hash> → target/<profile>
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_owned()
}

/// `cargo build` of one binary, in the profile of this test binary.
fn cargo_build(package: &str, name: &str) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", name]).current_dir(root());
    if profile_dir().file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    cmd
}

/// The path of one of the workspace's binaries, built on first use (`cargo build` runs under
/// tokio, so the runtime keeps serving while it runs; `cargo test` builds only the test
/// binaries, and `cargo build` is a quick no-op when the binary is up to date).
pub async fn binary(package: &str, name: &str) -> PathBuf {
    if !is_built(name) {
        let _one_at_a_time = BUILDING.lock().await;
        if !is_built(name) {
            let status = tokio::process::Command::from(cargo_build(package, name))
                .status()
                .await
                .expect("run cargo build");
            assert!(status.success(), "cargo build -p {package} --bin {name} failed");
            BUILT.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_owned());
        }
    }
    profile_dir().join(name)
}

/// [`binary`] for a plain `#[test]`, which has no runtime to block.
pub fn binary_blocking(package: &str, name: &str) -> PathBuf {
    if !is_built(name) {
        let _one_at_a_time = BUILDING.blocking_lock();
        if !is_built(name) {
            let status = cargo_build(package, name).status().expect("run cargo build");
            assert!(status.success(), "cargo build -p {package} --bin {name} failed");
            BUILT.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_owned());
        }
    }
    profile_dir().join(name)
}

/// The path of a binary this run already built with [`binary`] (for helpers that are not async).
pub fn built(name: &str) -> PathBuf {
    assert!(is_built(name), "{name} is not built yet: `support::binary(..).await` it first");
    profile_dir().join(name)
}
