package io.kvserve.kvcache.press;

/**
 * A KV-cache compression method: decides which tokens each (layer, KV head) keeps. The paged cache
 * runs it after prefill and, if {@link #decodeInterval} is positive, every that many decoded tokens.
 */
public interface KvPress {
    /** The registry name with parameters, as parsed back by {@link PressRegistry#parse}. */
    String spec();

    void afterPrefill(PressContext ctx);

    /** Run {@link #duringDecode} every this many new tokens; 0 for never. */
    default int decodeInterval() {
        return 0;
    }

    default void duringDecode(PressContext ctx) {}

    /** Queries of the last this many positions the press wants to see (0 for none). */
    default int observationWindow() {
        return 0;
    }

    /** Whether the cache must accumulate the attention each token receives (H2O). */
    default boolean tracksAttention() {
        return false;
    }

    /**
     * Codecs the cache stores every (layer, KV head) stream through from the first token, indexed
     * {@code [layer][kvHead]}, or null for plain key and value rows (every press but EliteKV).
     * A shape the press cannot serve is an {@link IllegalArgumentException}.
     */
    default io.kvserve.kvcache.StreamCodec[][] streamCodecs(int layers, int kvHeads, int headDim) {
        return null;
    }
}
