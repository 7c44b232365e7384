package io.kvserve.kvcache.press;

import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Batch;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.kv.ForwardingKvCache;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.util.Arrays;
import java.util.Locale;

/**
 * FastKV: token-selective propagation during prefill, then GQA-aware cache compression.
 *
 * <p>The whole prompt runs through layers {@code 0..tsp_layer}; there the window queries' attention,
 * summed over the window, max-pooled and summed over each GQA group and then over the KV heads,
 * picks {@code round(tsp_rate * T)} tokens (the last {@code window} always among them). Only their
 * hidden states run through the deeper layers, at their original positions, so prefill does less
 * work and the deeper layers' cache holds only them. After prefill every (layer, KV head) keeps the
 * window plus its top tokens by the same GQA-aware score, {@code T - floor(ratio * T)} in all (or all
 * it holds, if fewer). Based on Jo et al., "FastKV: KV Cache Compression for Fast Long-Context
 * Processing with Token-Selective Propagation" (arXiv 2502.01068); see docs/methods/fastkv.md.
 *
 * @param ratio    fraction of the prompt's tokens evicted from every layer's cache, default 0.5
 * @param tspLayer the TSP layer, or -1 for the middle one ({@code (layers - 1) / 2}: 15 of 32), default -1
 * @param tspRate  fraction of the prompt propagated past the TSP layer, default {@code min(1, 2 (1 - ratio))}
 *                 (the paper's 0.2 for a kept fraction of 0.1)
 * @param window   observation window, default 8
 * @param kernel   pooling width (odd), default 7
 * @param maxPool  max pooling (default) or average pooling
 */
