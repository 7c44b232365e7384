package io.kvserve.kvcache;

/**
 * The kernel feature maps of a linear-attention term for one (layer, KV head): {@code phi} for
 * queries, {@code psi} for keys, both into {@code R^dim}, chosen so that
 * {@code phi(q) . psi(k) ~ exp(q . k / sqrt(headDim))}, the unnormalised softmax weight. Used by
 * {@link LowRankState} (LESS). Implementations must be safe to call from many threads at once.
 */
public interface AttentionFeatureMap {
    /** Feature dimension D_k. */
    int dim();

    /** Head dimension of the keys and queries. */
    int headDim();

    /** {@code dst[0..dim) = phi(q[off..off+headDim))}. */
    void query(float[] q, int off, float[] dst);

    /** {@code dst[0..dim) = psi(k[off..off+headDim))}. */
    void key(float[] k, int off, float[] dst);
}
