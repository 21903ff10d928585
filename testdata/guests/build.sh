#!/usr/bin/env bash
# Rebuilds the committed test guests from their sources.
#   *.wat -> *.wasm with wat2wasm   (Debian: wabt)
#   *.c   -> *.wasm with clang      (Debian: clang lld wasi-libc libclang-rt-dev-wasm32)
# go test never runs this: the built .wasm files are committed so that the
# tests need no C or WAT toolchain. Run it after editing a source.
set -euo pipefail
cd "$(dirname "$0")"
for src in *.wat; do
  [ -e "$src" ] || continue
  wat2wasm --enable-all "$src" -o "${src%.wat}.wasm"
done
for src in *.c; do
  [ -e "$src" ] || continue
  # Debian's clang 14 knows the target as wasm32-wasi (= wasip1) and finds
  # wasi-libc under /usr/lib/wasm32-wasi by itself.
  clang --target=wasm32-wasi -O2 -o "${src%.c}.wasm" "$src"
done
echo "built: $(ls *.wasm | wc -l) modules"
