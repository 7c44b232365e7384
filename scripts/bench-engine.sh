#!/usr/bin/env bash
# The engine benchmark of docs/BENCHMARKS.md: synthesizes the benchmark models when missing (into the
# ignored models/ folder), runs `kvserve bench` on each with 2 threads, then llama.cpp on the same files
# (scripts/llamacpp-bench.sh) so that the ratio is measured in the same run. Results: bench-out/*.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p models bench-out
VOCAB=../shared/models/vocab/ggml-vocab-llama3.gguf
synth() { [ -f "models/$1-$2.gguf" ] || ./kvserve synth --shape "$1" --type "$2" --vocab "$VOCAB" --out "models/$1-$2.gguf"; }
synth smollm2-135m q8_0
synth llama-3.2-1b q8_0
synth llama-3.2-1b q4_0
THREADS="${THREADS:-2}"
for m in smollm2-135m-q8_0 llama-3.2-1b-q8_0 llama-3.2-1b-q4_0; do
  ./kvserve bench --model "models/$m.gguf" --threads "$THREADS" --repetitions "${REPS:-2}" --json "bench-out/kvserve-$m.json"
done
if command -v node >/dev/null 2>&1 && [ "${SKIP_LLAMACPP:-0}" != 1 ]; then
  scripts/llamacpp-bench.sh "$THREADS" models/smollm2-135m-q8_0.gguf models/llama-3.2-1b-q8_0.gguf models/llama-3.2-1b-q4_0.gguf | tee bench-out/llamacpp.jsonl
fi
