package io.kvserve.bench.jmh;

import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.sampling.Sampler;
import io.kvserve.model.transformer.ForwardPass;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * How much more a decode step of B streams costs than a step of one, on a real model file, without the
 * server around it. Steps of one stream and of B streams alternate, so that a machine whose speed drifts
 * (a shared VM) slows both alike; it reports the median step of each and {@code B x t1 / tB}, the
 * aggregate-throughput ratio that `kvserve bench serve` measures at B streams (its reach: 4 at 8).
 * Every step computes the logits of every row, as serving does.
 * The defaults mirror `bench serve -n 64`: a 24-token prompt per stream, then 64 decode steps before every stream
 * is truncated back to its prompt.
 * Usage: {@code java --add-modules jdk.incubator.vector -cp benchmarks.jar io.kvserve.bench.jmh.DecodeScalingProbe MODEL [threads] [seconds] [B] [prompt] [steps]}
 */
public final class DecodeScalingProbe {
    private DecodeScalingProbe() {}

    private static final boolean ONLY_BATCH = Boolean.getBoolean("probe.onlyBatch");

    public static void main(String[] args) throws Exception {
        String usage = "usage: DecodeScalingProbe MODEL.gguf [threads] [seconds] [batch] [prompt tokens] [decode steps]";
        int threads, b, context, span;
        double seconds;
        try {
            if (args.length < 1) throw new IllegalArgumentException("no model given");
            threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
            seconds = args.length > 2 ? Double.parseDouble(args[2]) : 20;
            b = args.length > 3 ? Integer.parseInt(args[3]) : 8;
            context = args.length > 4 ? Integer.parseInt(args[4]) : 24;
            span = args.length > 5 ? Integer.parseInt(args[5]) : 64;
            if (threads < 1 || b < 1 || context < 1 || span < 1 || !(seconds > 0)) throw new IllegalArgumentException("every number must be positive");
        } catch (IllegalArgumentException e) {
            System.err.println((e instanceof NumberFormatException ? "not a number: " : "") + e.getMessage() + "\n" + usage);
            System.exit(2);
            return;
        }
        Model model;
        try {
            model = Model.load(Path.of(args[0]), null);
        } catch (java.io.IOException | RuntimeException e) {
            System.err.println("DecodeScalingProbe: cannot load " + args[0] + ": " + e.getMessage());
            System.exit(2);
            return;
        }
        int ctx = Math.min(model.config().contextLength(), context + span + 1);
        WorkerPool pool = new WorkerPool(threads);
        ForwardPass pass = model.newForwardPass(Math.max(b, 64), pool);
        SplittableRandom rnd = new SplittableRandom(7);
        int vocab = model.config().vocabSize();
        try (KvCache cache = model.newContiguousCache(ctx)) {
            int[] seqs = new int[b + 1];
            int[] prompt = new int[context];
            for (int s = 0; s <= b; s++) {
                seqs[s] = cache.open();
                cache.reserve(seqs[s], ctx);
                for (int i = 0; i < context; i++) prompt[i] = rnd.nextInt(vocab);
                for (int p = 0; p < context; p += 64) {
                    int len = Math.min(64, context - p);
                    pass.forward(Batch.ofSequence(seqs[s], prompt, p, len, p, false), cache);
                }
            }
            int[] pos = new int[b + 1];
            Arrays.fill(pos, context);
            long[] t1 = new long[100_000], tb = new long[100_000];
            int steps = 0;
            long until = System.nanoTime() + (long) (seconds * 1e9);
            long warmUntil = System.nanoTime() + 5_000_000_000L;
            boolean warm = false;
            while (System.nanoTime() < until && steps < t1.length) {
                if (pos[0] + 1 >= ctx) {
                    for (int s = 0; s <= b; s++) {
                        cache.truncate(seqs[s], context);
                        pos[s] = context;
                    }
                }
                long a = System.nanoTime();
                // -Dprobe.onlyBatch=true skips the one-stream steps (to profile the batched step alone)
                if (!ONLY_BATCH) step(pass, cache, seqs, pos, 0, 1, rnd, vocab);
                else pos[0]++;
                long m = System.nanoTime();
                step(pass, cache, seqs, pos, 1, b, rnd, vocab);
                long e = System.nanoTime();
                if (!warm) {
                    warm = e > warmUntil;
                    continue;
                }
                t1[steps] = m - a;
                tb[steps] = e - m;
                steps++;
            }
            long[] s1 = Arrays.copyOf(t1, steps), sb = Arrays.copyOf(tb, steps);
            Arrays.sort(s1);
            Arrays.sort(sb);
            double m1 = s1[steps / 2] / 1e6, mb = sb[steps / 2] / 1e6;
            double sum1 = Arrays.stream(t1, 0, steps).sum() / 1e6, sumb = Arrays.stream(tb, 0, steps).sum() / 1e6;
            System.out.printf("%s threads %d prompt %d, %d steps: %d pairs; median step 1 stream %.2f ms, %d streams %.2f ms; ratio %.2fx (medians), %.2fx (totals); tok/s 1: %.1f, %d: %.1f%n",
                    model.name(), threads, context, span, steps, m1, b, mb, b * m1 / mb, b * sum1 / sumb, 1000 / m1, b, b * 1000 / mb);
        } finally {
            pool.close();
        }
    }

    /** One decode step of streams [from, from + n): each appends one random token and wants its logits. */
    private static void step(ForwardPass pass, KvCache cache, int[] seqs, int[] pos, int from, int n, SplittableRandom rnd, int vocab) {
        int[] t = new int[n], s = new int[n], p = new int[n];
        boolean[] w = new boolean[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
            s[i] = seqs[from + i];
            p[i] = pos[from + i]++;
            w[i] = true;
        }
        float[] logits = pass.forward(new Batch(t, s, p, w, n), cache);
        // the greedy sampler's argmax, so that the step's cost includes reading the logits once
        for (int i = 0; i < n; i++) sink += Sampler.argmax(logits, i * vocab, vocab);
    }

    /** Keeps the argmax from being optimised away. */
    private static volatile int sink;
}
