#!/usr/bin/env bash
# The bridge end to end on the local default, with the project's sample documents:
# RabbitMQ and Redis (started when absent), sj-sandbox standing in for Jobber, sj-poller on a folder
# seeded with samples/saberis and samples/bad, and two sj-workers. Ends by printing what became of
# each document: the Jobber quote (number, client, total), or why it was archived or parked. The
# web console (sj-console) runs beside them: the demo prints its address and a user to sign in
# with (a password generated for the run, shown once); from a terminal it stays up until Enter.
#
# Usage: deploy/local/demo.sh          (needs python3 to print the summary)
# Everything it writes is under target/demo/ (exports, logs); the broker and Redis hold its state under
# the namespace `demo`, emptied at the start of each run.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
demo=$root/target/demo
bin=$root/target/debug

deploy/local/services.sh
echo "== building the bridge (first run takes a few minutes) =="
cargo build --quiet -p sj-sandbox -p sj-poller -p sj-worker -p sjctl -p sj-console

rm -rf "$demo" && mkdir -p "$demo/exports/incoming" "$demo/logs"
cp samples/saberis/* samples/bad/* "$demo/exports/incoming/"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# The sandbox picks a free port and says which on its first line.
"$bin/sj-sandbox" --port 0 > "$demo/logs/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$demo/logs/sandbox.log" 2>/dev/null && break; sleep 0.1; done
sandbox=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$demo/logs/sandbox.log" | head -1)
[[ -n $sandbox ]] || { echo "sj-sandbox did not start:"; cat "$demo/logs/sandbox.log"; exit 1; }
echo "== sj-sandbox (Jobber, SaberisConnect, Google Sheets) at $sandbox =="

# A Jobber connection, as the OAuth authorization would give (in production: sjctl jobber connect,
# with a browser).
refresh_token=$(curl -fsS -X POST "$sandbox/_admin/oauth/grants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')

# A namespace of its own, emptied first, so every run starts from nothing.
export SJ_NAMESPACE=demo
for queue in $(rabbitmqctl list_queues -q name 2>/dev/null | grep '^demo\.' || true); do
  rabbitmqctl delete_queue -q "$queue" >/dev/null
done
redis-cli -h 127.0.0.1 --scan --pattern 'demo:sj:*' | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
export SJ_LOG__FORMAT=json
export SJ_POLLER__FOLDER__INCOMING=$demo/exports/incoming
export SJ_POLLER__FOLDER__ARCHIVE=$demo/exports/archive
export SJ_POLLER__FOLDER__REJECTED=$demo/exports/rejected
export SJ_POLLER__FOLDER__SETTLE=100ms
# The samples are in incoming/ before the poller's first start: send them all (a real first start
# holds back what was there before the bridge: docs/operations.md, "Connecting for the first time").
export SJ_POLLER__FOLDER__START_FROM=everything
# The mapping table (CSV store): the workers append a row for every client they create.
export SJ_MAPPING__CSV__PATH=$demo/mapping.csv
# The catalog table beside it (docs/pricing.md): the dealer's multiplier and margin (or markup) per
# catalog, as staff keep it. A catalog it does not price parks its document until they do.
cp samples/catalogs.csv "$demo/catalogs.csv"
# PO routing to a job (docs/architecture.md): a PO such as `J#7` names a Jobber job, and the
# document's cabinets are added to it as lines (shown at the end).
export SJ_QUOTE__PO_JOB_PATTERN='(?i)^\s*J\s*#?\s*(\d+)\s*$'
export SJ_JOBBER__API_URL=$sandbox
export SJ_JOBBER__CLIENT_SECRET=sandbox-client-secret
export SJ_JOBBER__REFRESH_TOKEN=$refresh_token

echo "== sj-poller --once on $(ls "$demo/exports/incoming" | wc -l) documents =="
"$bin/sj-poller" --once 2> "$demo/logs/poller.log" | tee "$demo/logs/poller.out"
published=$(sed -n 's/^sj-poller: \([0-9]*\) published.*/\1/p' "$demo/logs/poller.out")

echo "== two sj-workers writing to Jobber =="
# Each serves /healthz, /readyz and /metrics on a free port (health.listen's default) and writes
# the address to its own file (docs/operations.md, "Health and metrics").
for n in 1 2; do
  SJ_HEALTH__ADDRESS_FILE=$demo/run/worker-$n.addr "$bin/sj-worker" 2> "$demo/logs/worker-$n.log" &
  pids+=($!)
