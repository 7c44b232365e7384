package io.kvserve.kvcache.press;

/**
 * PyramidKV: SnapKV scores with per-layer budgets that fall linearly with depth.
 *
 * <p>With {@code B = n (1 - ratio)} the average budget, layer 0 keeps {@code max = 2B - B/beta}
 * tokens and the last layer {@code min = B/beta}, linearly between, so the total equals SnapKV's at
 * the same ratio (kvpress's schedule; {@code max} is clamped to {@code n} and {@code min} raised to
 * match). Based on Cai et al., "PyramidKV: Dynamic KV Cache Compression based on Pyramidal
 * Information Funneling" (arXiv 2406.02069).
 *
 * @param ratio  fraction of tokens evicted on average, default 0.5
 * @param window observation window, default 32
 * @param kernel average-pooling width, default 5
 * @param beta   steepness: the last layer keeps B/beta, default 20
 */
public record PyramidKvPress(double ratio, int window, int kernel, double beta) implements ScorerPress {
    public PyramidKvPress {
        PressParams.ratio("pyramidkv", ratio);
        PressParams.require(window >= 1, "pyramidkv: window must be >= 1 token, got " + window);
        PressParams.require(kernel >= 1 && kernel % 2 == 1, "pyramidkv: kernel must be an odd width >= 1, got " + kernel);
        PressParams.require(beta >= 1, "pyramidkv: beta must be >= 1, got " + beta);
    }

    static PyramidKvPress parse(PressParams p) {
        return new PyramidKvPress(p.real("ratio", 0.5), p.integer("window", 32), p.integer("kernel", 5), p.real("beta", 20));
    }

    @Override
    public String spec() {
        return "pyramidkv:ratio=" + PressParams.fmt(ratio) + ",window=" + window + ",kernel=" + kernel + ",beta=" + PressParams.fmt(beta);
    }

    @Override
    public int observationWindow() {
        return window;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        return SnapKvPress.windowScores(ctx, layer, kvHead, kernel);
    }

    @Override
    public int keepCount(PressContext ctx, int layer, int tokens) {
        return layerBudget(tokens, layer, ctx.layers(), ratio, beta);
    }

    /** The pyramid schedule: tokens layer {@code l} of {@code layers} keeps of {@code n}. */
    static int layerBudget(int n, int l, int layers, double ratio, double beta) {
        double avg = n * (1 - ratio);
        if (layers == 1) return (int) Math.round(avg);
        double min = avg / beta, max = 2 * avg - min;
        if (max > n) {
            max = n;
            min = 2 * avg - max;
        }
        long b = Math.round(max - l * (max - min) / (layers - 1));
        return (int) Math.max(1, Math.min(n, b));
    }
}
