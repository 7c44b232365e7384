package io.kvserve.model.transformer;

import io.kvserve.model.Batch;
import io.kvserve.model.kv.KvCache;

/**
 * Chooses, during {@link ForwardPass#forwardSelective}, which rows of the batch continue to the next
 * layers. Called once per layer after the rows' q, k and v are computed (k and q after RoPE) and
 * before their KV is written, so the cache still holds the previous (reused) KV of rows that overwrite.
 */
@FunctionalInterface
public interface RowSelector {
    /**
     * @param layer  the layer just computed
     * @param batch  the whole batch as given
     * @param rows   batch indices of the active rows, ascending ({@code n} of them)
     * @param q      {@code (n, nHeads * headDim)} queries of the active rows
     * @param k      {@code (n, nKvHeads * headDim)} keys of the active rows
     * @param v      {@code (n, nKvHeads * headDim)} values of the active rows
     * @param cache  the cache, before this layer's writes
     * @return indices into {@code rows} (ascending, 0..n-1) of the rows that continue after this
     *         layer, or null to keep all; rows that want logits always continue
     */
    int[] select(int layer, Batch batch, int[] rows, int n, float[] q, float[] k, float[] v, KvCache cache);
}
