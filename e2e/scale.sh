#!/usr/bin/env bash
# The scale-out suite (docs/scale.md): Redis, three moat replicas sharing
# their limits in it, and HAProxy in front, all on loopback ports, driven
# by e2e/scaleclient:
#   spread   short sessions land on every replica (each replica's metrics)
#   stateless  2026-07-28 calls (no session) land on every replica
#   limit    one principal's limit holds across replicas (one burst of slack)
#   legacy   a 2025-11-25 session keeps its replica (affinity on Mcp-Session-Id)
#   load     one replica killed mid-load: only its calls in flight fail
#   down     Redis stopped: 503 with an error id, /readyz not ready
#   recover  Redis restarted: service resumes by itself
#   authfail failed authentications counted across replicas
#   mrtr     a multi-round-trip call (input_required) started on one replica
#            completes on another; its used requestState is refused on the third
#
# Needs Go, redis-server and haproxy (.ci/run installs the Debian
# packages). Every wait is bounded; every process started here is stopped
# on any exit. SCALE_KEEP=1 keeps e2e/.scale (configs and logs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/e2e/.scale"

log() { printf 'scale: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

for bin in redis-server haproxy; do
  command -v "$bin" >/dev/null || die "$bin is not installed (apt-get install redis-server haproxy)"
done

PIDS=() # every process started here, stopped by PID on exit
REDIS_PID=""
cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}" $REDIS_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}" $REDIS_PID; do
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK"/*.log; do
      [ -f "$f" ] || continue
      log "last lines of $f:"
      tail -n 20 "$f" | sed -e 's/Bearer [^ ]*/Bearer [redacted]/g' >&2 || true
    done
  fi
  [ "${SCALE_KEEP:-}" = 1 ] || [ "$rc" -ne 0 ] || rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK"
mkdir -p "$WORK/audit" "$WORK/tools"
chmod 700 "$WORK"

# free_port: a loopback port nobody listens on now.
USED=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    case "$USED" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED="$USED$p "
      echo "$p"
      return
    fi
  done
  die "no free port"
}

# wait_http URL CODE SECONDS: until URL answers CODE.
wait_http() {
  local url=$1 want=$2 secs=$3
  for _ in $(seq 1 $((secs * 10))); do
    [ "$("$CLIENT" status "$url" 2>/dev/null || true)" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}

log "building moat and the client"
(cd "$ROOT" && go build -o "$WORK/moat" ./cmd/moat && go build -o "$WORK/scaleclient" ./e2e/scaleclient)
MOAT="$WORK/moat"
CLIENT="$WORK/scaleclient"

# --- Redis ---------------------------------------------------------------
REDIS_PORT=$(free_port)
start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --maxmemory 64mb --maxmemory-policy noeviction >>"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    grep -q "Ready to accept connections" "$WORK/redis.log" 2>/dev/null && return 0
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited"
    sleep 0.1
  done
  die "redis-server not ready in 10 s"
}
stop_redis() {
  kill -KILL "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=""
  : >"$WORK/redis.log"
}
start_redis
log "redis on 127.0.0.1:$REDIS_PORT"

# --- three replicas --------------------------------------------------------
read -r SECRET HASH < <("$CLIENT" keygen)
read -r LSECRET LHASH < <("$CLIENT" keygen)
export SCALE_KEY="$SECRET"
cp "$ROOT/cmd/moat/benchdata/echo.wasm" "$WORK/tools/echo.wasm"
# A tool that asks the client for input (the conformance fixture), and the
# requestState key every replica shares ([request_state], docs/config.md).
(cd "$ROOT" && GOOS=wasip1 GOARCH=wasm go build -o "$WORK/tools/fixtures.wasm" ./testdata/conformance/fixtures)
cat >"$WORK/tools/ask.toml" <<'EOF'
name = "test_input_required_result_elicitation"
description = "asks the client for a name (moat.input_request)"
module = "fixtures.wasm"
result = "text"
[input_schema]
type = "object"
EOF
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$WORK/request-state.key")
cat >"$WORK/tools/echo.toml" <<'EOF'
name = "echo"
description = "echo, as a sandboxed guest"
module = "echo.wasm"
[input_schema]
type = "object"
[input_schema.properties.msg]
type = "string"
[limits]
max_concurrency = 64
EOF
BURST=20
LB_PORT=$(free_port)
REPLICA_URLS=()
METRICS_URLS=()
REPLICA_PIDS=()
for i in 1 2 3; do
  port=$(free_port)
  mport=$(free_port)
  cat >"$WORK/moat-$i.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
