package io.kvserve.kvcache;

/**
 * A per-(layer, KV head) transform that stores one row of {@link #width} floats per token instead of a
 * key row and a value row, and lets attention run on the stored rows directly: the query is mapped
 * by {@link #encodeQuery} so that {@code encodeQuery(q) . row(t) == q . k_t}, and values are linear in
 * the row, so the attention output is {@link #decodeValue} of the attention-weighted sum of rows.
 * EliteKV (elite RoPE dims plus a joint K/V latent) is one.
 */
public interface StreamCodec {
    /** Head dimension of the keys and values it encodes. */
    int headDim();

    /** Floats stored per token. */
    int width();

    /** Encodes the key (after RoPE, at {@code pos}) and value of one token into {@code width} floats. */
    void encode(float[] k, int kOff, float[] v, int vOff, int pos, float[] dst, int dstOff);

    /** The key (after RoPE, at {@code pos}) that a stored row stands for, {@code headDim} floats. */
    void decodeKey(float[] row, int rowOff, int pos, float[] dst, int dstOff);

    /** The value a stored row stands for; linear in the row, so it also decodes weighted sums of rows. */
    void decodeValue(float[] row, int rowOff, float[] dst, int dstOff);

    /** The query (after RoPE, at {@code pos}) mapped into row space, {@code width} floats. */
    void encodeQuery(float[] q, int qOff, int pos, float[] dst, int dstOff);
}
