package io.kvserve.model.kv;

import io.kvserve.kernels.Kernels;


/**
 * The simple cache: per sequence, per (layer, KV head), one growing float array of keys and one of
 * values, {@code (positions, headDim)} each. Exact (F32), no sharing between sequences.
 */
public final class ContiguousKvCache implements KvCache {
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final int maxPositions;
    private final SequenceSlots<Sequence> sequences = new SequenceSlots<>();

    private final class Sequence {
        final float[][][] keys = new float[layers][kvHeads][];     // (layer, kvHead) -> (capacity, headDim)
        final float[][][] values = new float[layers][kvHeads][];
        final int[] lengths = new int[layers];
        int capacity;

        void ensure(int positions) {
            if (positions <= capacity) return;
            int cap = Math.min(maxPositions, Math.max(positions, Math.max(16, capacity * 2)));
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    keys[l][h] = grow(keys[l][h], cap);
                    values[l][h] = grow(values[l][h], cap);
                }
            }
            capacity = cap;
        }

        private float[] grow(float[] a, int cap) {
            float[] b = new float[cap * headDim];
            if (a != null) System.arraycopy(a, 0, b, 0, Math.min(a.length, b.length));
            return b;
        }
    }

    public ContiguousKvCache(int layers, int kvHeads, int headDim, int maxPositions) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.maxPositions = maxPositions;
    }

    @Override public int layers() { return layers; }
    @Override public int kvHeads() { return kvHeads; }
    @Override public int headDim() { return headDim; }

    @Override
    public synchronized int open() {
        return sequences.add(new Sequence());
    }

    private Sequence seq(int id) {
        return sequences.get(id);
    }

    @Override
    public synchronized int fork(int src, int length) {
        Sequence a = seq(src);
        if (length < 0 || length > a.lengths[0]) throw new IllegalArgumentException("fork length " + length + " outside [0, " + a.lengths[0] + "]");
        int id = open();
        Sequence b = seq(id);
        b.ensure(length);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                System.arraycopy(a.keys[l][h], 0, b.keys[l][h], 0, length * headDim);
                System.arraycopy(a.values[l][h], 0, b.values[l][h], 0, length * headDim);
            }
            b.lengths[l] = length;
        }
        return id;
    }

    @Override
    public void truncate(int seq, int fromPos) {
        Sequence s = seq(seq);
        for (int l = 0; l < layers; l++) s.lengths[l] = Math.min(s.lengths[l], Math.max(0, fromPos));
    }

    @Override
    public synchronized void release(int seq) {
        sequences.remove(seq);
    }

    @Override
    public int length(int seq) {
        return seq(seq).lengths[0];
    }

    /** Positions stored for {@code layer} of {@code seq} (during a forward pass, earlier layers run ahead). */
    public int length(int seq, int layer) {
        return seq(seq).lengths[layer];
    }

    @Override
    public void reserve(int seq, int tokens) {
        Sequence s = seq(seq);
        long need = (long) s.lengths[0] + tokens;
        if (need > maxPositions) {
            throw new KvCacheFullException("the sequence needs " + need + " positions but the cache holds at most " + maxPositions + " (the model's context length or --ctx)");
        }
        s.ensure((int) need);
    }

    @Override
    public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        if (pos != s.lengths[layer]) throw new IllegalStateException("layer " + layer + " expects position " + s.lengths[layer] + ", got " + pos);
        if (pos >= s.capacity) s.ensure(pos + 1);
        for (int h = 0; h < kvHeads; h++) {
            System.arraycopy(k, kOff + h * headDim, s.keys[layer][h], pos * headDim, headDim);
            System.arraycopy(v, vOff + h * headDim, s.values[layer][h], pos * headDim, headDim);
        }
        s.lengths[layer] = pos + 1;
    }

    @Override
    public void overwrite(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        if (pos < 0 || pos >= s.lengths[layer]) throw new IllegalArgumentException("layer " + layer + " holds positions [0, " + s.lengths[layer] + "), cannot overwrite " + pos);
        for (int h = 0; h < kvHeads; h++) {
            System.arraycopy(k, kOff + h * headDim, s.keys[layer][h], pos * headDim, headDim);
            System.arraycopy(v, vOff + h * headDim, s.values[layer][h], pos * headDim, headDim);
        }
    }

    @Override
    public void read(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        if (pos < 0 || pos >= s.lengths[layer]) throw new IllegalArgumentException("layer " + layer + " holds positions [0, " + s.lengths[layer] + "), cannot read " + pos);
        for (int h = 0; h < kvHeads; h++) {
            System.arraycopy(s.keys[layer][h], pos * headDim, k, kOff + h * headDim, headDim);
            System.arraycopy(s.values[layer][h], pos * headDim, v, vOff + h * headDim, headDim);
        }
    }

    @Override
    public void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale,
                       float[] out, int outOff, float[] scores) {
        Sequence s = seq(seq);
        int n = Math.min(maxPos + 1, s.lengths[layer]);
        float[] keys = s.keys[layer][kvHead];
        float[] values = s.values[layer][kvHead];
        for (int j = 0; j < nq; j++) {
            int qo = qOff + j * headDim;
            Kernels.attentionScores(q, qo, keys, 0, n, headDim, scale, scores, 0);
            Kernels.softmax(scores, 0, n);
            int oo = outOff + j * headDim;
            java.util.Arrays.fill(out, oo, oo + headDim, 0f);
            Kernels.weightedRowSum(scores, 0, n, values, 0, headDim, out, oo);
        }
    }

    @Override
    public synchronized long bytesInUse() {
        long b = 0;
        for (Sequence s : sequences.open()) b += 2L * layers * kvHeads * s.capacity * headDim * Float.BYTES;
        return b;
    }

    @Override
    public void close() {
        sequences.clear();
    }
}
