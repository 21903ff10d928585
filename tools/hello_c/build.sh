#!/usr/bin/env bash
# Builds hello_c.wasm from main.c with clang and wasi-libc.
#   Debian/Ubuntu: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32
# Debian's clang 14 calls the target wasm32-wasi (= wasip1); newer clangs
# also accept wasm32-wasip1. -Wl,--allow-undefined is not needed: clang
# turns the import_module attribute into a wasm import.
set -euo pipefail
cd "$(dirname "$0")"
CC="${CC:-clang}"
"$CC" --target=wasm32-wasi -O2 -Wall -Werror -Wl,--strip-all -o hello_c.wasm main.c
echo "built hello_c.wasm  $(wc -c < hello_c.wasm) bytes  sha256:$(sha256sum hello_c.wasm | cut -d' ' -f1)"
