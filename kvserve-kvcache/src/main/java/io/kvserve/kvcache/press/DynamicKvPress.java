package io.kvserve.kvcache.press;

/**
 * DynamicKV: task-aware per-layer budgets from the observation window's attention.
 *
 * <p>Scores are SnapKV's (window attention averaged over the window and the GQA group, avg-pooled),
 * one set per KV head, so the cache keeps GQA's saving (the released code repeats KV per query
 * head). Layer by layer, each layer first holds its top {@code min(rmax B, n - w)} tokens per head;
 * every {@code interval} layers (and after the last) the budget of all layers so far is
 * re-allocated: the global top {@code B heads (l+1)} of the stacked raw scores is counted per layer,
 * and each layer keeps its share of {@code B L} tokens per head, never more than it still holds
 * (the paper truncates its score-ordered temporary caches). The final allocation sums to exactly
 * {@code B L} unless a layer was truncated below its share earlier. The window is kept on top.
 * Because prefill attention is over the full prompt whatever earlier layers keep, the scores the
 * paper computes during prefill are the scores available after it, and this layer-by-layer process
 * is replayed exactly after prefill. Based on Zhou et al., "DynamicKV: Task-Aware Adaptive KV Cache
 * Compression for Long Context LLMs" (arXiv 2412.14838).
 *
 * @param ratio    fraction of tokens evicted on average (B = kept per head minus the window), default 0.5
 * @param window   observation window in tokens, default 8 (the code's default)
 * @param kernel   average-pooling width (odd), default 5
 * @param rmax     cap of a layer's temporary budget in multiples of B, default 10
 * @param interval re-allocate every this many layers, default 4
 */
public record DynamicKvPress(double ratio, int window, int kernel, double rmax, int interval) implements ScorerPress {
    public DynamicKvPress {
        PressParams.ratio("dynamickv", ratio);
        PressParams.require(window >= 1, "dynamickv: window must be >= 1 token, got " + window);
        PressParams.require(kernel >= 1 && kernel % 2 == 1, "dynamickv: kernel must be an odd width >= 1, got " + kernel);
        PressParams.require(rmax >= 1, "dynamickv: rmax must be >= 1, got " + rmax);
        PressParams.require(interval >= 1, "dynamickv: interval (layers between re-allocations) must be >= 1, got " + interval);
    }

    static DynamicKvPress parse(PressParams p) {
        return new DynamicKvPress(p.real("ratio", 0.5), p.integer("window", 8), p.integer("kernel", 5),
                p.real("rmax", 10), p.integer("interval", 4));
    }

    @Override
    public String spec() {
        return "dynamickv:ratio=" + PressParams.fmt(ratio) + ",window=" + window + ",kernel=" + kernel
                + ",rmax=" + PressParams.fmt(rmax) + ",interval=" + interval;
    }

    @Override
    public int observationWindow() {
        return window;
    }

    /** SnapKV's pooled window scores; window tokens +inf. Wrappers (adakv, decode) rank by these. */
    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        return SnapKvPress.windowScores(ctx, layer, kvHead, kernel);
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        int layers = ctx.layers(), heads = ctx.kvHeads();
        float[][][] s = new float[layers][heads][];
        int[] windowTokens = new int[layers];
        int[] scored = new int[layers];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) s[l][h] = score(ctx, l, h);
            int n = s[l][0].length, inf = 0;
            for (float v : s[l][0]) if (v == Float.POSITIVE_INFINITY) inf++;
            windowTokens[l] = inf;
            scored[l] = n - inf;
        }
        int n0 = ctx.tokens(0, 0);
        int keepPerHead = n0 - (int) Math.floor(ratio * n0);
        int budget = Math.max(0, keepPerHead - windowTokens[0]);
        int[] perLayer = layerBudgets(s, scored, budget, rmax, interval);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                int n = s[l][h].length;
                // a window larger than the whole budget: keep only the most recent window tokens
                int k = Math.min(n, perLayer[l] + Math.min(windowTokens[l], keepPerHead));
                if (k < n) ctx.keep(l, h, ScorerPress.topK(s[l][h], k));
            }
        }
    }

    /**
     * Tokens per head each layer keeps outside the window: the paper's layer-by-layer temporary
     * budgets and periodic re-allocations over the raw scores {@code (layers, heads, tokens)}, of
     * which the first {@code scored[l]} per row are finite. {@code budget} is B, the average.
     */
    static int[] layerBudgets(float[][][] s, int[] scored, int budget, double rmax, int interval) {
        int layers = s.length, heads = s[0].length;
        long total = (long) budget * layers;
        int[] held = new int[layers];
        for (int l = 0; l < layers; l++) {
            held[l] = (int) Math.min(Math.floor(rmax * budget), scored[l]);
            boolean last = l == layers - 1;
            if (l % interval != interval - 1 && !last) continue;
            // global top (B * heads * (l+1)) of the raw scores of layers 0..l, counted per layer
            int seen = l + 1, all = 0;
            for (int a = 0; a < seen; a++) all += heads * scored[a];
            float[] flat = new float[all];
            int[] owner = new int[all];
            int m = 0;
            for (int a = 0; a < seen; a++) {
                for (int h = 0; h < heads; h++) {
                    for (int t = 0; t < s[a][h].length; t++) {
                        if (s[a][h][t] == Float.POSITIVE_INFINITY) continue;
                        owner[m] = a;
                        flat[m++] = s[a][h][t];
                    }
                }
            }
            int[] cnt = new int[seen];
            long sumCnt = 0;
            for (int i : ScorerPress.topK(flat, (int) Math.min(all, (long) budget * heads * seen))) {
                cnt[owner[i]]++;
                sumCnt++;
            }
            if (sumCnt == 0) continue;
            long given = 0;
            for (int a = 0; a < seen; a++) {
                long raw = last && a == seen - 1 ? total - given : (long) Math.floor((double) total * cnt[a] / sumCnt);
                held[a] = (int) Math.max(0, Math.min(held[a], raw));
                given += raw;
            }
        }
        return held;
    }
}
