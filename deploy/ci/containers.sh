#!/usr/bin/env bash
# CI: the bridge's image and compose stack, for real, on a Debian 12 machine without Docker and
# without a container registry (../shared/reference/containers-here.md says why each step is so).
#
#   1. installs podman, runc, mmdebstrap and docker-compose (idempotent);
#   2. makes the base images locally (mmdebstrap), tagged with the names the Dockerfiles use;
#   3. checks the build context (.dockerignore), builds deploy/docker/Dockerfile unchanged
#      (compiling inside it; the host's cargo registry is mounted as an overlay when present) and
#      the stand-ins of deploy/compose/;
#   4. brings docker-compose.yml up with Debian's docker-compose against podman's API, in a network
#      namespace of its own that has only loopback (deploy/ci/compose.netns.yml);
#   5. drops samples/ into the exports folder and asserts: quotes in the sandbox, the parked
#      document in RabbitMQ's dead-letter queue, an alert email in the mail catcher, the poller's
#      folders writable, /readyz ready on every process; the web console: a user added inside its
#      container (`sj-console user add`, password on stdin), signed in over HTTP, the history page
#      showing the batch and the review page; `--scale worker=3` and a second batch;
#   6. stops the stack (every process of the bridge must exit 0 on SIGTERM), `down -v`.
# Everything it made (containers, volumes, namespace, podman service, temporary files) is removed
# on the way out, failed or not. The machine's own RabbitMQ and Redis are never touched. Images
# stay (a second run reuses their layers); SJ_CI_REMOVE_IMAGES=1 removes them too.
#
# Usage (as root): deploy/ci/containers.sh
# Environment: SJ_CI_NETNS (namespace name, default sjci-$$), SJ_CI_KEEP=1 (leave the stack up
# for a look, nothing cleaned), SJ_CI_TIMEOUT (seconds per wait, default 180).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

netns=${SJ_CI_NETNS:-sjci-$$}
project=sjci$$
timeout=${SJ_CI_TIMEOUT:-180}
state=$(mktemp -d /tmp/sj-containers-ci.XXXXXX)
export CONTAINERS_CONF=$state/containers.conf
export DOCKER_HOST=unix://$state/podman.sock
export COMPOSE_PROJECT_NAME=$project SJ_NETNS=$netns
export SJ_EXPORTS_DIR=$state/exports SJ_MAPPING_DIR=$state/mapping
# The samples' catalogs are priced by the default markup (no catalog table in this run).
export SJ_UNPRICED_CATALOG=default
compose=(docker-compose --ansi never -f docker-compose.yml -f deploy/ci/compose.netns.yml)
service_pid=
healthchecker_pid=
phase_started=$(date +%s)
run_started=$phase_started
timings=()

log() { printf '\n== containers.sh: %s\n' "$*" >&2; }
fail() { printf '\ncontainers.sh: FAILED: %s\n' "$*" >&2; exit 1; }
phase() { # ends the current phase (named by $1) and starts the next
  local now; now=$(date +%s)
  timings+=("$(printf '%-34s %4ds' "$1" $((now - phase_started)))")
  phase_started=$now
}
in_ns() { ip netns exec "$netns" "$@"; }
http() { in_ns curl -fsS --max-time 10 "$@"; }

