//! `sjctl`, run as a user runs it: arguments, stdout, stderr, exit codes.

mod catalogs;
mod dlq;
mod jobber;
mod parse;
mod status;
mod undo;
mod verify;

use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt as _;

use crate::pipeline::worker::Bridge;

/// Runs sjctl with a bridge's settings, `stdin` as its input (answers to its questions), without
/// blocking the test's runtime (the sandbox answers from it).
pub(crate) async fn sjctl(bridge: &Bridge, args: &[&str], stdin: &str) -> Output {
    let mut child = bridge
        .command("sjctl", "sjctl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

/// stdout then stderr, for messages and assertions.
pub(crate) fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
