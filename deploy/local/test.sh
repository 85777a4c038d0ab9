#!/usr/bin/env bash
# Runs every test of the project: starts RabbitMQ and Redis when they are not running, then the
# unit, property and integration tests of the whole workspace. The real Saberis documents in
# ../shared/fixtures/saberis are used when that folder is beside the repository.
#
# Usage: deploy/local/test.sh [extra cargo test arguments, e.g. -- parser::]
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/services.sh
# Test namespaces (t<pid>-<n>-<test>) left in the broker by an interrupted run: each is a set of
# quorum queues, and hundreds of them slow the broker down.
# A namespace whose test process (the pid in its name) still runs belongs to another run going on
# beside this one: left alone.
for queue in $(rabbitmqctl list_queues -q name 2>/dev/null | grep -E '^t[0-9]+-[0-9]+-' || true); do
  pid=${queue#t}; pid=${pid%%-*}
  kill -0 "$pid" 2>/dev/null && continue
  rabbitmqctl delete_queue -q "$queue" >/dev/null 2>&1 || true
done
# Shovels a failed test's "Move messages" left behind.
rabbitmqctl list_parameters -q 2>/dev/null | awk -F'\t' '$1 == "shovel" && $2 ~ /^Move from t[0-9]+-[0-9]+-/ {print $2}' |
  while IFS= read -r name; do rabbitmqctl clear_parameter -q shovel "$name" >/dev/null 2>&1 || true; done
# Every binary the integration tests start, built before any test runs: built lazily inside the
# tests instead, one package at a time, a slow first build (sj-console's bundled SQLite, the
# sandbox) held other tests past their bounds while their services waited.
cargo build --locked --bins
exec cargo test --workspace --locked --no-fail-fast "$@"
