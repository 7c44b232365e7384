package io.kvserve.kvcache.press;

import java.util.Arrays;

/**
 * A press that only scores tokens per (layer, KV head), higher meaning keep; the top-k bookkeeping
 * is shared here. {@link #ratio} is the fraction of the stored tokens evicted (kvpress's
 * {@code compression_ratio}): each stream keeps {@code n - floor(ratio * n)} tokens.
 */
public interface ScorerPress extends KvPress {
    double ratio();

    /** One score per stored token of (layer, kvHead); length {@code ctx.tokens(layer, kvHead)}. */
    float[] score(PressContext ctx, int layer, int kvHead);

    /** Tokens layer {@code layer} keeps of {@code tokens}; per-layer schedules override it. */
    default int keepCount(PressContext ctx, int layer, int tokens) {
        return tokens - (int) Math.floor(ratio() * tokens);
    }

    @Override
    default void afterPrefill(PressContext ctx) {
        for (int l = 0; l < ctx.layers(); l++) {
            for (int h = 0; h < ctx.kvHeads(); h++) {
                int n = ctx.tokens(l, h);
                int k = keepCount(ctx, l, n);
                if (k < n) ctx.keep(l, h, topK(score(ctx, l, h), k));
            }
        }
    }

    /**
     * Indices of the {@code k} highest scores, increasing. Ties go to the later token (recent
     * tokens are the safer guess), so equal scores give a deterministic choice.
     */
    static int[] topK(float[] scores, int k) {
        int n = scores.length;
        k = Math.max(0, Math.min(k, n));
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(scores[b], scores[a]);
            return c != 0 ? c : Integer.compare(b, a);
        });
        int[] keep = new int[k];
        for (int i = 0; i < k; i++) keep[i] = order[i];
        Arrays.sort(keep);
        return keep;
    }
}
