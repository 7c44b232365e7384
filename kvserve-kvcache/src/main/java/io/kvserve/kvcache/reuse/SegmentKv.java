package io.kvserve.kvcache.reuse;

import io.kvserve.model.kv.KvCache;

import java.util.Arrays;

/**
 * The KV of one text segment computed once: its tokens and, per layer, the keys (after RoPE, rotated
 * for positions {@code start .. start + length - 1}) and values of every KV head, decoded to F32.
 * Keys keep their rotation so that placing them elsewhere is one re-rotation by the offset change.
 *
 * @param tokens  the segment's token ids
 * @param start   position of the first token when the keys were rotated
 * @param keys    {@code (layers) -> (length, kvHeads * headDim)}
 * @param values  {@code (layers) -> (length, kvHeads * headDim)}
 */
public record SegmentKv(int[] tokens, int start, int kvHeads, int headDim, float[][] keys, float[][] values) {
    public SegmentKv {
        if (tokens.length == 0) throw new IllegalArgumentException("a segment needs at least one token");
        if (start < 0) throw new IllegalArgumentException("segment start " + start + " is negative");
        if (keys.length == 0 || keys.length != values.length) throw new IllegalArgumentException("keys and values need the same, non-zero number of layers");
        int width = tokens.length * kvHeads * headDim;
        for (int l = 0; l < keys.length; l++) {
            if (keys[l].length != width || values[l].length != width) {
                throw new IllegalArgumentException("layer " + l + " holds " + keys[l].length + " key / " + values[l].length + " value floats, expected " + width);
            }
        }
        tokens = tokens.clone();
    }

    /**
     * Copies positions {@code from .. from + tokens.length - 1} of every layer of {@code seq} out of
     * {@code cache}; {@code tokens} are the token ids at those positions.
     */
    public static SegmentKv capture(KvCache cache, int seq, int from, int[] tokens) {
        int layers = cache.layers(), kvDim = cache.kvHeads() * cache.headDim(), n = tokens.length;
        if (from < 0 || from + n > cache.length(seq)) {
            throw new IllegalArgumentException("positions [" + from + ", " + (from + n) + ") are not all stored (sequence length " + cache.length(seq) + ")");
        }
        float[][] k = new float[layers][n * kvDim], v = new float[layers][n * kvDim];
        for (int l = 0; l < layers; l++) {
            for (int i = 0; i < n; i++) cache.read(l, seq, from + i, k[l], i * kvDim, v[l], i * kvDim);
        }
        return new SegmentKv(tokens, from, cache.kvHeads(), cache.headDim(), k, v);
    }

    /** A copy whose keys are re-rotated as if computed from position {@code newStart} (values shared). */
    public SegmentKv movedTo(int newStart, io.kvserve.model.transformer.Rope rope) {
        int kvDim = kvDim();
        float[][] k = new float[keys.length][];
        for (int l = 0; l < keys.length; l++) {
            k[l] = keys[l].clone();
            for (int i = 0; i < tokens.length; i++) rope.rerotate(k[l], i * kvDim, kvHeads, start + i, newStart + i);
        }
        return new SegmentKv(tokens, newStart, kvHeads, headDim, k, values);
    }

    public int length() {
        return tokens.length;
    }

    public int layers() {
        return keys.length;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Token ids (a copy). */
    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    /** Token id at index {@code i}, without copying. */
    public int token(int i) {
        return tokens[i];
    }

    /** True when {@code other[from .. from + length)} equals this segment's tokens {@code [off, off + length)}. */
    boolean sameTokens(int off, int[] other, int from, int length) {
        return Arrays.equals(tokens, off, off + length, other, from, from + length);
    }

    /** Bytes of KV held (F32 keys and values). */
    public long bytes() {
        return 2L * layers() * tokens.length * kvDim() * Float.BYTES;
    }
}
