#!/usr/bin/env bash
# Makes sure the services the bridge and its tests need are running on this machine:
# (and that the SMTP test server's Python package, python3-aiosmtpd, and the browser the console's
# tests drive, Debian's chromium and chromium-driver, are installed)
# RabbitMQ on 127.0.0.1:5672 (guest/guest, with the management and shovel plugins and every
# feature flag enabled) and Redis on 127.0.0.1:6379. Installs them from Debian's packages when
# they are missing (as root), starts them when they are stopped, and does nothing when they run.
#
# Usage: deploy/local/services.sh        (idempotent; safe to run before every test run)
set -euo pipefail

log() { printf 'services: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A broker can run and listen yet never answer a client (seen after hundreds of quorum queues
# piled up): only an AMQP handshake proves it serves. The answer to the protocol header starts
# with a method frame (type 1).
amqp_answers() {
  [[ $(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672; printf "AMQP\x00\x00\x09\x01" >&3; head -c 1 <&3 | od -An -tx1' 2>/dev/null) == " 01" ]]
}

wait_for() { # what, seconds, command...
  local what=$1 seconds=$2; shift 2
  for ((i = 0; i < seconds; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "$what did not come up within ${seconds}s"; return 1
}

install() { # packages...
  if [[ $(id -u) -ne 0 ]]; then log "missing $*: install them (apt-get install -y $*) and run again"; exit 1; fi
  log "installing $*"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis() {
  if port_open 6379 && redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG; then return; fi
  command -v redis-server >/dev/null || install redis-server
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for Redis 30 redis-cli -h 127.0.0.1 ping
}

ensure_rabbitmq() {
  command -v rabbitmq-server >/dev/null || install rabbitmq-server
  if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    log "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    wait_for RabbitMQ 120 rabbitmq-diagnostics -q check_running
  fi
  wait_for "RabbitMQ's AMQP port" 60 port_open 5672
  if ! wait_for "RabbitMQ to answer an AMQP client" 30 amqp_answers; then
    log "RabbitMQ does not answer: restarting it"
    rabbitmqctl -q stop >/dev/null 2>&1 || pkill -9 -f beam.smp || true
    sleep 2
    rabbitmq-server -detached >/dev/null 2>&1 || true
    wait_for RabbitMQ 120 rabbitmq-diagnostics -q check_running
    wait_for "RabbitMQ to answer an AMQP client" 60 amqp_answers
  fi
  # Management (UI, HTTP API) and shovel ("Move messages" for dead letters); idempotent.
  rabbitmq-plugins -q enable rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management >/dev/null
  # At-least-once dead-lettering needs the stream_queue flag among others.
  rabbitmqctl -q enable_feature_flag all >/dev/null
  wait_for "RabbitMQ's management API" 60 port_open 15672
}

# The alerter's tests send real email to a real SMTP server: aiosmtpd, from Debian's packages.
ensure_smtp_sink() {
  /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || install python3-aiosmtpd
}

# The console's browser tests (tests/it/console/browser.rs) drive a headless Chromium through its
# chromedriver: Debian's packages (same version, nothing downloaded from a browser vendor).
ensure_browser() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null && return
  install chromium chromium-driver
}

ensure_redis
ensure_rabbitmq
ensure_smtp_sink
ensure_browser
log "RabbitMQ (127.0.0.1:5672, UI http://127.0.0.1:15672 guest/guest) and Redis (127.0.0.1:6379) are up"