done
# The web console over the same namespace (its history is the workers'), on a free port; its
# SQLite file in target/demo/. It is not part of the pipeline: if it cannot start, the demo goes on.
console=""
console_user=demo-admin
console_password=$(head -c 15 /dev/urandom | base64 | tr -d '/+=')
export SJ_CONSOLE__LISTEN=127.0.0.1:0 SJ_CONSOLE__DATABASE=$demo/console.sqlite3
if printf '%s\n' "$console_password" | "$bin/sj-console" user add "$console_user" --role admin \
     > "$demo/logs/console-user.log" 2>&1; then
  "$bin/sj-console" serve > "$demo/logs/console.out" 2> "$demo/logs/console.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$demo/logs/console.out" 2>/dev/null && break; sleep 0.1; done
  console=$(sed -n 's/^listening on \(.*\)/http:\/\/\1/p' "$demo/logs/console.out" | head -1)
fi

# Wait until every published document has an outcome (generous bound; the demo never hangs).
for _ in $(seq 600); do
  done_count=$(cat "$demo"/logs/worker-*.log | grep -cE '"message":"(quote created|lines added to an existing quote|already in Jobber: nothing written|dead-lettered)"' || true)
  [[ $done_count -ge $published ]] && break
  sleep 0.1
done

echo
echo "== what became of each document =="
python3 - "$demo" "$sandbox" <<'PY'
import glob, json, os, sys, urllib.request
demo, sandbox = sys.argv[1], sys.argv[2]
events = []
for path in glob.glob(f"{demo}/logs/*.log"):
    for line in open(path, encoding="utf-8", errors="replace"):
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
quotes = json.load(urllib.request.urlopen(f"{sandbox}/_admin/jobber/quotes"))
clients = {c["id"]: c for c in json.load(urllib.request.urlopen(f"{sandbox}/_admin/jobber/clients"))}
by_number = {str(q["quote_number"]): q for q in quotes}
rows = []
for e in events:
    msg, f = e.get("message"), e.get("file") or e.get("source") or e.get("document") or ""
    if msg == "quote created":
        q = by_number.get(str(e.get("quote")), {})
        client = clients.get(q.get("client_id"), {})
        name = client.get("company_name") or client.get("name") or "?"
        rows.append((f, f"Jobber quote #{e.get('quote')} for {name}: {len(q.get('line_items', []))} line{'s' if len(q.get('line_items', [])) != 1 else ''}, total {q.get('amounts', {}).get('total', 0):,.2f}"))
    elif msg == "already in Jobber: nothing written":
        rows.append((f, f"already in Jobber as {e.get('to') or 'quote #' + str(e.get('quote'))}: nothing written"))
    elif msg and msg.startswith("same content as a document"):
        rows.append((f, f"same order as {e.get('first_source')}: archived, not sent again"))
    elif msg == "dead-lettered":
        rows.append((f, f"PARKED ({e.get('kind')}): {e.get('reason')}"))
    elif msg == "document refused":
        rows.append((f, f"REJECTED: {e.get('error')}"))
for f, what in sorted(rows):
    print(f"  {f}\n      → {what}")
print(f"\n{len(quotes)} quotes in Jobber, {len(clients)} clients. Logs: {demo}/logs; files: {demo}/exports (archive/, rejected/).")
PY
echo
echo "== the workers' health endpoints =="
for n in 1 2; do
  addr=$(cat "$demo/run/worker-$n.addr" 2>/dev/null || true)
  [[ -n $addr ]] && echo "  worker-$n: http://$addr/metrics ($("$bin/sjctl" probe --address-file "$demo/run/worker-$n.addr" 2>&1 && echo ready))"
done
echo
echo "== the catalog table the quotes were priced by ($demo/catalogs.csv) =="
sed 's/^/  /' "$demo/catalogs.csv"
echo
echo "== the mapping table the workers wrote ($demo/mapping.csv) =="
"$bin/sjctl" mapping list 2>/dev/null || true

# A worker's log line of a message about a file, once one of them logged it (up to 30 s).
worker_line() {
  local pattern="\"message\":\"$1\".*$2"
  for _ in $(seq 300); do
    grep -q "$pattern" "$demo"/logs/worker-*.log && break
    sleep 0.1
  done
  grep -h "$pattern" "$demo"/logs/worker-*.log
}

