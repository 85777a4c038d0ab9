#!/usr/bin/env bash
# The bridge on the local default, with the project's sample documents.
#
# Today (the pipeline is not built yet) this reads every sample Saberis document the way the
# poller will, and prints what each becomes: the quote message's customer, lines, total and
# content hash, or the one-line reason a document is refused. The full JSON messages are in
# target/demo/messages.jsonl.
#
# Usage: deploy/local/demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p sjctl
mkdir -p target/demo
sjctl=target/release/sjctl
echo "== Saberis documents in samples/saberis and samples/bad, read and normalized =="
status=0
"$sjctl" parse --summary samples/saberis/* samples/bad/* || status=$?
"$sjctl" parse samples/saberis/* > target/demo/messages.jsonl
echo
echo "== $(wc -l < target/demo/messages.jsonl) quote messages written to target/demo/messages.jsonl =="
echo "(the three refusals above are expected: samples/bad holds a price slip, a bad quantity and a truncated file)"
# Exit 2 means "some document was refused", which is what the bad samples are for.
[[ $status -eq 0 || $status -eq 2 ]]
