#!/usr/bin/env bash
# Rebuilds the committed echo guests of `moat bench` (the Go ones are built
# by moat bench itself):
#   echo.wat          -> echo.wasm    with wat2wasm (wabt)
#   cecho.wasm        a copy of testdata/guests/lim_cecho.wasm (its source and
#                     build are there: clang --target=wasm32-wasi, wasi-libc)
#   asecho/index.ts   -> asecho.wasm  with the AssemblyScript compiler pinned
#                                     in tools/hello_as (npm ci there first)
set -euo pipefail
cd "$(dirname "$0")"
wat2wasm echo.wat -o echo.wasm
cp ../../../testdata/guests/lim_cecho.wasm cecho.wasm
asc=../../../tools/hello_as/node_modules
"$asc/.bin/asc" asecho/index.ts --config "$asc/@assemblyscript/wasi-shim/asconfig.json" \
  --optimize --noAssert --outFile asecho.wasm
