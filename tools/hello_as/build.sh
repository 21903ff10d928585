#!/usr/bin/env bash
# Builds hello_as.wasm from assembly/index.ts with the AssemblyScript
# compiler and @assemblyscript/wasi-shim, both pinned in package-lock.json.
# Needs Node.js and npm; `npm ci` installs the compiler into node_modules.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x node_modules/.bin/asc ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
echo "built hello_as.wasm  $(wc -c < hello_as.wasm) bytes  sha256:$(sha256sum hello_as.wasm | cut -d' ' -f1)"
