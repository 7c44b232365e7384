package io.kvserve.kvcache.kvcomm;

import io.kvserve.model.kv.ContiguousKvCache;
import io.kvserve.model.kv.ForwardingKvCache;
import io.kvserve.model.transformer.Rope;

/**
 * An F32 contiguous cache whose sequences can be written and read as {@link KvSegment}s, for
 * assembling a prompt's KV from reused pieces. Unlike the other caches, {@link #append} may also
 * overwrite an already stored position: a forward pass over a batch of chosen positions then
 * recomputes exactly those positions in place (the last prompt token, selective recompute) while
 * attending over the assembled rest. Positions are array indices, so causal attention is "stored
 * index <= maxPos".
 */
public final class SegmentKvCache extends ForwardingKvCache {
    private final ContiguousKvCache c;

    public SegmentKvCache(int layers, int kvHeads, int headDim, int maxPositions) {
        this(new ContiguousKvCache(layers, kvHeads, headDim, maxPositions));
    }

    private SegmentKvCache(ContiguousKvCache c) {
        super(c);
        this.c = c;
    }

    /** Appends at the end, or overwrites a stored position (recompute in place). */
    @Override
    public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        if (pos < c.length(seq, layer)) c.overwrite(layer, seq, pos, k, kOff, v, vOff);
        else c.append(layer, seq, pos, k, kOff, v, vOff);
    }

    /**
     * Writes {@code seg} (pre-RoPE keys) at positions {@code pos0 ..} of every layer, rotating the
     * keys for those positions; {@code pos0} must not leave a gap.
     */
    public void write(int seq, int pos0, KvSegment seg, Rope rope) {
        int n = seg.tokens(), kvHeads = c.kvHeads(), hd = c.headDim();
        int grow = pos0 + n - c.length(seq);
        if (grow > 0) c.reserve(seq, grow);
        float[] k = new float[kvHeads * hd], v = new float[kvHeads * hd];
        for (int l = 0; l < c.layers(); l++) {
            if (pos0 > c.length(seq, l)) throw new IllegalStateException("layer " + l + " holds " + c.length(seq, l) + " positions; cannot write from " + pos0);
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < kvHeads; h++) {
                    System.arraycopy(seg.keys[l][h], t * hd, k, h * hd, hd);
                    System.arraycopy(seg.values[l][h], t * hd, v, h * hd, hd);
                }
                rope.rotate(k, 0, kvHeads, pos0 + t);
                append(l, seq, pos0 + t, k, 0, v, 0);
            }
        }
    }

    /** Positions {@code [from, to)} of every layer as a segment with pre-RoPE keys. */
    public KvSegment read(int seq, int from, int to, Rope rope) {
        int layers = c.layers(), kvHeads = c.kvHeads(), hd = c.headDim();
        int stored = c.length(seq, layers - 1);
        if (from < 0 || to > stored || from > to) throw new IllegalArgumentException("read [" + from + ", " + to + ") outside [0, " + stored + "]");
        KvSegment seg = new KvSegment(layers, kvHeads, hd, to - from);
        float[] k = new float[kvHeads * hd], v = new float[kvHeads * hd];
        for (int l = 0; l < layers; l++) {
            for (int t = from; t < to; t++) {
                c.read(l, seq, t, k, 0, v, 0);
                for (int h = 0; h < kvHeads; h++) {
                    System.arraycopy(k, h * hd, seg.keys[l][h], (t - from) * hd, hd);
                    System.arraycopy(v, h * hd, seg.values[l][h], (t - from) * hd, hd);
                }
            }
        }
        seg.unrotateKeys(rope, from);
        return seg;
    }

    @Override
    public void close() {
        c.close();
    }
}
