// llama.cpp baseline measured on the same machine and files as `kvserve bench`, through the npm package
// node-llama-cpp (prebuilt CPU binary). Prints one JSON object per model: prompt tok/s at 128 and 512
// tokens, decode tok/s over 64 tokens. Usage: node llamacpp-bench.mjs THREADS FILE.gguf...
import {getLlama} from "node-llama-cpp";
const threads = parseInt(process.argv[2]);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
for (const path of process.argv.slice(3)) {
  const model = await llama.loadModel({modelPath: path});
  const vocab = model.tokens ? 1000 : 1000;
  const rnd = (n) => Array.from({length: n}, (_, i) => 100 + ((i * 7919) % 20000));
  const result = {model: path, threads};
  for (const n of [128, 512]) {
    let best = 0;
    for (let r = 0; r < 3; r++) {
      const ctx = await model.createContext({contextSize: 1024, batchSize: 512, threads});
      const seq = ctx.getSequence();
      const t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(rnd(n));
      const dt = (performance.now() - t0) / 1000;
      best = Math.max(best, n / dt);
      await ctx.dispose();
    }
    result[`prompt_tps_${n}`] = best;
  }
  let bestDecode = 0;
  for (let r = 0; r < 2; r++) {
    const ctx = await model.createContext({contextSize: 1024, batchSize: 512, threads});
    const seq = ctx.getSequence();
    await seq.evaluateWithoutGeneratingNewTokens(rnd(128));
    let count = 0, t0 = 0;
    for await (const tok of seq.evaluate(rnd(1), {temperature: 0})) {
      if (count === 0) t0 = performance.now();
      if (++count > 64) break;
    }
    bestDecode = Math.max(bestDecode, 64 / ((performance.now() - t0) / 1000));
    await ctx.dispose();
  }
  result.decode_tps = bestDecode;
  console.log(JSON.stringify(result));
  await model.dispose();
}
