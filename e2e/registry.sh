#!/usr/bin/env bash
# Supply-chain end-to-end test against a real OCI registry on loopback
# (docs/supply-chain.md): Debian's docker-registry (distribution 2.8, which
# has no referrers API, so signatures go through the referrers tag schema).
#   push (signed), pull and verify by tag and by digest; then each bad case
#   refused: a wrong digest, another artifact type, a manifest layer that is
#   not TOML, a module layer over the size cap, a signature by another key,
#   an unsigned artifact where a key is required, a signature over another
#   digest.
# Installs docker-registry and openssl when missing (apt-get). Every wait is
# bounded; the registry is stopped on any exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'e2e/registry: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

need_apt() {
  local SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } ||
    die "apt-get install $* failed"
}
command -v docker-registry >/dev/null 2>&1 || need_apt docker-registry
command -v openssl >/dev/null 2>&1 || need_apt openssl

WORK="$(mktemp -d)"
REG_PID=""
cleanup() {
  if [ -n "$REG_PID" ]; then
    kill -TERM "$REG_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$REG_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port: the first of a few that nothing answers on.
PORT=""
BASE=$((20000 + RANDOM % 20000))
for p in $(seq "$BASE" 1 $((BASE + 50))); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || die "no free port"
HOST="127.0.0.1:$PORT"

cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/storage
  delete:
    enabled: true
http:
  addr: $HOST
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$REG_PID" 2>/dev/null || { cat "$WORK/registry.log" >&2; die "docker-registry exited"; }
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "docker-registry did not listen on $HOST within 10 s"
log "docker-registry on $HOST"

(cd "$ROOT" && go build -o "$WORK/moat" ./cmd/moat && go build -o "$WORK/ocitest" ./e2e/ocitest)
MOAT="$WORK/moat"
# No ambient registry credentials.
export DOCKER_CONFIG="$WORK/docker"
unset MOAT_REGISTRY_HOST MOAT_REGISTRY_USERNAME MOAT_REGISTRY_PASSWORD

# The publisher's key (ECDSA P-256), a second key (Ed25519), a stranger's.
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$WORK/pub.key"
openssl pkey -in "$WORK/pub.key" -pubout -out "$WORK/pub.pem"
openssl genpkey -algorithm ed25519 -out "$WORK/ed.key"
openssl pkey -in "$WORK/ed.key" -pubout -out "$WORK/ed.pem"
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$WORK/other.key"

pass=0
ok() { pass=$((pass + 1)); log "ok: $*"; }
# refused WHAT EXPECTED-TEXT CMD...: CMD must fail and say EXPECTED-TEXT.
refused() {
  local what="$1" want="$2"; shift 2
  if "$@" >"$WORK/out" 2>&1; then cat "$WORK/out" >&2; die "$what: accepted"; fi
  grep -q -- "$want" "$WORK/out" || { cat "$WORK/out" >&2; die "$what: refused, but not with \"$want\""; }
  ok "$what refused ($want)"
}

# 1. Push, signed, and pull by tag and by digest.
DIGEST="$("$MOAT" push "$ROOT/manifests/hello_c.toml" "oci://$HOST/moat/hello_c:v1" --sign "$WORK/pub.key")"
[[ "$DIGEST" =~ ^sha256:[0-9a-f]{64}$ ]] || die "push printed $DIGEST"
ok "push hello_c: $DIGEST"
again="$("$MOAT" push "$ROOT/manifests/hello_c.toml" "oci://$HOST/moat/hello_c:v1" 2>/dev/null)"
[ "$again" = "$DIGEST" ] || die "push is not reproducible: $DIGEST then $again"
ok "push is reproducible"
"$MOAT" pull "oci://$HOST/moat/hello_c:v1" "$WORK/by-tag" --key "$WORK/pub.pem" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "pull by tag"; }
grep -q "signature: verified with" "$WORK/out" || die "pull did not verify the signature"
cmp -s "$WORK/by-tag/tools/hello_c/hello_c.wasm" "$ROOT/tools/hello_c/hello_c.wasm" || die "pulled module differs"
cmp -s "$WORK/by-tag/manifests/hello_c.toml" "$ROOT/manifests/hello_c.toml" || die "pulled manifest differs"
ok "pull by tag, signature verified, files identical"
"$MOAT" check "$WORK/by-tag/manifests/hello_c.toml" >/dev/null 2>&1 || die "pulled manifest does not check"
ok "pulled tool passes moat check"
"$MOAT" push "$ROOT/manifests/hello_c.toml" "oci://$HOST/moat/hello_c:v1" --sign "$WORK/ed.key" >/dev/null 2>&1 || die "second signature (Ed25519)"
"$MOAT" pull "oci://$HOST/moat/hello_c@$DIGEST" "$WORK/by-digest" --key "$WORK/ed.pem" >/dev/null 2>&1 || die "pull by digest, Ed25519 key"
ok "pull by digest, Ed25519 signature verified"

