package io.kvserve.kvcache.reuse;

import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.util.Arrays;

/** Dense prefill helpers for the reuse tests. */
final class ReuseFixture {
    private ReuseFixture() {}

    static ForwardPass pass(Model m, int maxBatch) {
        return m.newForwardPass(maxBatch, WorkerPool.shared());
    }

    /** Appends {@code tokens} to {@code seq} with the ordinary forward pass; logits of the last token (a copy). */
    static float[] prefill(ForwardPass fp, KvCache cache, int seq, int[] tokens) {
        float[] last = new float[0];
        int pos0 = cache.length(seq);
        cache.reserve(seq, tokens.length);
        for (int from = 0; from < tokens.length; from += fp.maxBatch()) {
            int n = Math.min(fp.maxBatch(), tokens.length - from);
            float[] l = fp.forward(Batch.ofSequence(seq, tokens, from, n, pos0 + from, false), cache);
            last = Arrays.copyOf(l, fp.config().vocabSize());
        }
        return last;
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] out = new int[n];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) r[i] = from + i;
        return r;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        float d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }

    /** Keys and values of every layer of positions [from, to) of {@code seq}, flattened. */
    static float[] kv(KvCache cache, int seq, int from, int to) {
        int kvDim = cache.kvHeads() * cache.headDim();
        float[] out = new float[cache.layers() * (to - from) * 2 * kvDim];
        int o = 0;
        for (int l = 0; l < cache.layers(); l++) {
            for (int p = from; p < to; p++) {
                cache.read(l, seq, p, out, o, out, o + kvDim);
                o += 2 * kvDim;
            }
        }
        return out;
    }
}
