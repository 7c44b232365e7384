package io.kvserve.kvcache.press;

/**
 * H2O, heavy hitters plus recent tokens.
 *
 * <p>Scores each token by the attention it has accumulated over every query so far (summed over
 * the GQA group), keeps the most recent {@code recent} fraction of the budget unconditionally and
 * fills the rest with the highest scores. Wrap it in {@code decode:every=N} to evict during decode
 * as the paper does every step. Based on Zhang et al., "H2O: Heavy-Hitter Oracle for Efficient
 * Generative Inference of Large Language Models" (arXiv 2306.14048).
 *
 * @param ratio  fraction of tokens evicted, default 0.5
 * @param recent fraction of the kept budget reserved for the most recent tokens, default 0.5
 */
public record H2oPress(double ratio, double recent) implements ScorerPress {
    public H2oPress {
        PressParams.ratio("h2o", ratio);
        PressParams.require(recent >= 0 && recent <= 1, "h2o: recent (fraction of the budget) must be in [0, 1], got " + recent);
    }

    static H2oPress parse(PressParams p) {
        return new H2oPress(p.real("ratio", 0.5), p.real("recent", 0.5));
    }

    @Override
    public String spec() {
        return "h2o:ratio=" + PressParams.fmt(ratio) + ",recent=" + PressParams.fmt(recent);
    }

    @Override
    public boolean tracksAttention() {
        return true;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        float[] s = ctx.accumulatedAttention(layer, kvHead);
        int n = s.length;
        int recentTokens = (int) Math.round(recent * keepCount(ctx, layer, n));
        for (int i = Math.max(0, n - recentTokens); i < n; i++) s[i] = Float.POSITIVE_INFINITY;
        return s;
    }
}