# 2. Bad cases.
ZERO="sha256:$(printf '0%.0s' $(seq 1 64))"
refused "wrong digest" "registry request failed" "$MOAT" pull "oci://$HOST/moat/hello_c@$ZERO" "$WORK/x1"
OTHER="$("$WORK/ocitest" other-type "$HOST" moat/bad)"
refused "artifact of another type" "not a moat tool artifact" "$MOAT" pull "oci://$HOST/moat/bad@$OTHER" "$WORK/x2"
NOTTOML="$("$WORK/ocitest" not-toml "$HOST" moat/bad)"
refused "manifest layer that is not TOML" "invalid manifest layer" "$MOAT" pull "oci://$HOST/moat/bad@$NOTTOML" "$WORK/x3"
BIG="$("$WORK/ocitest" big-module "$HOST" moat/bad)"
refused "module layer over the size cap" "too large" "$MOAT" pull "oci://$HOST/moat/bad@$BIG" "$WORK/x4"
refused "signature by another key" "signed by another key" "$MOAT" pull "oci://$HOST/moat/hello_c@$DIGEST" "$WORK/x5" --key <(openssl pkey -in "$WORK/other.key" -pubout)
mkdir -p "$WORK/unsigned"
cp "$ROOT/tools/hello_c/hello_c.wasm" "$WORK/unsigned/"
sed -e 's|^module .*|module = "hello_c.wasm"|' -e 's|^description .*|description = "Another build, never signed."|' \
  "$ROOT/manifests/hello_c.toml" >"$WORK/unsigned/hello_c.toml"
UNSIGNED="$("$MOAT" push "$WORK/unsigned/hello_c.toml" "oci://$HOST/moat/hello_c:unsigned" 2>/dev/null)"
refused "unsigned artifact where a key is required" "artifact is not signed" "$MOAT" pull "oci://$HOST/moat/hello_c@$UNSIGNED" "$WORK/x6" --key "$WORK/pub.pem"
"$WORK/ocitest" copy-sig "$HOST" moat/hello_c "$DIGEST" "$UNSIGNED" >/dev/null
refused "signature over another digest" "signature over another digest" "$MOAT" pull "oci://$HOST/moat/hello_c@$UNSIGNED" "$WORK/x7" --key "$WORK/pub.pem"
# 3. The manifest loader's path (registry.FetchVerified), as moat serve
#    uses it for module = "oci://…@sha256:…" with signed_by.
CACHE="$WORK/cache"
"$WORK/ocitest" fetch "oci://$HOST/moat/hello_c@$DIGEST" "$CACHE" "$WORK/pub.pem" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "fetch by digest"; }
grep -q "signed by $WORK/pub.pem" "$WORK/out" || die "fetch did not report the signer: $(cat "$WORK/out")"
ok "fetch by digest into the cache, signature verified"
refused "a tag where a digest is required" "a tag is not a digest" "$WORK/ocitest" fetch "oci://$HOST/moat/hello_c:v1" "$CACHE"
refused "unsigned artifact with signed_by" "artifact is not signed" "$WORK/ocitest" fetch "oci://$HOST/moat/bad@$NOTTOML" "$WORK/cache-nt" "$WORK/pub.pem"
refused "fetch: signature over another digest" "signature over another digest" "$WORK/ocitest" fetch "oci://$HOST/moat/hello_c@$UNSIGNED" "$CACHE" "$WORK/pub.pem"
refused "fetch: artifact of another type" "not a moat tool artifact" "$WORK/ocitest" fetch "oci://$HOST/moat/bad@$OTHER" "$CACHE"
refused "fetch: module layer over the size cap" "too large" "$WORK/ocitest" fetch "oci://$HOST/moat/bad@$BIG" "$CACHE"

