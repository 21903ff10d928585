#!/usr/bin/env bash
# Rebuilds the committed echo guests of `moat bench` (the Go ones are built
# by moat bench itself):
#   echo.wat          -> echo.wasm    with wat2wasm (wabt)
#   cecho.c           -> cecho.wasm   with clang --target=wasm32-wasi and wasi-libc
#   asecho/index.ts   -> asecho.wasm  with the AssemblyScript compiler pinned
#                                     in tools/hello_as (npm ci there first)
set -euo pipefail
cd "$(dirname "$0")"
wat2wasm echo.wat -o echo.wasm
clang --target=wasm32-wasi -O2 -o cecho.wasm cecho.c
asc=../../../tools/hello_as/node_modules
"$asc/.bin/asc" asecho/index.ts --config "$asc/@assemblyscript/wasi-shim/asconfig.json" \
  --optimize --noAssert --outFile asecho.wasm
