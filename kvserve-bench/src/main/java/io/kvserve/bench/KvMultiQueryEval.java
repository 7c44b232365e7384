package io.kvserve.bench;

import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.PrefillDriver;
import io.kvserve.model.transformer.ForwardPass;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One compressed context, several queries: each story's context (its first half) is prefilled and
 * compressed ONCE; then the compressed sequence is forked for each of {@code QUERIES} different
 * continuations (the story's own second half, then the second halves of the next stories), each
 * teacher-forced, and every next-token prediction is compared with the uncompressed F16 cache doing
 * the same. Query-agnostic presses (KVzip) should serve every continuation alike; query-aware ones
 * (SnapKV) pick tokens for the end of the context only.
 * {@code java -cp kvserve.jar io.kvserve.bench.KvMultiQueryEval MODEL TEXT STORIES QUERIES PRESS+TYPE...}
 */
public final class KvMultiQueryEval {
    private KvMultiQueryEval() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 5) throw new IllegalArgumentException("usage: KvMultiQueryEval MODEL TEXT STORIES QUERIES PRESS+TYPE...");
        int stories = Integer.parseInt(args[2]), queries = Integer.parseInt(args[3]);
        WorkerPool.setShared(1);
        try (Model m = Model.load(Path.of(args[0]), null)) {
            var opts = new KvFidelityEval.Options(stories + queries - 1, 96, 512, 0.5, 16);
            List<KvFidelityEval.Story> all = KvFidelityEval.stories(m, Files.readString(Path.of(args[1])), opts);
            ForwardPass fp = m.newForwardPass(64, WorkerPool.shared());
            List<KvFidelityEval.Config> configs = new ArrayList<>();
            configs.add(KvFidelityEval.Config.parse(KvFidelityEval.REFERENCE));
            for (int i = 4; i < args.length; i++) configs.add(KvFidelityEval.Config.parse(args[i]));
            List<List<int[]>> reference = null;
            System.out.printf(Locale.ROOT, "%s: %d contexts x %d continuations each; top-1 agreement with %s per continuation%n",
                    m.name(), stories, queries, KvFidelityEval.REFERENCE);
            for (KvFidelityEval.Config c : configs) {
                List<List<int[]>> argmax = run(m, fp, all, stories, queries, c);
                if (reference == null) reference = argmax;
                double[] agree = new double[queries];
                int[] count = new int[queries];
                for (int s = 0; s < stories; s++) {
                    for (int q = 0; q < queries; q++) {
                        int[] a = argmax.get(s).get(q), b = reference.get(s).get(q);
                        for (int i = 0; i < a.length; i++) if (a[i] == b[i]) agree[q]++;
                        count[q] += a.length;
                    }
                }
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-40s", c.name()));
                double sum = 0;
                int n = 0;
                for (int q = 0; q < queries; q++) {
                    line.append(String.format(Locale.ROOT, "  q%d %.4f", q + 1, agree[q] / count[q]));
                    sum += agree[q];
                    n += count[q];
                }
                line.append(String.format(Locale.ROOT, "  all %.4f", sum / n));
                System.out.println(line);
            }
        }
    }

    /** Per context, per continuation: the argmax of every next-token prediction. */
    private static List<List<int[]>> run(Model m, ForwardPass fp, List<KvFidelityEval.Story> all, int stories, int queries, KvFidelityEval.Config c) {
        int vocab = m.config().vocabSize();
        List<List<int[]>> r = new ArrayList<>();
        for (int s = 0; s < stories; s++) {
            KvFidelityEval.Story st = all.get(s);
            int t = st.context();
            int[] context = java.util.Arrays.copyOf(st.tokens(), t);
            List<int[]> perQuery = new ArrayList<>();
            try (PagedKvCache cache = new PagedKvCache(m.config().nLayers(), m.config().nKvHeads(), m.config().headDim(),
                    m.config().groupSize(), m.config().contextLength(), c.storage(), 16, 1L << 40, c.press())) {
                int seq = cache.open();
                float[] last;
                PrefillDriver d = cache.prefillDriver();
                if (d != null) last = d.prefill(m, fp, seq, context, 0);
                else {
                    float[] l = null;
                    for (int p = 0; p < t; p += fp.maxBatch()) l = fp.forward(Batch.ofSequence(seq, context, p, Math.min(fp.maxBatch(), t - p), p, false), cache);
                    last = java.util.Arrays.copyOf(l, vocab);
                }
                cache.stepDone(seq);   // compressed once, here
                for (int q = 0; q < queries; q++) {
                    KvFidelityEval.Story other = all.get(s + q);
                    int[] cont = java.util.Arrays.copyOfRange(other.tokens(), other.context(), other.tokens().length);
                    int len = Math.min(cont.length, m.config().contextLength() - t);
                    int[] am = new int[len];
                    am[0] = KvFidelityEval.argmax(last);
                    int fork = cache.fork(seq, t);
                    try {
                        // predictions after each continuation token but the last
                        for (int p = 0; p + 1 < len; p += fp.maxBatch()) {
                            int n = Math.min(fp.maxBatch(), len - 1 - p);
                            float[] logits = fp.forward(Batch.ofSequence(fork, cont, p, n, t + p, true), cache);
                            for (int i = 0; i < n; i++) am[p + i + 1] = io.kvserve.model.sampling.Sampler.argmax(logits, i * vocab, vocab);
                        }
                    } finally {
                        cache.release(fork);
                    }
                    perQuery.add(am);
                }
            }
            r.add(perQuery);
        }
        return r;
    }
}
