#!/usr/bin/env bash
# Loads GGUF files in llama.cpp (through the npm package node-llama-cpp, whose prebuilt CPU binary
# needs no compiler) and greedily generates 8 tokens from each: a check that files written by
# `kvserve synth` (or any GGUF) are accepted by llama.cpp's loader and run, and a reference for
# `kvserve generate --prompt "Hello world, this is" --max-tokens 8 --temperature 0` (same prompt and
# BOS rule). Not part of the test suite; needs node and npm. Usage: [PROMPT=...] scripts/llamacpp-check.sh FILE.gguf...
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 FILE.gguf..." >&2; exit 2; }
DIR="${KVSERVE_LLAMACPP_DIR:-${TMPDIR:-/tmp}/kvserve-llamacpp-check}"
mkdir -p "$DIR"
if [ ! -d "$DIR/node_modules/node-llama-cpp" ]; then
  echo "installing node-llama-cpp 3.21.1 into $DIR ..." >&2
  (cd "$DIR" && npm i -E node-llama-cpp@3.21.1 --no-audit --no-fund >"$DIR/npm.log" 2>&1) || { tail -n 20 "$DIR/npm.log" >&2; exit 1; }
fi
cat >"$DIR/check.mjs" <<'JS'
import {getLlama} from "node-llama-cpp";
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const prompt = process.env.PROMPT ?? "Hello world, this is";
let failed = 0;
for (const path of process.argv.slice(2)) {
  try {
    const model = await llama.loadModel({modelPath: path});
    const ctx = await model.createContext({contextSize: 128, batchSize: 32});
    // BOS as the model's add_bos_token says, like `kvserve generate`, so greedy outputs are comparable
    const bos = model.tokens.shouldPrependBosToken && model.tokens.bos != null ? [model.tokens.bos] : [];
    const out = [];
    for await (const t of ctx.getSequence().evaluate([...bos, ...model.tokenize(prompt)], {temperature: 0})) {
      out.push(t);
      if (out.length >= 8) break;
    }
    console.log(`OK   ${path}: train context ${model.trainContextSize}, greedy ${JSON.stringify(model.detokenize(out))} ${JSON.stringify(out)}`);
    await ctx.dispose();
    await model.dispose();
  } catch (e) {
    failed++;
    console.log(`FAIL ${path}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
JS
abs=()
for f in "$@"; do abs+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
cd "$DIR" && exec node check.mjs "${abs[@]}"
