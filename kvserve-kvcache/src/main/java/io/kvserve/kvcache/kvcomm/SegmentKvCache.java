package io.kvserve.kvcache.kvcomm;

import io.kvserve.kernels.Kernels;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.kv.KvCacheFullException;
import io.kvserve.model.transformer.Rope;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An F32 cache whose sequences can be written and read as {@link KvSegment}s, for assembling a
 * prompt's KV from reused pieces. Unlike the other caches, {@link #append} may also overwrite an
 * already stored position: a forward pass over a batch of chosen positions then recomputes exactly
 * those positions in place (the last prompt token, selective recompute) while attending over the
 * assembled rest. Positions are array indices, so causal attention is "stored index <= maxPos".
 */
public final class SegmentKvCache implements KvCache {
    private final int layers, kvHeads, headDim, maxPositions;
    private final List<Sequence> sequences = new ArrayList<>();

    private final class Sequence {
        final float[][][] keys = new float[layers][kvHeads][0];     // (layer, kvHead) -> (capacity, headDim), post-RoPE
        final float[][][] values = new float[layers][kvHeads][0];
        final int[] lengths = new int[layers];
        int capacity;

        void ensure(int positions) {
            if (positions <= capacity) return;
            if (positions > maxPositions) {
                throw new KvCacheFullException("the sequence needs " + positions + " positions but the cache holds at most " + maxPositions + " (the model's context length)");
            }
            int cap = Math.min(maxPositions, Math.max(positions, Math.max(64, capacity * 2)));
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    keys[l][h] = Arrays.copyOf(keys[l][h], cap * headDim);
                    values[l][h] = Arrays.copyOf(values[l][h], cap * headDim);
                }
            }
            capacity = cap;
        }
    }

    public SegmentKvCache(int layers, int kvHeads, int headDim, int maxPositions) {
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
        for (int i = 0; i < sequences.size(); i++) {
            if (sequences.get(i) == null) {
                sequences.set(i, new Sequence());
                return i;
            }
        }
        sequences.add(new Sequence());
        return sequences.size() - 1;
    }

    private Sequence seq(int id) {
        Sequence s = id >= 0 && id < sequences.size() ? sequences.get(id) : null;
        if (s == null) throw new IllegalArgumentException("unknown sequence " + id);
        return s;
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
        seq(seq);
        sequences.set(seq, null);
    }

    @Override
    public int length(int seq) {
        return seq(seq).lengths[0];
    }

    @Override
    public void reserve(int seq, int tokens) {
        Sequence s = seq(seq);
        s.ensure(s.lengths[0] + tokens);
    }

    /** Appends at the end, or overwrites a stored position (recompute in place). */
    @Override
    public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        if (pos < 0 || pos > s.lengths[layer]) throw new IllegalStateException("layer " + layer + " holds " + s.lengths[layer] + " positions; cannot write position " + pos);
        if (pos >= s.capacity) s.ensure(pos + 1);
        for (int h = 0; h < kvHeads; h++) {
            System.arraycopy(k, kOff + h * headDim, s.keys[layer][h], pos * headDim, headDim);
            System.arraycopy(v, vOff + h * headDim, s.values[layer][h], pos * headDim, headDim);
        }
        s.lengths[layer] = Math.max(s.lengths[layer], pos + 1);
    }

    @Override
    public void overwrite(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        if (pos < 0 || pos >= seq(seq).lengths[layer]) throw new IllegalArgumentException("layer " + layer + " does not hold position " + pos);
        append(layer, seq, pos, k, kOff, v, vOff);
    }

    @Override
    public void read(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        if (pos < 0 || pos >= s.lengths[layer]) throw new IllegalArgumentException("layer " + layer + " does not hold position " + pos);
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
            for (int t = 0; t < n; t++) scores[t] = Kernels.dot(q, qo, keys, t * headDim, headDim) * scale;
            Kernels.softmax(scores, 0, n);
            int oo = outOff + j * headDim;
            Arrays.fill(out, oo, oo + headDim, 0f);
            for (int t = 0; t < n; t++) Kernels.axpy(scores[t], values, t * headDim, out, oo, headDim);
        }
    }

    /**
     * Writes {@code seg} (pre-RoPE keys) at positions {@code pos0 ..} of every layer, rotating the
     * keys for those positions; {@code pos0} must not leave a gap.
     */
    public void write(int seq, int pos0, KvSegment seg, Rope rope) {
        Sequence s = seq(seq);
        int n = seg.tokens();
        s.ensure(pos0 + n);
        for (int l = 0; l < layers; l++) {
            if (pos0 > s.lengths[l]) throw new IllegalStateException("layer " + l + " holds " + s.lengths[l] + " positions; cannot write from " + pos0);
            for (int h = 0; h < kvHeads; h++) {
                float[] dk = s.keys[l][h];
                System.arraycopy(seg.keys[l][h], 0, dk, pos0 * headDim, n * headDim);
                System.arraycopy(seg.values[l][h], 0, s.values[l][h], pos0 * headDim, n * headDim);
                for (int t = 0; t < n; t++) rope.rotate(dk, (pos0 + t) * headDim, 1, pos0 + t);
            }
            s.lengths[l] = Math.max(s.lengths[l], pos0 + n);
        }
    }

    /** Positions {@code [from, to)} of every layer as a segment with pre-RoPE keys. */
    public KvSegment read(int seq, int from, int to, Rope rope) {
        Sequence s = seq(seq);
        if (from < 0 || to > s.lengths[layers - 1] || from > to) throw new IllegalArgumentException("read [" + from + ", " + to + ") outside [0, " + s.lengths[layers - 1] + "]");
        KvSegment seg = new KvSegment(layers, kvHeads, headDim, to - from);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                System.arraycopy(s.keys[l][h], from * headDim, seg.keys[l][h], 0, (to - from) * headDim);
                System.arraycopy(s.values[l][h], from * headDim, seg.values[l][h], 0, (to - from) * headDim);
            }
        }
        seg.unrotateKeys(rope, from);
        return seg;
    }

    @Override
    public synchronized long bytesInUse() {
        long b = 0;
        for (Sequence s : sequences) if (s != null) b += 2L * layers * kvHeads * s.capacity * headDim * Float.BYTES;
        return b;
    }

    @Override
    public void close() {
        sequences.clear();
    }
}
