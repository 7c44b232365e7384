package io.kvserve.kvcache;

import io.kvserve.kvcache.press.KvPress;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.kv.KvCache;

/**
 * The paged cache for an element type and press: a {@link PagedKvCache}, or a {@link LayerGroupedKvCache}
 * for {@code group=layer} (as the element type, or as the target of {@code quantize:...,group=layer}).
 */
public final class KvCaches {
    private KvCaches() {}

    public static KvCache paged(int layers, int kvHeads, int headDim, int groupSize, int maxPositions, KvStorage storage,
                                int tokensPerPage, long byteBudget, KvPress press) {
        if (storage.layerGroups() || LayerGroupedKvCache.quantizesIntoLayerGroups(press)) {
            return new LayerGroupedKvCache(layers, kvHeads, headDim, groupSize, maxPositions, storage, tokensPerPage, byteBudget, press);
        }
        return new PagedKvCache(layers, kvHeads, headDim, groupSize, maxPositions, storage, tokensPerPage, byteBudget, press);
    }

    /** A cache for {@code c}'s shape with the default page size. */
    public static KvCache forModel(ModelConfig c, int maxPositions, KvStorage storage, long byteBudget, KvPress press) {
        return paged(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), Math.min(maxPositions, c.contextLength()), storage,
                PagedKvCache.DEFAULT_TOKENS_PER_PAGE, byteBudget, press);
    }
}