# Clients name the load balancer in their Host header, not the replica.
allowed_hosts = ["127.0.0.1:$LB_PORT"]
[tools]
dirs = ["tools"]
[sandbox]
cache_dir = "cache"
[audit]
file = "audit/audit-r$i.log"
[metrics]
listen = "127.0.0.1:$mport"
[rate_limits]
per_principal          = "unlimited"
per_principal_requests = "unlimited"
per_principal_tool     = "unlimited"
per_tool               = "unlimited"
[state]
url     = "redis://127.0.0.1:$REDIS_PORT/0"
replica = "r$i"
timeout = "200ms"
[request_state]
key_file = "request-state.key"

[[auth.keys]]
id    = "scale"
hash  = "$HASH"
tools = ["*"]
rate  = "unlimited"

[[auth.keys]]
id    = "limited"
hash  = "$LHASH"
tools = ["*"]
rate  = "1/hour burst $BURST"
EOF
  "$MOAT" serve --config "$WORK/moat-$i.toml" </dev/null >/dev/null 2>"$WORK/moat-$i.log" &
  PIDS+=("$!")
  REPLICA_PIDS+=("$!")
  REPLICA_URLS+=("http://127.0.0.1:$port")
  METRICS_URLS+=("http://127.0.0.1:$mport/metrics")
  # one at a time: the first compiles echo.wasm into the shared cache
  wait_http "http://127.0.0.1:$port/readyz" 200 60 || die "replica $i not ready in 60 s"
  log "replica r$i on 127.0.0.1:$port (metrics $mport)"
done

# --- HAProxy ----------------------------------------------------------------
{
  cat <<EOF
global
  maxconn 1000
defaults
  mode http
  timeout connect 1s
  timeout client  30s
  timeout server  30s
  retries 2
  option redispatch
frontend mcp
  bind 127.0.0.1:$LB_PORT
  # Route on Mcp-Method where it helps: a call without a session (a
  # stateless 2026-07-28 client) may go to a pool of its own, least busy
  # first; a request with a session id always follows its affinity.
  use_backend moat_calls if { req.hdr(Mcp-Method) -m str tools/call } !{ req.hdr(Mcp-Session-Id) -m found }
  default_backend moat
backend moat
  balance roundrobin
  option httpchk GET /readyz
  # 2025-11-25 sessions live on one replica: stick on Mcp-Session-Id, learnt
  # from the response that creates the session.
  stick-table type string len 128 size 100k expire 30m
  stick store-response res.hdr(Mcp-Session-Id)
  stick match req.hdr(Mcp-Session-Id)
EOF
  for i in 1 2 3; do
    echo "  server r$i ${REPLICA_URLS[$((i - 1))]#http://} check inter 300ms fall 1 rise 2"
  done
  echo "backend moat_calls"
  echo "  balance leastconn"
  echo "  option httpchk GET /readyz"
  for i in 1 2 3; do
    echo "  server r$i ${REPLICA_URLS[$((i - 1))]#http://} check inter 300ms fall 1 rise 2"
  done
} >"$WORK/haproxy.cfg"
haproxy -c -f "$WORK/haproxy.cfg" >/dev/null || die "haproxy rejects $WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=("$!")
LB="http://127.0.0.1:$LB_PORT/mcp"
wait_http "http://127.0.0.1:$LB_PORT/readyz" 200 10 || die "haproxy not serving in 10 s"
log "haproxy on 127.0.0.1:$LB_PORT"

# --- scenarios ----------------------------------------------------------------
IFS=, METRICS="${METRICS_URLS[*]}" REPLICAS="${REPLICA_URLS[*]}"
unset IFS
timeout 120 "$CLIENT" spread -lb "$LB" -metrics "$METRICS" -n 30
timeout 120 "$CLIENT" stateless -lb "$LB" -metrics "$METRICS" -n 30
timeout 120 "$CLIENT" limit -lb "$LB" -key "$LSECRET" -burst "$BURST"
timeout 60 "$CLIENT" legacy -lb "$LB" -calls 20
timeout 60 "$CLIENT" mrtr -replicas "$REPLICAS"
timeout 60 "$CLIENT" load -lb "$LB" -duration 6s -workers 4
timeout 60 "$CLIENT" load -lb "$LB" -duration 6s -workers 4 -kill "${REPLICA_PIDS[2]}" -kill-after 2s
wait "${REPLICA_PIDS[2]}" 2>/dev/null || true
stop_redis
timeout 60 "$CLIENT" down -lb "$LB" -replicas "${REPLICA_URLS[0]},${REPLICA_URLS[1]}"
start_redis
timeout 60 "$CLIENT" recover -lb "$LB" -timeout 30s
timeout 60 "$CLIENT" authfail -lb "$LB" -burst 10
"$MOAT" audit verify "$WORK/audit" || die "moat audit verify of the replicas' chains"
echo "scale: all scenarios passed"