public record FastKvPress(double ratio, int tspLayer, double tspRate, int window, int kernel, boolean maxPool)
        implements ScorerPress, PrefillPress {
    public FastKvPress {
        PressParams.ratio("fastkv", ratio);
        PressParams.require(tspLayer >= -1, "fastkv: tsp_layer must be a layer index >= 0 or 'mid', got " + tspLayer);
        PressParams.require(tspRate > 0 && tspRate <= 1, "fastkv: tsp_rate (the fraction of tokens propagated past the TSP layer) must be in (0, 1], got " + tspRate);
        PressParams.require(window >= 1, "fastkv: window must be >= 1 token, got " + window);
        PressParams.require(kernel >= 1 && kernel % 2 == 1, "fastkv: kernel must be an odd width >= 1, got " + kernel);
    }

    static FastKvPress parse(PressParams p) {
        double ratio = p.real("ratio", 0.5);
        String layer = p.string("tsp_layer", "mid");
        int tsp;
        if (layer.equalsIgnoreCase("mid")) tsp = -1;
        else {
            try {
                tsp = Integer.parseInt(layer);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("fastkv: tsp_layer must be a layer index or 'mid', got '" + layer + "'");
            }
        }
        double rate = p.real("tsp_rate", Math.min(1, 2 * (1 - ratio)));
        int window = p.integer("window", 8), kernel = p.integer("kernel", 7);
        String pool = p.string("pool", "max").toLowerCase(Locale.ROOT);
        PressParams.require(pool.equals("max") || pool.equals("avg"), "fastkv: pool must be max or avg, got '" + pool + "'");
        return new FastKvPress(ratio, tsp, rate, window, kernel, pool.equals("max"));
    }

    @Override
    public String spec() {
        return "fastkv:ratio=" + PressParams.fmt(ratio) + ",tsp_layer=" + (tspLayer < 0 ? "mid" : String.valueOf(tspLayer))
                + ",tsp_rate=" + PressParams.fmt(tspRate) + ",window=" + window + ",kernel=" + kernel + ",pool=" + (maxPool ? "max" : "avg");
    }

    @Override
    public int observationWindow() {
        return window;
    }

    /** The TSP layer of a model with {@code layers} layers; a clear error when it has no such layer. */
    public int tspLayerOf(int layers) {
        if (tspLayer >= layers) {
            throw new IllegalArgumentException("fastkv: tsp_layer " + tspLayer + " is outside the model's " + layers + " layers; give 0.." + (layers - 1) + " or mid");
        }
        return tspLayer < 0 ? (layers - 1) / 2 : tspLayer;
    }

    /** Every layer keeps the window and its best tokens, {@code T - floor(ratio T)} of the prompt's T, or all it holds. */
    @Override
    public int keepCount(PressContext ctx, int layer, int tokens) {
        int t = ctx.sequenceLength();
        return Math.min(tokens, t - (int) Math.floor(ratio * t));
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        return kvHeadScores(ctx, layer, kvHead, kernel, maxPool);
    }

    /**
     * One score per stored token of (layer, kvHead), higher meaning keep: each query head's window
     * attention summed over the window queries, pooled over the tokens before the window, then summed
     * over the heads of the GQA group. Window tokens score +inf.
     */
    static float[] kvHeadScores(PressContext ctx, int layer, int kvHead, int kernel, boolean maxPool) {
        int n = ctx.tokens(layer, kvHead), g = ctx.groupSize();
        int[] pos = ctx.positions(layer, kvHead);
        int[] wp = ctx.windowPositions();
        float[] a = ctx.windowAttention(layer, kvHead);
        int firstWindowPos = wp.length > 0 ? wp[0] : Integer.MAX_VALUE;
        int prefix = 0;
        while (prefix < n && pos[prefix] < firstWindowPos) prefix++;
        float[] s = new float[n];
        float[] col = new float[prefix];
        for (int j = 0; j < g; j++) {
            Arrays.fill(col, 0f);
            for (int w = 0; w < wp.length; w++) {
                int row = (w * g + j) * n;
                for (int t = 0; t < prefix; t++) col[t] += a[row + t];
            }
            float[] pooled = maxPool ? maxPool(col, kernel) : SnapKvPress.pool(col, kernel);
            for (int t = 0; t < prefix; t++) s[t] += pooled[t];
        }
        for (int t = prefix; t < n; t++) s[t] = Float.POSITIVE_INFINITY;
        return s;
    }

    /** Max pool, stride 1, same length, the window shrinking at the edges (padding never wins). */
    static float[] maxPool(float[] x, int kernel) {
        int n = x.length, half = kernel / 2;
        float[] y = new float[n];
        for (int t = 0; t < n; t++) {
            float m = Float.NEGATIVE_INFINITY;
            for (int u = Math.max(0, t - half); u <= Math.min(n - 1, t + half); u++) m = Math.max(m, x[u]);
            y[t] = m;
        }
        return y;
    }

    /**
     * Indices (increasing) of the {@code tspLen} tokens of {@code layer} that propagate past it: one
     * score per token, the GQA-aware scores summed over the KV heads (one choice shared by all heads),
     * the window and the last token always included.
     */
    static int[] propagatedTokens(PressContext ctx, int layer, int tspLen, int kernel, boolean maxPool) {
        int n = ctx.tokens(layer, 0);
        float[] total = new float[n];
        for (int h = 0; h < ctx.kvHeads(); h++) {
            float[] s = kvHeadScores(ctx, layer, h, kernel, maxPool);
            for (int t = 0; t < n; t++) total[t] += s[t];
        }
        total[n - 1] = Float.POSITIVE_INFINITY;
        int windowTokens = 0;
        for (float v : total) if (v == Float.POSITIVE_INFINITY) windowTokens++;
        return ScorerPress.topK(total, Math.max(tspLen, windowTokens));
    }

    /**
     * Layers {@code 0..tsp} over the whole prompt, the TSP selection, then the deeper layers over the
     * selected tokens only. A prompt that continues a cached prefix, or one too short for a selection
     * to drop anything, takes the plain prefill.
     */
    @Override
    public float[] prefill(Run run) {
        PagedKvCache cache = run.cache();
        ForwardPass pass = run.pass();
        ModelConfig c = run.model().config();
        int layers = c.nLayers(), dim = c.dim(), seq = run.seq();
        int[] prompt = run.prompt();
        int t = prompt.length;
        int tsp = tspLayerOf(layers);
        int tspLen = (int) Math.round(tspRate * t);
        if (run.from() != 0 || cache.length(seq) != 0 || tsp >= layers - 1 || tspLen >= t) return PrefillPress.plainPrefill(run);
        int mb = pass.maxBatch();
        float[] hidden = new float[t * dim];
        for (int p = 0; p < t; p += mb) {
            Batch b = Batch.ofSequence(seq, prompt, p, Math.min(mb, t - p), p, false);
            pass.embed(b, hidden, p * dim);
            pass.runLayers(b, cache, hidden, p * dim, 0, tsp + 1);
        }
        int[] keep = propagatedTokens(cache.pressContext(seq), tsp, tspLen, kernel, maxPool);
        int[] positions = cache.pressContext(seq).positions(tsp, 0);
        int m = keep.length;
        float[] selected = new float[m * dim];
        for (int i = 0; i < m; i++) System.arraycopy(hidden, keep[i] * dim, selected, i * dim, dim);
        KvCache deep = new SparseAppend(cache);
        float[] logits = null;
        for (int i0 = 0; i0 < m; i0 += mb) {
            int n = Math.min(mb, m - i0);
            int[] tok = new int[n], seqs = new int[n], pos = new int[n];
            boolean[] want = new boolean[n];
            for (int i = 0; i < n; i++) {
                pos[i] = positions[keep[i0 + i]];
                tok[i] = prompt[pos[i]];
                seqs[i] = seq;
                want[i] = i0 + i == m - 1;
            }
            Batch b = new Batch(tok, seqs, pos, want, n);
            pass.runLayers(b, deep, selected, i0 * dim, tsp + 1, layers);
            if (i0 + n == m) logits = Arrays.copyOf(pass.logitsOf(b, selected, i0 * dim), c.vocabSize());
        }
        return logits;
    }

    /** The paged cache seen by the deeper layers: appends may skip the positions that were not propagated. */
    private static final class SparseAppend extends ForwardingKvCache {
        private final PagedKvCache c;

        SparseAppend(PagedKvCache c) {
            super(c);
            this.c = c;
        }

        @Override
        public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
            c.appendAt(layer, seq, pos, k, kOff, v, vOff);
        }
    }
}
