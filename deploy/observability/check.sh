#!/usr/bin/env bash
# Checks deploy/observability with Prometheus' own tool, promtool:
#  - alerts.yml parses and every rule's expression is valid PromQL (promtool check rules);
#  - every alert fires, and stays silent, as alerts.test.yml says (promtool test rules);
#  - every query of dashboard.json is valid PromQL (each wrapped in a recording rule, checked alike);
#  - what /metrics shows follows Prometheus' format and naming conventions (promtool check metrics
#    on `cargo run -p sj-shared --example metrics`, a page with every metric family).
# That every metric named here exists is shared/tests/observability.rs (in the test suite).
#
# promtool comes from Debian's `prometheus` package: when it is not on the PATH, the package is
# downloaded (apt-get download, nothing installed system-wide, no service started) and only
# promtool is extracted to target/tools/. Idempotent; needs apt (Debian) and python3.
#
# Usage: deploy/observability/check.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

promtool=$(command -v promtool || true)
if [[ -z $promtool ]]; then
  promtool=$root/target/tools/promtool
  if [[ ! -x $promtool ]]; then
    echo "== promtool: extracting it from Debian's prometheus package =="
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download prometheus >/dev/null 2>&1) ||
      { apt-get update -qq && (cd "$work" && apt-get download prometheus >/dev/null 2>&1); }
    dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
    mkdir -p "$(dirname "$promtool")"
    install -m 0755 "$work/usr/bin/promtool" "$promtool"
  fi
fi
"$promtool" --version 2>&1 | head -1

echo "== alert rules =="
"$promtool" check rules "$here/alerts.yml"
(cd "$here" && "$promtool" test rules alerts.test.yml)

echo "== dashboard queries =="
queries=$(mktemp --suffix=.yml)
python3 - "$here/dashboard.json" > "$queries" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1], encoding="utf-8"))
print("groups:\n  - name: dashboard\n    rules:")
for panel in dashboard["panels"]:
    for n, target in enumerate(panel.get("targets", [])):
        # Grafana's variables, as a query sees them once chosen.
        expr = target["expr"].replace("$instance", ".*")
        print(f"      - record: dashboard:query_{panel['id']}_{n}")
        print(f"        expr: {json.dumps(expr)}")
PY
"$promtool" check rules "$queries" | grep -v "^$"
rm -f "$queries"

echo "== /metrics format =="
(cd "$root" && cargo run --quiet -p sj-shared --example metrics) | "$promtool" check metrics
echo "/metrics: SUCCESS"
