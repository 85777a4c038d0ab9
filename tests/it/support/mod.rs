//! What several test modules need: where the documents are, and the project's binaries.

pub mod tls;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

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

/// The path of one of the workspace's binaries, built on first use (`cargo test` builds only
/// the test binaries; `cargo build` is a quick no-op when the binary is up to date).
pub fn binary(package: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    // target/<profile>/deps/it-<hash> → target/<profile>
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", package, "--bin", name]).current_dir(root());
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p {package} --bin {name} failed");
        built.push(name.to_owned());
    }
    profile_dir.join(name)
}