# 4. moat itself loads a manifest that names its module by digest, with
#    signed_by (moat call runs the same loader as moat serve), and refuses
#    a tag, another publisher's key, and an unsigned artifact.
SERVED="$WORK/served"; mkdir -p "$SERVED"
cp "$WORK/pub.pem" "$SERVED/publisher.pub"
openssl pkey -in "$WORK/other.key" -pubout >"$SERVED/other.pub"
served_manifest() { # FILE MODULE KEY
  sed -e "s|^module .*|module = \"$2\"\nsigned_by = [\"$3\"]|" "$ROOT/manifests/hello_c.toml" >"$SERVED/$1"
}
served_manifest hello.toml "oci://$HOST/moat/hello_c@$DIGEST" publisher.pub
export XDG_CACHE_HOME="$WORK/regcache" # moat's registry cache, private to this run
"$MOAT" call "$SERVED/hello.toml" --args '{"name":"registry"}' >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "moat call of a module by digest"; }
grep -q "registry" "$WORK/out" || die "moat call by digest: $(cat "$WORK/out")"
ok "moat loads and calls a module named by digest, signature verified"
served_manifest tag.toml "oci://$HOST/moat/hello_c:v1" publisher.pub
refused "moat: a tag in a manifest" "names no digest" "$MOAT" call "$SERVED/tag.toml" --args '{"name":"x"}'
served_manifest other.toml "oci://$HOST/moat/hello_c@$DIGEST" other.pub
refused "moat: signed_by another publisher" "signed by another key" "$MOAT" call "$SERVED/other.toml" --args '{"name":"x"}'
served_manifest unsigned.toml "oci://$HOST/moat/hello_c@$UNSIGNED" publisher.pub
refused "moat: a signature copied from another digest" "signature over another digest" "$MOAT" call "$SERVED/unsigned.toml" --args '{"name":"x"}'

# A registry outage does not stop a restart: stop it, fetch from the cache.
kill -TERM "$REG_PID"; wait "$REG_PID" 2>/dev/null || true; REG_PID=""
"$WORK/ocitest" fetch "oci://$HOST/moat/hello_c@$DIGEST" "$CACHE" "$WORK/pub.pem" >/dev/null 2>&1 || die "cached fetch needed the registry"
ok "registry stopped: served from the cache, signature re-verified"
"$MOAT" call "$SERVED/hello.toml" --args '{"name":"offline"}' >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "moat call with the registry down"; }
ok "registry stopped: moat still loads the module by digest from its cache"
# A cache entry tampered on disk is refused, not served.
ENTRY="$CACHE/sha256/${DIGEST#sha256:}"
MODBLOB="$ENTRY/blobs/$(sha256sum "$ROOT/tools/hello_c/hello_c.wasm" | cut -c1-64)"
[ -f "$MODBLOB" ] || die "no cached module at $MODBLOB"
chmod u+w "$MODBLOB"; printf 'x' >>"$MODBLOB"
refused "a cache entry tampered on disk" "bad cache entry" "$WORK/ocitest" fetch "oci://$HOST/moat/hello_c@$DIGEST" "$CACHE" "$WORK/pub.pem"
rm -rf "$ENTRY"; mkdir -p "$ENTRY"; chmod 0777 "$ENTRY"
refused "a cache folder others can write" "insecure cache folder" "$WORK/ocitest" fetch "oci://$HOST/moat/hello_c@$DIGEST" "$CACHE"

for d in "$WORK"/x*; do [ ! -e "$d" ] || [ -z "$(ls -A "$d")" ] || die "a refused pull wrote files into $d"; done
ok "no refused pull wrote a file"

log "$pass passed, 0 failed"
echo "registry: $pass passed, 0 failed"
