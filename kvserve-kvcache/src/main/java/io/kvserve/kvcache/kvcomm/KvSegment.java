package io.kvserve.kvcache.kvcomm;

import io.kvserve.model.transformer.Rope;

/**
 * Keys and values of a run of consecutive tokens, every layer and KV head, in F32. KVCOMM moves
 * these pieces between prompts, so keys are held <em>before</em> RoPE ("unrotated"): a piece
 * rotated for its target positions is the same as the cached post-RoPE keys re-rotated by the
 * offset (rotations compose additively), and distances and deltas do not depend on where the
 * piece happened to sit when it was computed. Values are never rotated.
 */
public final class KvSegment {
    private final int layers, kvHeads, headDim, tokens;
    final float[][][] keys;     // (layer, kvHead) -> (tokens, headDim)
    final float[][][] values;   // (layer, kvHead) -> (tokens, headDim)

    public KvSegment(int layers, int kvHeads, int headDim, int tokens) {
        if (layers < 1 || kvHeads < 1 || headDim < 1 || tokens < 0) {
            throw new IllegalArgumentException("segment shape (" + layers + ", " + kvHeads + ", " + tokens + ", " + headDim + ") is invalid");
        }
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.tokens = tokens;
        this.keys = new float[layers][kvHeads][tokens * headDim];
        this.values = new float[layers][kvHeads][tokens * headDim];
    }

    public int layers() { return layers; }
    public int kvHeads() { return kvHeads; }
    public int headDim() { return headDim; }
    public int tokens() { return tokens; }

    /** The key row of one token, {@code (tokens, headDim)} at {@code [layer][head]}; writable. */
    public float[] keys(int layer, int head) { return keys[layer][head]; }

    public float[] values(int layer, int head) { return values[layer][head]; }

    public void setKey(int layer, int head, int token, int ch, float x) { keys[layer][head][token * headDim + ch] = x; }

    public void setValue(int layer, int head, int token, int ch, float x) { values[layer][head][token * headDim + ch] = x; }

    public float key(int layer, int head, int token, int ch) { return keys[layer][head][token * headDim + ch]; }

    public float value(int layer, int head, int token, int ch) { return values[layer][head][token * headDim + ch]; }

    /** Tokens {@code [from, to)} as a new segment. */
    public KvSegment slice(int from, int to) {
        if (from < 0 || to > tokens || from > to) throw new IllegalArgumentException("slice [" + from + ", " + to + ") outside [0, " + tokens + "]");
        KvSegment s = new KvSegment(layers, kvHeads, headDim, to - from);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                System.arraycopy(keys[l][h], from * headDim, s.keys[l][h], 0, (to - from) * headDim);
                System.arraycopy(values[l][h], from * headDim, s.values[l][h], 0, (to - from) * headDim);
            }
        }
        return s;
    }

    public KvSegment copy() {
        return slice(0, tokens);
    }

    /** this - other, element-wise (keys and values); shapes must match. */
    public KvSegment minus(KvSegment other) {
        requireSameShape(other);
        KvSegment d = new KvSegment(layers, kvHeads, headDim, tokens);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                float[] a = keys[l][h], b = other.keys[l][h], o = d.keys[l][h];
                for (int i = 0; i < a.length; i++) o[i] = a[i] - b[i];
                a = values[l][h]; b = other.values[l][h]; o = d.values[l][h];
                for (int i = 0; i < a.length; i++) o[i] = a[i] - b[i];
            }
        }
        return d;
    }

    void requireSameShape(KvSegment o) {
        if (o.layers != layers || o.kvHeads != kvHeads || o.headDim != headDim || o.tokens != tokens) {
            throw new IllegalArgumentException("segment shapes differ: (" + layers + ", " + kvHeads + ", " + tokens + ", " + headDim
                    + ") vs (" + o.layers + ", " + o.kvHeads + ", " + o.tokens + ", " + o.headDim + ")");
        }
    }

    /** Rotates every key for positions {@code pos0, pos0 + 1, ...} (pre-RoPE to post-RoPE). */
    public void rotateKeys(Rope rope, int pos0) {
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                for (int t = 0; t < tokens; t++) rope.rotate(keys[l][h], t * headDim, 1, pos0 + t);
            }
        }
    }

    /** Undoes {@link #rotateKeys}: keys cached for positions {@code pos0, pos0 + 1, ...} back to pre-RoPE. */
    public void unrotateKeys(Rope rope, int pos0) {
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                for (int t = 0; t < tokens; t++) rope.unrotate(keys[l][h], t * headDim, 1, pos0 + t);
            }
        }
    }
}
