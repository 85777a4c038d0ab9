#!/usr/bin/env bash
# Runs every test of the project: starts RabbitMQ and Redis when they are not running, then the
# unit, property and integration tests of the whole workspace. The real Saberis documents in
# ../shared/fixtures/saberis are used when that folder is beside the repository.
#
# Usage: deploy/local/test.sh [extra cargo test arguments, e.g. -- parser::]
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/services.sh
exec cargo test --workspace --locked "$@"
