package io.kvserve.kvcache.elitekv;

import io.kvserve.kernels.Kernels;
import io.kvserve.model.Batch;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.kv.KvCacheFullException;
import io.kvserve.model.tokenizer.Tokenizer;
import io.kvserve.model.transformer.ForwardPass;
import io.kvserve.model.transformer.Rope;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Calibrates EliteKV on text: runs the unmodified model over each sequence through a cache that
 * records every key, value and query (after RoPE), then ranks each KV head's rotation pairs with
 * {@link RopElite} and sums the second moments of {@code [unrotated key ; value]} for the joint
 * low-rank projection. The training-free variant: nothing of the model is changed or trained.
 */
public final class EliteKvCalibrator {
    private EliteKvCalibrator() {}

    /**
     * The stories of {@code text} (blank-line-separated paragraphs of at least {@code minTokens} tokens,
     * cut to {@code maxTokens}) after the first {@code skip} such stories, at most {@code count} of them:
     * with {@code skip} at least the number evaluated, calibration and evaluation never share a story.
     */
    public static List<int[]> stories(Tokenizer tok, String text, int skip, int count, int minTokens, int maxTokens) {
        List<int[]> r = new ArrayList<>();
        int seen = 0;
        for (String para : text.split("\\n\\s*\\n")) {
            if (r.size() == count) break;
            String p = para.strip();
            if (p.isEmpty()) continue;
            int[] ids = tok.encode(p, tok.addBosByDefault(), true);
            if (ids.length < minTokens) continue;
            if (seen++ < skip) continue;
            r.add(ids.length > maxTokens ? Arrays.copyOf(ids, maxTokens) : ids);
        }
        if (r.isEmpty()) {
            throw new IllegalArgumentException("the calibration text has no story of at least " + minTokens + " tokens after skipping the first " + skip
                    + ": give a longer text or a smaller skip");
        }
        return r;
    }

