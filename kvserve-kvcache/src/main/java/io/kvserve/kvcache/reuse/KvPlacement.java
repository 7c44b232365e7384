package io.kvserve.kvcache.reuse;

import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.Rope;

/**
 * Writes stored segment KV into a sequence at a new position: keys re-rotated from the positions they
 * were computed at to the new ones (RoPE angles are linear in the position, so one rotation by the
 * offset change is exact for every pair layout and frequency scaling), values copied unchanged.
 */
public final class KvPlacement {
    private KvPlacement() {}

    /**
     * Appends tokens {@code segmentOffset .. segmentOffset + length - 1} of {@code segment} to
     * {@code seq} at positions {@code cache.length(seq) ..} in every layer. The sequence must be equally
     * long in every layer (no forward pass half done). Returns the first position written.
     */
    public static int place(KvCache cache, int seq, SegmentKv segment, int segmentOffset, int length, Rope rope) {
        if (segment.layers() != cache.layers() || segment.kvHeads() != cache.kvHeads() || segment.headDim() != cache.headDim()) {
            throw new IllegalArgumentException("segment KV shape (" + segment.layers() + " layers, " + segment.kvHeads() + " KV heads, head dim "
                    + segment.headDim() + ") does not match the cache (" + cache.layers() + ", " + cache.kvHeads() + ", " + cache.headDim() + "): it was computed by another model");
        }
        if (rope.headDim() != segment.headDim()) throw new IllegalArgumentException("RoPE head dim " + rope.headDim() + " does not match the segment's " + segment.headDim());
        if (segmentOffset < 0 || length < 0 || segmentOffset + length > segment.length()) {
            throw new IllegalArgumentException("tokens [" + segmentOffset + ", " + (segmentOffset + length) + ") are outside the segment's " + segment.length());
        }
        int start = cache.length(seq);
        cache.reserve(seq, length);
        int kvDim = segment.kvDim();
        float[] k = new float[kvDim];
        float[] v = new float[kvDim];
        for (int l = 0; l < segment.layers(); l++) {
            float[] keys = segment.keys()[l], values = segment.values()[l];
            for (int i = 0; i < length; i++) {
                int src = segmentOffset + i;
                System.arraycopy(keys, src * kvDim, k, 0, kvDim);
                System.arraycopy(values, src * kvDim, v, 0, kvDim);
                rope.rerotate(k, 0, segment.kvHeads(), segment.start() + src, start + i);
                cache.append(l, seq, start + i, k, 0, v, 0);
            }
        }
        return start;
    }

    /** Appends the whole segment; see {@link #place(KvCache, int, SegmentKv, int, int, Rope)}. */
    public static int place(KvCache cache, int seq, SegmentKv segment, Rope rope) {
        return place(cache, seq, segment, 0, segment.length(), rope);
    }
}