cleanup() {
  local status=$?
  set +e
  if [[ ${SJ_CI_KEEP:-} == 1 ]]; then
    log "SJ_CI_KEEP=1: left up (project $project, namespace $netns, DOCKER_HOST=$DOCKER_HOST, CONTAINERS_CONF=$CONTAINERS_CONF)"
    return
  fi
  [[ -n $healthchecker_pid ]] && kill "$healthchecker_pid" 2>/dev/null
  if [[ $status -ne 0 && -S $state/podman.sock ]]; then
    log "logs of the failed run"
    "${compose[@]}" ps 2>/dev/null
    for c in $(podman ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}}'); do
      echo "--- $c"; podman logs --tail 40 "$c" 2>&1
    done
  fi
  [[ -S $state/podman.sock ]] && timeout 120 "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1
  podman ps -a -q --filter "label=com.docker.compose.project=$project" | xargs -r podman rm -f -t 5 >/dev/null 2>&1
  podman volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r podman volume rm -f >/dev/null 2>&1
  [[ -n $service_pid ]] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null
  ip netns delete "$netns" 2>/dev/null
  if [[ ${SJ_CI_REMOVE_IMAGES:-} == 1 ]]; then
    podman rmi -f sj-bridge:latest sj-rabbitmq:local sj-redis:local sj-mailcatcher:local sj-traces:local \
      sj-context-probe:latest >/dev/null 2>&1
  fi
  rm -rf "$state"
  if [[ ${#timings[@]} -gt 0 ]]; then
    printf '\ncontainers.sh: timings\n' >&2
    printf '  %s\n' "${timings[@]}" >&2
    printf '  %-34s %4ds\n' total $(($(date +%s) - run_started)) >&2
  fi
  [[ $status -eq 0 ]] && printf 'containers.sh: OK\n' >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) -eq 0 ]] || fail "run as root (podman without rootless setup, ip netns)"

# ---------------------------------------------------------------------------------------------
log "tools: podman, runc, mmdebstrap, docker-compose"
need=()
for tool in podman:podman runc:runc mmdebstrap:mmdebstrap docker-compose:docker-compose curl:curl python3:python3; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool##*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# crun refuses this kernel's hybrid cgroups: runc. Root lacks CAP_SYS_RESOURCE under a hard nofile
# limit of 20000, while podman asks for 1048576: both ulimits set.
cat > "$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
podman --version
phase "install tools"