# What an operator does with a parked document: the nameless bath at 7 Chemin du Lac is the
# Côté family's cottage. Map its address to their client, then replay it.
echo
echo "== an operator's fix: the nameless bath is for Côté Rénovations; map it, replay it =="
key=$("$bin/sjctl" dlq list --json | python3 -c '
import json, re, sys
for p in json.load(sys.stdin):
    m = re.search(r"mapping set .([^\x27]+).", p.get("reason") or "")
    if p.get("kind") == "mapping.no-customer-name" and m:
        print(m.group(1)); break')
cote=$(python3 -c '
import csv, sys
for row in csv.DictReader(open(sys.argv[1], encoding="utf-8")):
    if row["saberis_key"].startswith("name:côté"):
        print(row["jobber_client_id"]); break' "$demo/mapping.csv")
if [[ -n $key && -n $cote ]]; then
  echo "\$ sjctl mapping set '$key' $cote --by demo-operator"
  SJ_LOG__LEVEL=warn "$bin/sjctl" mapping set "$key" "$cote" --by demo-operator 2>&1 | sed 's/^/  /'
  echo "\$ sjctl dlq replay --all --kind mapping"
  SJ_LOG__LEVEL=warn "$bin/sjctl" dlq replay --all --kind mapping 2>&1 | sed 's/^/  /'
  worker_line "quote created" bath-gatineau | python3 -c "
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print('  bath-gatineau.json → Jobber quote #%s for the Côté client, total %s' % (e['quote'], e['total']))
" || true
fi

# A job target: staff have made a job in Jobber for Harbour Lane Builders (a client the workers
# created); the designer's next export names it in its PO (`J#<number>`), and its cabinets are
# added to the job as lines: unit price 0 (jobs.line_price), each line's cost kept as unit cost.
echo
echo "== a job target: staff make a job for Harbour Lane Builders; an export whose PO names it =="
client=$(curl -fsS "$sandbox/_admin/jobber/clients" | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if (c.get("company_name") or c.get("name")) == "Harbour Lane Builders":
        print(c["encoded_id"]); break')
job=""
if [[ -n $client ]]; then
  job=$(curl -fsS -X POST "$sandbox/_admin/jobber/jobs" -H 'content-type: application/json' \
    -d "{\"client\": \"$client\", \"title\": \"Kitchen install\", \"line_items\": [{\"name\": \"Install labour\", \"unit_price\": 1800, \"unit_cost\": 950}]}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["job_number"])')
fi
if [[ -n $job ]]; then
  echo "  Jobber job #$job (Kitchen install) for Harbour Lane Builders; kitchen-job.xml has PO J#$job"
  sed "s/<POnumber>PO-2231</<POnumber>J#$job</" samples/saberis/kitchen-harbour-lane.xml > "$demo/exports/incoming/kitchen-job.xml"
  "$bin/sj-poller" --once 2>> "$demo/logs/poller.log" | sed 's/^/  /'
  # What the job holds now: the staff's line, then the cabinets (their prices and costs checked).
  worker_line "lines added to an existing job" kitchen-job | python3 -c "
import json, sys, urllib.request
jobs = json.load(urllib.request.urlopen(sys.argv[1] + '/_admin/jobber/jobs'))
added = [l for j in jobs if str(j['job_number']) == sys.argv[2] for l in j['line_items'] if '[SJ-' in l['description']]
for line in sys.stdin:
    e = json.loads(line)
    kept = all(l['unit_price'] == 0 and l['unit_cost'] > 0 for l in added)
    how = 'unit price 0, costs kept' if kept else 'unit prices %s' % [l['unit_price'] for l in added]
    print('  kitchen-job.xml → %s lines added to Jobber %s (%s)' % (e['lines'], e['to'], how))
" "$sandbox" "$job" || true
else
  echo "  (no Harbour Lane Builders client to make a job for: see the outcomes above)"
fi
echo
echo "== the web console (sj-console) =="
if [[ -n $console ]]; then
  echo "  $console   sign in as $console_user, password $console_password (made for this run, shown once)"
  echo "  History: $console/history   database: $demo/console.sqlite3   log: $demo/logs/console.log"
else
  echo "  did not start: see $demo/logs/console-user.log and $demo/logs/console.log"
fi
echo
echo "Parked documents wait in the queue ${SJ_NAMESPACE}.sj.quotes.dead (RabbitMQ UI: http://127.0.0.1:15672, guest/guest)."
echo "See them: SJ_NAMESPACE=demo target/debug/sjctl dlq list; what happened: SJ_NAMESPACE=demo target/debug/sjctl history"
if [[ -n $console && -t 0 ]]; then
  echo
  read -r -p "The console stays up at $console until you press Enter (everything stops then). " _ || true
fi
