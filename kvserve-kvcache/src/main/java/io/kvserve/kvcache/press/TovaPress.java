package io.kvserve.kvcache.press;

/**
 * TOVA: token omission via attention.
 *
 * <p>Scores each token by the attention of the latest query only, averaged over the query heads of
 * the KV group (kvpress averages over all heads of the layer; with per-head budgets the group is
 * the natural unit here). Nothing accumulates across steps. Wrap it in {@code decode:every=1} to
 * evict during decode as the paper does. Based on Oren et al., "Transformers are Multi-State RNNs"
 * (arXiv 2401.06104).
 *
 * @param ratio fraction of tokens evicted, default 0.5
 */
public record TovaPress(double ratio) implements ScorerPress {
    public TovaPress {
        PressParams.ratio("tova", ratio);
    }

    static TovaPress parse(PressParams p) {
        return new TovaPress(p.real("ratio", 0.5));
    }

    @Override
    public String spec() {
        return "tova:ratio=" + PressParams.fmt(ratio);
    }

    @Override
    public int observationWindow() {
        return 1;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        int n = ctx.tokens(layer, kvHead), g = ctx.groupSize();
        float[] a = ctx.windowAttention(layer, kvHead);
        int w = ctx.windowPositions().length;
        float[] s = new float[n];
        if (w == 0) return s;
        int last = (w - 1) * g;
        for (int j = 0; j < g; j++) for (int t = 0; t < n; t++) s[t] += a[(last + j) * n + t] / g;
        return s;
    }
}
