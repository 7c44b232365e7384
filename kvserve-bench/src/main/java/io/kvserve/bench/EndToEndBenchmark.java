package io.kvserve.bench;

import io.kvserve.kernels.Kernels;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The end-to-end speed benchmark behind {@code kvserve bench}: prompt processing at 128 and 512
 * tokens (batched prefill), decode over 64 tokens after the 128-token prompt, time to first token
 * and peak resident memory. Prompts are random token ids with a fixed seed, as llama-bench does.
 */
public final class EndToEndBenchmark {
    /** Results; the JSON field names are relied on by scripts. */
    public record Result(String model, String kernels, int threads, int batch, int repetitions,
                         double promptTps128, double promptTps512, double decodeTps, double ttftMs,
                         double kvBytesPerToken, double peakRssMb) {}

    private EndToEndBenchmark() {}

    public static Result run(Model model, int threads, int batch, int repetitions, Consumer<String> progress) {
        return run(model, threads, batch, repetitions, progress, model::newContiguousCache);
    }

    /** As {@link #run(Model, int, int, int, Consumer)}, with the KV caches made by {@code caches} (context -> cache). */
    public static Result run(Model model, int threads, int batch, int repetitions, Consumer<String> progress,
                             java.util.function.IntFunction<KvCache> caches) {
        WorkerPool pool = new WorkerPool(threads);
        try {
            int ctx = Math.min(model.config().contextLength(), 1024);
            int maxBatch = Math.min(batch, 512);
            ForwardPass pass = model.newForwardPass(maxBatch, pool);
            int[] tokens = randomTokens(model.config().vocabSize(), 512 + 64);
            // warm-up: JIT-compile the kernels on the real shapes
            progress.accept("warm-up");
            prefill(caches, pass, tokens, Math.min(64, ctx), ctx);
            decode(caches, model, pass, tokens, 16, 4, ctx);
            double p128 = 0, p512 = 0, dec = 0, ttft = Double.MAX_VALUE;
            double kvPerToken = 0;
            for (int r = 0; r < repetitions; r++) {
                progress.accept("prompt 128 (" + (r + 1) + "/" + repetitions + ")");
                long t = prefill(caches, pass, tokens, Math.min(128, ctx), ctx);
                p128 = Math.max(p128, Math.min(128, ctx) * 1e9 / t);
                ttft = Math.min(ttft, t / 1e6);
                if (ctx >= 512) {
                    progress.accept("prompt 512 (" + (r + 1) + "/" + repetitions + ")");
                    long t5 = prefill(caches, pass, tokens, 512, ctx);
                    p512 = Math.max(p512, 512 * 1e9 / t5);
                }
                progress.accept("decode 64 (" + (r + 1) + "/" + repetitions + ")");
                double[] d = decode(caches, model, pass, tokens, Math.min(128, ctx - 64), 64, ctx);
                dec = Math.max(dec, d[0]);
                kvPerToken = d[1];
            }
            return new Result(model.name(), Kernels.impl().name(), threads, maxBatch, repetitions, p128, p512, dec, ttft,
                    kvPerToken, peakRssMb());
        } finally {
            pool.close();
        }
    }

    private static int[] randomTokens(int vocab, int n) {
        SplittableRandom rnd = new SplittableRandom(42);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rnd.nextInt(vocab);
        return t;
    }

    /** Nanoseconds to prefill {@code n} tokens and produce the first logits. */
    private static long prefill(java.util.function.IntFunction<KvCache> caches, ForwardPass pass, int[] tokens, int n, int ctx) {
        try (KvCache cache = caches.apply(ctx)) {
            int seq = cache.open();
            cache.reserve(seq, n);
            long t0 = System.nanoTime();
            for (int p = 0; p < n; p += pass.maxBatch()) {
                int len = Math.min(pass.maxBatch(), n - p);
                pass.forward(Batch.ofSequence(seq, tokens, p, len, p, false), cache);
            }
            return System.nanoTime() - t0;
        }
    }

    /** Decode tokens/s over {@code steps} single-token steps after a {@code promptLen} prompt, and KV bytes per token. */
    private static double[] decode(java.util.function.IntFunction<KvCache> caches, Model model, ForwardPass pass, int[] tokens, int promptLen, int steps, int ctx) {
        try (KvCache cache = caches.apply(ctx)) {
            int seq = cache.open();
            cache.reserve(seq, promptLen + steps);
            for (int p = 0; p < promptLen; p += pass.maxBatch()) {
                int len = Math.min(pass.maxBatch(), promptLen - p);
                pass.forward(Batch.ofSequence(seq, tokens, p, len, p, false), cache);
            }
            long t0 = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                pass.forward(Batch.ofSequence(seq, tokens, promptLen + s, 1, promptLen + s, false), cache);
            }
            long t = System.nanoTime() - t0;
            double kv = 2.0 * model.config().nLayers() * model.config().kvDim() * Float.BYTES;
            return new double[] {steps * 1e9 / t, kv};
        }
    }

    /** Peak resident set size of this process (VmHWM), in MiB; 0 where /proc is unavailable. */
    public static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String kb = line.replaceAll("[^0-9]", "");
                    return Long.parseLong(kb) / 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
