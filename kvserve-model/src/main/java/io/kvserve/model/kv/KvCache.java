package io.kvserve.model.kv;

/**
 * Where the forward pass keeps keys and values, per sequence. The forward pass only appends and
 * asks for attention, so a paged, quantised or compressed cache can replace the contiguous one
 * without touching it. Keys are stored after RoPE. Sequence ids are small non-negative ints.
 */
public interface KvCache extends AutoCloseable {
    int layers();

    int kvHeads();

    int headDim();

    /** Opens an empty sequence and returns its id. */
    int open();

    /** A new sequence sharing the first {@code length} positions of {@code src}. */
    int fork(int src, int length);

    /** Drops every position >= {@code fromPos}. */
    void truncate(int seq, int fromPos);

    /** Frees the sequence. */
    void release(int seq);

    /** Positions appended so far to layer 0 of {@code seq} (the next position to write). */
    int length(int seq);

    /** Room for {@code tokens} more positions, or a {@link KvCacheFullException}. */
    void reserve(int seq, int tokens);

    /**
     * Stores the keys and values of one token of one layer: {@code k} and {@code v} hold
     * {@code kvHeads * headDim} floats each from their offsets, keys already rotated.
     */
    void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff);

    /**
     * Replaces the keys and values of one token of one layer at a position already stored
     * ({@code pos < } the layer's length), same layout as {@link #append}: what selective recompute
     * and KV reuse need to refresh reused KV in place. Caches that cannot do it throw
     * {@link UnsupportedOperationException}.
     */
    default void overwrite(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot overwrite stored KV");
    }

    /**
     * Reads the stored keys (after RoPE) and values of position {@code pos} of one layer into
     * {@code k} and {@code v} ({@code kvHeads * headDim} floats each), decoded to F32. Throws
     * {@link IllegalArgumentException} when the position is not stored (never written or evicted).
     */
    default void read(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot read stored KV");
    }

    /**
     * Causal attention of {@code nq} query heads that share KV head {@code kvHead}: for each query
     * head j (its vector at {@code q[qOff + j * headDim]}), softmax(scale * q.k_t) over the stored
     * positions t <= {@code maxPos}, times the values, written to {@code out[outOff + j * headDim]}.
     * {@code scores} is scratch of at least {@link #length} floats.
     */
    void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale,
                float[] out, int outOff, float[] scores);

    /**
     * Called between forward passes, when no attention is running, after the prompt of {@code seq}
     * has been prefilled and after each decode step: the point where a compressing cache runs its
     * press. The first call with a non-empty sequence marks the end of prefill.
     */
    default void stepDone(int seq) {}

    /** Bytes of KV data held, as the allocator counts them. */
    long bytesInUse();

    @Override
    void close();
}
