#!/usr/bin/env bash
# Regenerates kvserve-model/src/test/resources/tokenizer/llamacpp-random.json: the texts already in
# that file are tokenized (without and with special-token parsing) and detokenized by llama.cpp,
# through the npm package node-llama-cpp, whose prebuilt CPU binary needs no compiler. Not part of
# the test suite; needs node and npm. Usage: scripts/llamacpp-tokenize.sh [SHARED_MODELS_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS="$(cd "${1:-$ROOT/../shared/models}" && pwd)"
OUT="$ROOT/kvserve-model/src/test/resources/tokenizer/llamacpp-random.json"
DIR="${KVSERVE_LLAMACPP_DIR:-${TMPDIR:-/tmp}/kvserve-llamacpp-check}"
mkdir -p "$DIR"
if [ ! -d "$DIR/node_modules/node-llama-cpp" ]; then
  echo "installing node-llama-cpp 3.21.1 into $DIR ..." >&2
  (cd "$DIR" && npm i -E node-llama-cpp@3.21.1 --no-audit --no-fund >"$DIR/npm.log" 2>&1) || { tail -n 20 "$DIR/npm.log" >&2; exit 1; }
fi
cat >"$DIR/tokenize.mjs" <<'JS'
import {getLlama} from "node-llama-cpp";
import fs from "node:fs";
const [out, models] = process.argv.slice(2);
const old = JSON.parse(fs.readFileSync(out, "utf8"));
const vocabs = ["vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-llama3.gguf",
                "vocab/ggml-vocab-qwen2.gguf", "stories260K.gguf"];
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const result = {source: old.source, texts: old.texts, vocabs: {}};
for (const name of vocabs) {
  const model = await llama.loadModel({modelPath: `${models}/${name}`, vocabOnly: true});
  const entry = {plain: [], special: {}, decoded: {}};
  old.texts.forEach((t, i) => {
    const plain = Array.from(model.tokenize(t, false));
    const special = Array.from(model.tokenize(t, true));
    const decoded = model.detokenize(plain, false);
    entry.plain.push(plain);
    if (JSON.stringify(special) !== JSON.stringify(plain)) entry.special[i] = special;
    if (decoded !== t) entry.decoded[i] = decoded;
  });
  result.vocabs[name] = entry;
  await model.dispose();
}
fs.writeFileSync(out, JSON.stringify(result));
console.log(`wrote ${out}`);
JS
cd "$DIR" && exec node tokenize.mjs "$OUT" "$MODELS"