    /** Calibrates on {@code sequences} (token ids, each within the model's context). */
    public static EliteKvProfile calibrate(ForwardPass fp, List<int[]> sequences, PrintStream log) {
        ModelConfig c = fp.config();
        Rope rope = fp.rope();
        int layers = c.nLayers(), kvHeads = c.nKvHeads(), d = c.headDim(), g = c.groupSize(), pairs = rope.pairs();
        int[] first = new int[pairs], second = new int[pairs];
        float[] invFreq = new float[pairs];
        for (int p = 0; p < pairs; p++) {
            first[p] = rope.firstOf(p);
            second[p] = rope.secondOf(p);
            invFreq[p] = rope.inverseFrequency(p);
        }
        List<Recording> recs = new ArrayList<>();
        long tokens = 0;
        for (int[] seq : sequences) {
            if (seq.length > c.contextLength()) throw new IllegalArgumentException("a calibration sequence has " + seq.length + " tokens, beyond the model's context of " + c.contextLength());
            Recording rec = new Recording(layers, kvHeads, d, g, seq.length);
            int s = rec.open();
            for (int p = 0; p < seq.length; p += fp.maxBatch()) {
                int len = Math.min(fp.maxBatch(), seq.length - p);
                fp.forward(Batch.ofSequence(s, seq, p, len, p, false), rec);
            }
            recs.add(rec);
            tokens += seq.length;
        }
        int[][][] ranking = new int[layers][kvHeads][];
        double[][][] moments = new double[layers][kvHeads][];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                List<RopElite.HeadSample> samples = new ArrayList<>();
                double[] m = new double[4 * d * d];
                for (Recording rec : recs) {
                    int n = rec.length;
                    int[] pos = new int[n];
                    for (int i = 0; i < n; i++) pos[i] = i;
                    float[] k = Arrays.copyOf(rec.keys[l][h], n * d), v = rec.values[l][h];
                    samples.add(new RopElite.HeadSample(Arrays.copyOf(rec.queries[l][h], n * g * d), k, pos, g));
                    float[] ku = RopElite.unrotate(k, n, d, pos, 1, first, second, invFreq);
                    double[] x = new double[2 * d];
                    for (int t = 0; t < n; t++) {
                        for (int i = 0; i < d; i++) {
                            x[i] = ku[t * d + i];
                            x[d + i] = v[t * d + i];
                        }
                        for (int i = 0; i < 2 * d; i++) for (int j = 0; j < 2 * d; j++) m[i * 2 * d + j] += x[i] * x[j];
                    }
                }
                ranking[l][h] = RopElite.rank(samples, d, first, second, invFreq);
                moments[l][h] = m;
                if (log != null) log.printf("kvserve calibrate elitekv: layer %d KV head %d: RoPElite order %s%n", l, h, Arrays.toString(ranking[l][h]));
            }
        }
        return new EliteKvProfile(layers, kvHeads, d, first, second, invFreq, ranking, moments, tokens);
    }

    /**
     * A one-sequence F32 cache that keeps what the forward pass gives it: keys and values per
     * (layer, KV head) and the queries each group attends with, all after RoPE.
     */
    static final class Recording implements KvCache {
        final int layers, kvHeads, headDim, group, capacity;
        final float[][][] keys, values, queries;   // (layer, kvHead) -> (tokens, [group,] headDim)
        final int[] next;
        int length;
        private boolean opened;

        Recording(int layers, int kvHeads, int headDim, int group, int capacity) {
            this.layers = layers;
            this.kvHeads = kvHeads;
            this.headDim = headDim;
            this.group = group;
            this.capacity = capacity;
            keys = new float[layers][kvHeads][capacity * headDim];
            values = new float[layers][kvHeads][capacity * headDim];
            queries = new float[layers][kvHeads][capacity * group * headDim];
            next = new int[layers];
        }

        @Override public int layers() { return layers; }
        @Override public int kvHeads() { return kvHeads; }
        @Override public int headDim() { return headDim; }

        @Override
        public int open() {
            if (opened) throw new IllegalStateException("the calibration cache holds one sequence");
            opened = true;
            return 0;
        }

        @Override public int fork(int src, int length) { throw new UnsupportedOperationException("the calibration cache does not fork"); }
        @Override public void truncate(int seq, int fromPos) { throw new UnsupportedOperationException("the calibration cache does not truncate"); }
        @Override public void release(int seq) {}
        @Override public int length(int seq) { return next[0]; }

        @Override
        public void reserve(int seq, int tokens) {
            if (next[0] + tokens > capacity) throw new KvCacheFullException("calibration cache holds " + capacity + " positions");
        }

        @Override
        public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
            if (pos != next[layer] || pos >= capacity) throw new IllegalStateException("layer " + layer + " expects position " + next[layer] + ", got " + pos);
            for (int h = 0; h < kvHeads; h++) {
                System.arraycopy(k, kOff + h * headDim, keys[layer][h], pos * headDim, headDim);
                System.arraycopy(v, vOff + h * headDim, values[layer][h], pos * headDim, headDim);
            }
            next[layer] = pos + 1;
            length = Math.max(length, pos + 1);
        }

        @Override
        public void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale,
                           float[] out, int outOff, float[] scores) {
            if (nq == group) System.arraycopy(q, qOff, queries[layer][kvHead], maxPos * group * headDim, group * headDim);
            float[] k = keys[layer][kvHead], v = values[layer][kvHead];
            int n = maxPos + 1;
            for (int j = 0; j < nq; j++) {
                for (int t = 0; t < n; t++) scores[t] = Kernels.dot(q, qOff + j * headDim, k, t * headDim, headDim) * scale;
                Kernels.softmax(scores, 0, n);
                Arrays.fill(out, outOff + j * headDim, outOff + (j + 1) * headDim, 0f);
                for (int t = 0; t < n; t++) Kernels.axpy(scores[t], v, t * headDim, out, outOff + j * headDim, headDim);
            }
        }

        @Override
        public long bytesInUse() {
            return 0;
        }

        @Override
        public void close() {}
    }
}
