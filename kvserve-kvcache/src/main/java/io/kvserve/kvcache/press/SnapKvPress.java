package io.kvserve.kvcache.press;

/**
 * SnapKV: what the last prompt tokens attend to.
 *
 * <p>Takes the queries of the last {@code window} prompt positions (the observation window),
 * averages their softmax attention over the window and the GQA group, smooths the scores with a
 * 1-D average pool of width {@code kernel}, and keeps the window itself plus the highest-scoring
 * earlier tokens. One shot, after prefill. Based on Li et al., "SnapKV: LLM Knows What You are
 * Looking for Before Generation" (arXiv 2404.14469); defaults between kvpress (64, 5) and the
 * paper (32, 7), sized for short prompts.
 *
 * @param ratio  fraction of tokens evicted, default 0.5
 * @param window observation window in tokens, default 32
 * @param kernel average-pooling width (odd), default 5
 */
public record SnapKvPress(double ratio, int window, int kernel) implements ScorerPress {
    public SnapKvPress {
        PressParams.ratio("snapkv", ratio);
        PressParams.require(window >= 1, "snapkv: window must be >= 1 token, got " + window);
        PressParams.require(kernel >= 1 && kernel % 2 == 1, "snapkv: kernel must be an odd width >= 1, got " + kernel);
    }

    static SnapKvPress parse(PressParams p) {
        return new SnapKvPress(p.real("ratio", 0.5), p.integer("window", 32), p.integer("kernel", 5));
    }

    @Override
    public String spec() {
        return "snapkv:ratio=" + PressParams.fmt(ratio) + ",window=" + window + ",kernel=" + kernel;
    }

    @Override
    public int observationWindow() {
        return window;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        return windowScores(ctx, layer, kvHead, kernel);
    }

    /**
     * Mean window attention per token, average-pooled; tokens inside the window score +inf. Shared
     * with {@link PyramidKvPress}.
     */
    static float[] windowScores(PressContext ctx, int layer, int kvHead, int kernel) {
        int n = ctx.tokens(layer, kvHead);
        int[] pos = ctx.positions(layer, kvHead);
        int[] wp = ctx.windowPositions();
        float[] a = ctx.windowAttention(layer, kvHead);
        int rows = wp.length * ctx.groupSize();
        float[] mean = new float[n];
        for (int r = 0; r < rows; r++) for (int t = 0; t < n; t++) mean[t] += a[r * n + t];
        if (rows > 0) for (int t = 0; t < n; t++) mean[t] /= rows;
        float[] s = pool(mean, kernel);
        int firstWindowPos = wp.length > 0 ? wp[0] : Integer.MAX_VALUE;
        for (int t = 0; t < n; t++) if (pos[t] >= firstWindowPos) s[t] = Float.POSITIVE_INFINITY;
        return s;
    }

    /** Average pool, stride 1, same length; the window shrinks at the edges (count_include_pad=False). */
    static float[] pool(float[] x, int kernel) {
        int n = x.length, half = kernel / 2;
        float[] y = new float[n];
        for (int t = 0; t < n; t++) {
            float sum = 0f;
            int c = 0;
            for (int u = Math.max(0, t - half); u <= Math.min(n - 1, t + half); u++) {
                sum += x[u];
                c++;
            }
            y[t] = sum / c;
        }
        return y;
    }
}