# ---------------------------------------------------------------------------------------------
log "base images (no registry here: made with mmdebstrap, named as the Dockerfiles name them)"
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)}
mirror=${mirror:-http://deb.debian.org/debian}
if ! podman image exists docker.io/library/debian:bookworm-slim; then
  mmdebstrap --quiet --variant=minbase bookworm - "$mirror" \
    | podman import --change 'CMD ["bash"]' - docker.io/library/debian:bookworm-slim >/dev/null
fi
phase "base image debian:bookworm-slim"
if ! podman image exists docker.io/library/rust:1.95-bookworm ||
  [[ $(podman image inspect docker.io/library/rust:1.95-bookworm --format '{{index .Labels "sj.ci.host-ca"}}') != 1 ]]; then
  sysroot=$(rustc --print sysroot)
  [[ -x $sysroot/bin/cargo ]] || fail "no Rust toolchain with cargo on this machine ($sysroot)"
  podman build -q --pull=never --network host -v "$sysroot:/toolchain:ro" -v /etc/ssl/certs:/host-certs:ro \
    -t docker.io/library/rust:1.95-bookworm -f deploy/ci/rust-base.Containerfile deploy/ci >/dev/null
fi
phase "base image rust:1.95-bookworm"

# ---------------------------------------------------------------------------------------------
log "the build context leaves out target/, .git and the rehearsal's data (.dockerignore)"
mkdir -p target exports
touch target/.sj-context-probe exports/.sj-context-probe
probe_dir=$state/probe
mkdir -p "$probe_dir"
cat > "$probe_dir/Containerfile" <<'EOF'
FROM docker.io/library/debian:bookworm-slim
COPY . /context
RUN set -e; for p in target .git exports fuzz/target; do \
      if [ -e "/context/$p" ]; then echo "the build context carries $p: .dockerignore must leave it out"; exit 1; fi; \
    done; du -sh /context
EOF
podman build --pull=never --network none -f "$probe_dir/Containerfile" -t sj-context-probe:latest . \
  || fail "the build context is not what .dockerignore should make it"
rm -f exports/.sj-context-probe target/.sj-context-probe
rmdir exports 2>/dev/null || true
podman rmi -f sj-context-probe:latest >/dev/null
phase "build context check"

# ---------------------------------------------------------------------------------------------
log "the bridge's image: deploy/docker/Dockerfile, compiled inside"
mounts=()
# An overlay of the host's registry: the crates are there already, nothing written back.
[[ -d $HOME/.cargo/registry/cache ]] && mounts+=(-v "$HOME/.cargo/registry:/usr/local/cargo/registry:O")
podman build --format docker --pull=never --network host "${mounts[@]}" \
  -f deploy/docker/Dockerfile -t sj-bridge:latest . 2>&1 | grep -v '^\s*Compiling ' || fail "image build"
podman image exists sj-bridge:latest || fail "image build"
[[ $(podman image inspect sj-bridge:latest --format '{{.Config.User}}') == 10001:10001 ]] \
  || fail "the image must run as uid 10001"
podman image inspect sj-bridge:latest --format '{{json .Config.Healthcheck}}' | grep -q probe \
  || fail "the image has no HEALTHCHECK with sjctl probe"
podman run --rm --network none sj-bridge:latest sh -c \
  'for b in sj-poller sj-worker sj-alerter sj-console sj-sandbox sjctl; do $b --version || exit 1; done'
podman image ls sj-bridge:latest --format 'sj-bridge:latest {{.Size}}'
phase "image sj-bridge (compile)"

log "the stand-ins (deploy/compose/*, from Debian packages)"
for standin in rabbitmq redis mailcatcher traces; do
  podman build -q --format docker --pull=never --network host \
    -f "deploy/compose/$standin/Dockerfile" -t "sj-$standin:local" . >/dev/null
done
phase "stand-in images"

# ---------------------------------------------------------------------------------------------
log "the stack in network namespace $netns (loopback only), compose project $project"
ip netns add "$netns"
ip -n "$netns" link set lo up
mkdir -p "$SJ_EXPORTS_DIR" "$SJ_MAPPING_DIR"     # root's, as a bind mount's folder on a host is
podman system service --time=0 "$DOCKER_HOST" > "$state/podman-service.log" 2>&1 &
service_pid=$!
for _ in $(seq 50); do [[ -S $state/podman.sock ]] && break; sleep 0.2; done
[[ -S $state/podman.sock ]] || fail "podman system service did not start"

# No systemd here: health checks change state only when something runs them.
healthchecks() {
  while true; do
    for c in $(podman ps -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
      podman healthcheck run "$c" >/dev/null 2>&1 &
    done
    wait
    sleep 2
  done
}
healthchecks &
healthchecker_pid=$!

timeout 600 "${compose[@]}" up -d --no-build || fail "compose up"
phase "stack up"

# ---------------------------------------------------------------------------------------------
wait_until() { # description, command...
  local what=$1; shift
  for ((i = 0; i < timeout; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  fail "$what (not within ${timeout}s)"
}
quotes() { http http://127.0.0.1:8787/_admin/jobber/quotes | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
queue_messages() { # the messages in one queue of the stack's RabbitMQ (management API)
  http -u guest:guest "http://127.0.0.1:15672/api/queues/%2f/$1" \
    | python3 -c 'import json,sys; q=json.load(sys.stdin); print(q.get("messages_ready", 0) + q.get("messages_unacknowledged", 0))'
}
dead_letters() { # "SOURCE KIND" of each message in sj.quotes.dead (a peek: they are requeued)
  http -u guest:guest -H 'content-type: application/json' -X POST \
    -d '{"count":100,"ackmode":"ack_requeue_true","encoding":"auto","truncate":100}' \
    http://127.0.0.1:15672/api/queues/%2f/sj.quotes.dead/get \
    | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    h = m.get("properties", {}).get("headers", {})
    print(h.get("sj-source", "?"), h.get("sj-error-kind", "?"))'
}
mails() { http http://127.0.0.1:8025/api/messages | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
files_in() { find "$1" -type f ! -name '*.error.txt' ! -path '*/before-the-bridge/*' | wc -l; }  # not the first start's note
at_least() { [[ $($1) -ge $2 ]]; }
equals() { [[ $($1 "${@:3}") -eq $2 ]]; }
bridge_containers() {
  podman ps --filter "label=com.docker.compose.project=$project" --format '{{.Names}}' \
    | grep -E '_(sandbox|poller|worker|alerter)_[0-9]+$' | sort
}
# sjctl probe: the image's HEALTHCHECK (/readyz at the address the process wrote).
probe() { podman exec "$1" sjctl probe "${@:2}"; }
all_ready() { # /readyz on every process of the bridge
  local c
  for c in $(bridge_containers); do probe "$c" >/dev/null 2>&1 || return 1; done
}
readyz_report() {
  local c
  for c in $(bridge_containers); do
    printf '  %-28s %s\n' "$c" "$( (probe "$c" --print 2>&1 || true) | grep -v '"level":' | tr '\n' ' ' | cut -c1-100)"
  done
}

log "every process of the bridge ready (/readyz)"
wait_until "every process ready" all_ready
readyz_report
phase "ready"

# ---------------------------------------------------------------------------------------------
log "batch 1: samples/ into the exports folder"
incoming=$SJ_EXPORTS_DIR/incoming
batch1=$(ls samples/saberis/* samples/bad/* | wc -l)
cp samples/saberis/* samples/bad/* "$incoming/"
# The sample set: three orders become quotes (the Harbour Lane kitchen arrives three times, as
# JSON, XML and a re-export: one quote), the nameless bath is parked (no customer name), the
# three documents of samples/bad are refused. Parked and refused ones all reach sj.quotes.dead.
wait_until "3 quotes in the sandbox" equals quotes 3
wait_until "the parked bath and the 3 refused documents in sj.quotes.dead" equals queue_messages 4 sj.quotes.dead
dead_letters | sed 's/^/  dead letter: /'
[[ $(dead_letters | grep -c '^bath-gatineau.json ') -eq 1 ]] || fail "bath-gatineau.json is not parked in sj.quotes.dead"
wait_until "an alert email in the mail catcher" at_least mails 1
wait_until "every document archived or rejected" equals files_in "$batch1" "$SJ_EXPORTS_DIR"
[[ -z $(ls -A "$incoming") ]] || fail "documents left in incoming/: $(ls "$incoming")"
[[ $(find "$SJ_EXPORTS_DIR/rejected" -type f ! -name '*.error.txt' | wc -l) -eq 3 ]] \
  || fail "samples/bad: 3 documents rejected expected"
podman logs "${project}_poller_1" 2>&1 | grep -q 'Permission denied' \
  && fail "the poller met 'Permission denied' on its folders"
sleep 3   # anything more would show now: exactly 3 quotes, 1 parked
equals quotes 3 || fail "more than 3 quotes: $(quotes)"
echo "quotes: $(quotes); parked in sj.quotes.dead: $(queue_messages sj.quotes.dead); emails: $(mails)"
http http://127.0.0.1:8025/api/messages | python3 -c 'import json,sys; [print("  email:", m["subject"]) for m in json.load(sys.stdin)]'
spans=$(http http://127.0.0.1:16686/api/spans | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "spans received by the trace viewer: $spans"
[[ $spans -gt 0 ]] || fail "no span reached the trace viewer"
phase "batch 1 (9 documents)"

# ---------------------------------------------------------------------------------------------
log "the web console: a user added in its container, signed in over HTTP, the history and review pages"
console=${project}_console_1
console_url=http://127.0.0.1:8790
wait_until "the console answers /healthz" http "$console_url/healthz"
console_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$console_password" | podman exec -i "$console" sj-console user add ci-admin --role admin \
  || fail "sj-console user add in the container"
jar=$state/console.cookies
sign_in_form=$(http -c "$jar" "$console_url/sign-in?next=%2Fhistory") || fail "GET /sign-in"
csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$sign_in_form" | head -1)
[[ -n $csrf ]] || fail "no CSRF token in the sign-in form"
signed_in=$(in_ns curl -sS --max-time 10 -b "$jar" -c "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' \
  --data-urlencode name=ci-admin --data-urlencode "password=$console_password" \
  --data-urlencode next=/history --data-urlencode "csrf=$csrf" "$console_url/sign-in")
[[ $signed_in == "303 $console_url/history" ]] || fail "signing in answered: $signed_in"
grep -q 'sj_session' "$jar" || fail "no session cookie after signing in"
history_page=$(http -b "$jar" "$console_url/history") || fail "GET /history signed in"
grep -q 'kitchen-harbour-lane' <<<"$history_page" || fail "the history page does not show the batch: $history_page"
echo "console: signed in as ci-admin, /history shows $(grep -c '<tr' <<<"$history_page") rows"
review_page=$(http -b "$jar" "$console_url/review") || fail "GET /review signed in"
grep -q '<h1>Review</h1>' <<<"$review_page" || fail "the review page did not load: $review_page"
[[ $(in_ns curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$console_url/history") == 303 ]] \
  || fail "/history without a session is not sent to the sign-in page"
phase "console: user, sign-in, pages"

# ---------------------------------------------------------------------------------------------
log "three workers (--scale worker=3), batch 2"
timeout 600 "${compose[@]}" up -d --no-build --scale worker=3 || fail "compose up --scale worker=3"
[[ $(bridge_containers | grep -c '_worker_') -eq 3 ]] || fail "3 workers expected: $(bridge_containers)"
wait_until "every process ready, 3 workers" all_ready
# The same orders with one more item on their first line: new content, new quotes.
python3 - samples/saberis "$state/batch2" <<'PY'
import os, re, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for name in sorted(os.listdir(src)):
    data = open(os.path.join(src, name), "rb").read()
    data, n = re.subn(rb'(<Quantity>|"Quantity":\s*"?)(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + 1).encode(), data, count=1)
    assert n == 1, name
    open(os.path.join(dst, "batch2-" + name), "wb").write(data)
PY
cp "$state"/batch2/* "$incoming/"
wait_until "3 more quotes in the sandbox (6)" equals quotes 6
wait_until "the second batch's bath parked in sj.quotes.dead" equals queue_messages 5 sj.quotes.dead
[[ $(dead_letters | grep -c '^batch2-bath-gatineau.json ') -eq 1 ]] || fail "batch2-bath-gatineau.json is not parked"
wait_until "every document of batch 2 archived" equals files_in $((batch1 + 6)) "$SJ_EXPORTS_DIR"
sleep 3
equals quotes 6 || fail "more than 6 quotes: $(quotes)"
readyz_report
echo "quotes: $(quotes); parked: $(queue_messages sj.quotes.dead); emails: $(mails)"
phase "scale to 3 workers, batch 2"

log "memory (RSS) of each process, for deploy/k8s/ requests and limits"
for c in $(podman ps --filter "label=com.docker.compose.project=$project" --format '{{.Names}}' | sort); do
  pid=$(podman inspect --format '{{.State.Pid}}' "$c")
  rss=$(ps -o rss= --ppid "$pid" --pid "$pid" | awk '{ s += $1 } END { printf "%.1f", s / 1024 }')
  printf '  %-28s %7s MiB\n' "$c" "$rss"
done

# ---------------------------------------------------------------------------------------------
log "SIGTERM: every process of the bridge exits 0 (a clean shutdown), well within the grace period"
stop_started=$(date +%s)
timeout 300 "${compose[@]}" stop -t 30 sandbox poller worker alerter console >/dev/null || fail "compose stop"
stop_seconds=$(($(date +%s) - stop_started))
bad=
for c in $(podman ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}}' \
             | grep -E '_(sandbox|poller|worker|alerter|console)_[0-9]+$' | sort); do
  code=$(podman inspect --format '{{.State.ExitCode}}' "$c")
  printf '  %-28s exit %s\n' "$c" "$code"
  [[ $code -eq 0 ]] || bad+=" $c($code)"
done
echo "stopped in ${stop_seconds}s"
[[ -z $bad ]] || fail "not a clean exit on SIGTERM:$bad"
[[ $stop_seconds -lt 30 ]] || fail "stopping took ${stop_seconds}s: a process ignored SIGTERM"
timeout 300 "${compose[@]}" down -v --remove-orphans || fail "compose down"
phase "stop (SIGTERM) and down"
