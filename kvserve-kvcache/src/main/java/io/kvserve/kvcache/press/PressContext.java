package io.kvserve.kvcache.press;

import io.kvserve.kvcache.KvStorage;

import java.util.random.RandomGenerator;

/**
 * What a press sees of one sequence, per (layer, KV head): the stored tokens' keys (after RoPE),
 * values and original positions; the queries of the observation window (the last W queries the
 * engine ran, after RoPE) and their attention over the stored tokens; the accumulated attention
 * each token received (when the press asks for it). And what it may do: keep a subset of a
 * stream (the others' pages are freed) or re-encode the cache.
 */
public interface PressContext {
    int layers();

    int kvHeads();

    int headDim();

    /** Query heads per KV head. */
    int groupSize();

    /** Positions the sequence has run so far (the prompt length right after prefill). */
    int sequenceLength();

    /** Tokens stored for (layer, kvHead). */
    int tokens(int layer, int kvHead);

    /** Original positions of the stored tokens, increasing, {@code (tokens)}. */
    int[] positions(int layer, int kvHead);

    /** Keys after RoPE, dequantised, {@code (tokens, headDim)}. */
    float[] keys(int layer, int kvHead);

    /** Values, dequantised, {@code (tokens, headDim)}. */
    float[] values(int layer, int kvHead);

    /** Positions of the observation-window queries, oldest first, {@code (w)}; w may be below the press's request. */
    int[] windowPositions();

    /** The observation-window queries of the group of {@code kvHead}, {@code (w, groupSize, headDim)}. */
    float[] windowQueries(int layer, int kvHead);

    /** Causal softmax attention of the window queries over the stored tokens, {@code (w, groupSize, tokens)}. */
    float[] windowAttention(int layer, int kvHead);

    /** Attention each stored token has received so far, summed over queries and the group, {@code (tokens)}. */
    float[] accumulatedAttention(int layer, int kvHead);

    /**
     * Scores a prefill driver computed per stored token (KVzip's reconstruction attention), tokens
     * stored after it ran scoring +inf; null when no driver scored this sequence.
     */
    default float[] prefillScores(int layer, int kvHead) {
        return null;
    }

    /** Tokens stored right after the prefill press ran (the budget decode-time compression returns to). */
    int budgetAfterPrefill(int layer, int kvHead);

    /** Keeps the tokens at {@code indices} (increasing) and frees the pages of the others. */
    void keep(int layer, int kvHead, int[] indices);

    /**
     * Like {@link #keep}, and first adds every token not kept to the stream's LESS low-rank state
     * (created with {@code map} on first use), so each evicted token is absorbed exactly once, as it
     * leaves. Only the paged cache has such a state.
     */
    default void keepAbsorbing(int layer, int kvHead, int[] indices, io.kvserve.kvcache.AttentionFeatureMap map) {
        throw new UnsupportedOperationException("this press context cannot absorb evicted tokens: LESS needs the paged KV cache");
    }

    /** Re-encodes every stream of the sequence into {@code storage}. */
    void convert(KvStorage storage);

    /** Seeded per sequence, for the random control. */
    RandomGenerator random();
}
