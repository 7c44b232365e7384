#!/usr/bin/env bash
# llama.cpp baseline for `kvserve bench`, on the same machine and the same GGUF files, through the
# npm package node-llama-cpp (its prebuilt CPU binary; nothing is compiled). Not a test.
# Usage: scripts/llamacpp-bench.sh THREADS FILE.gguf...   (one JSON line per file)
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 THREADS FILE.gguf..." >&2; exit 2; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${KVSERVE_LLAMACPP_DIR:-${TMPDIR:-/tmp}/kvserve-llamacpp-bench}"
mkdir -p "$DIR"
if [ ! -d "$DIR/node_modules/node-llama-cpp" ]; then
  echo "installing node-llama-cpp 3.21.1 into $DIR ..." >&2
  (cd "$DIR" && npm i -E node-llama-cpp@3.21.1 --no-audit --no-fund >"$DIR/npm.log" 2>&1) || { tail -n 20 "$DIR/npm.log" >&2; exit 1; }
fi
cp "$HERE/llamacpp-bench.mjs" "$DIR/"
threads="$1"; shift
abs=()
for f in "$@"; do abs+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
cd "$DIR" && exec node llamacpp-bench.mjs "$threads" "${abs[@]}"
