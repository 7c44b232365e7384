package io.kvserve.kvcache.press;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * PrefixKV: per-layer budgets that keep the same share of every layer's attention mass.
 *
 * <p>Each layer's importance is H2O's accumulated attention of the prompt, averaged over the KV
 * heads (each summed over its group); all heads of a layer evict the same tokens, apart from the
 * first {@code start} tokens and the last one, which are always kept. How many each layer evicts
 * comes from a binary search on a cumulative-mass level p (the same p for every layer: each keeps
 * the fewest top tokens whose share of its mass reaches p) until the layers together evict
 * {@code ratio} of all tokens. The search runs offline on calibration text ({@code kvserve
 * calibrate prefixkv} writes a profile, {@code profile=FILE} loads it: one eviction ratio per
 * layer, as the paper's recipes); without a profile, {@code kvserve eval kv} and
 * {@code generate} calibrate on the fly ({@link PrefixKvCalibration}), and elsewhere the search
 * runs on the request's own scores (the card's online variant). Based on Wang et al., "PrefixKV:
 * Adaptive Prefix KV Cache is What Vision Instruction-Following Models Need for Efficient
 * Generation" (arXiv 2412.03409).
 *
 * @param ratio   fraction of all tokens evicted, default 0.5
 * @param start   leading tokens always kept, default 1 (the paper's start_size)
 * @param profile the calibration file, or null
 * @param evict   eviction ratio per layer (from the profile or an on-the-fly calibration), or null for the online search
 */
public record PrefixKvPress(double ratio, int start, String profile, double[] evict) implements ScorerPress {
    /** The paper's binary-search tolerance in tokens. */
    static final int TOLERANCE = 5;

    public PrefixKvPress {
        PressParams.ratio("prefixkv", ratio);
        PressParams.require(start >= 0, "prefixkv: start must be >= 0, got " + start);
        if (evict != null) {
            evict = evict.clone();
            for (double e : evict) PressParams.require(e >= 0 && e <= 1, "prefixkv: per-layer eviction ratios must be in [0, 1], got " + e);
        }
    }

    static PrefixKvPress parse(PressParams p) {
        double ratio = p.real("ratio", 0.5);
        int start = p.integer("start", 1);
        String file = p.string("profile", null);
        if (file == null) return new PrefixKvPress(ratio, start, null, null);
        return new PrefixKvPress(ratio, start, file, PrefixKvProfile.read(Path.of(file)).evictAt(ratio, file));
    }

    /** The same press with calibrated per-layer eviction ratios. */
    public PrefixKvPress withEvict(double[] layerEvict) {
        return new PrefixKvPress(ratio, start, profile, layerEvict);
    }

    @Override
    public String spec() {
        return "prefixkv:ratio=" + PressParams.fmt(ratio) + ",start=" + start + (profile != null ? ",profile=" + profile : "");
    }

    @Override
    public boolean tracksAttention() {
        return true;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        int[] pos = ctx.positions(layer, kvHead);
        float[] s = layerScores(ctx, layer, kvHead);
        for (int i = 0; i < pos.length; i++) if (pos[i] < start) s[i] = Float.POSITIVE_INFINITY;
        if (pos.length > 0) s[pos.length - 1] = Float.POSITIVE_INFINITY;
        return s;
    }

    @Override
    public int keepCount(PressContext ctx, int layer, int tokens) {
        if (evict == null) return ScorerPress.super.keepCount(ctx, layer, tokens);
        if (evict.length != ctx.layers()) {
            throw new IllegalArgumentException("prefixkv: the profile " + (profile != null ? profile + " " : "") + "has " + evict.length
                    + " layers but the model has " + ctx.layers() + ": calibrate it on this model (kvserve calibrate prefixkv)");
        }
        return tokens - evictCount(tokens, evict[layer], start);
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        if (evict != null) {
            ScorerPress.super.afterPrefill(ctx);
            return;
        }
        // online: the search on this request's own scores
        int layers = ctx.layers();
        float[][] s = new float[layers][];
        for (int l = 0; l < layers; l++) s[l] = layerScores(ctx, l, 0);
        int[] ev = searchEvictions(s, ratio, Math.min(start, ctx.tokens(0, 0)) + 1);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < ctx.kvHeads(); h++) {
                int n = ctx.tokens(l, h);
                int k = n - Math.min(ev[l], Math.max(0, n - start - 1));
                if (k < n) ctx.keep(l, h, ScorerPress.topK(score(ctx, l, h), k));
            }
        }
    }

    /** Tokens a layer of {@code n} evicts at eviction ratio {@code e}, never a protected one. */
    static int evictCount(int n, double e, int start) {
        return (int) Math.max(0, Math.min(Math.round(e * n), n - Math.min(start, n) - 1L));
    }

    /** The layer's accumulated attention averaged over its KV heads; a head holding other tokens uses its own. */
    static float[] layerScores(PressContext ctx, int layer, int kvHead) {
        int n = ctx.tokens(layer, kvHead);
        float[] mean = new float[n];
        int heads = 0;
        for (int h = 0; h < ctx.kvHeads(); h++) {
            if (ctx.tokens(layer, h) != n || (h != kvHead && !Arrays.equals(ctx.positions(layer, h), ctx.positions(layer, kvHead)))) continue;
            float[] a = ctx.accumulatedAttention(layer, h);
            for (int t = 0; t < n; t++) mean[t] += a[t];
            heads++;
        }
        for (int t = 0; t < n; t++) mean[t] /= heads;
        return mean;
    }

    /**
     * The paper's global prefix search: per layer the cumulative curve of its sorted normalised
     * scores; bisect the mass level p until the layers evict {@code ratio} of all tokens within
     * {@link #TOLERANCE}, then rescale so the total is exact. {@code protect} tokens per layer
     * (sinks and the last token) are never evicted. Returns tokens evicted per layer.
     */
    static int[] searchEvictions(float[][] scores, double ratio, int protect) {
        int layers = scores.length;
        double[][] curves = new double[layers][];
        long all = 0;
        for (int l = 0; l < layers; l++) {
            curves[l] = cumulative(scores[l]);
            all += scores[l].length;
        }
        long target = Math.round(ratio * all);
        double lo = 0, hi = 1;
        int[] ev = new int[layers];
        for (int iter = 0; iter < 64; iter++) {
            double p = (lo + hi) / 2;
            long e = 0;
            for (int l = 0; l < layers; l++) e += ev[l] = evictedAt(curves[l], p, protect);
            if (Math.abs(e - target) < TOLERANCE) break;
            if (e < target) hi = p;
            else lo = p;
        }
        return rescale(ev, target, scores, protect);
    }

    /** {@code cumsum(sort_desc(s) / sum(s))}; a layer with no mass is flat at 1. */
    static double[] cumulative(float[] s) {
        float[] sorted = s.clone();
        Arrays.sort(sorted);
        double sum = 0;
        for (float v : sorted) sum += v;
        double[] c = new double[s.length];
        double acc = 0;
        for (int i = 0; i < s.length; i++) {
            acc += sorted[s.length - 1 - i];
            c[i] = sum > 0 ? acc / sum : 1;
        }
        return c;
    }

    /** Tokens a layer evicts at mass level p: {@code T - keep(p) - protect}, keep(p) = 1 + first index with c >= p. */
    static int evictedAt(double[] c, double p, int protect) {
        int keep = c.length;
        for (int i = 0; i < c.length; i++) {
            if (c[i] >= p) {
                keep = i + 1;
                break;
            }
        }
        return Math.max(0, c.length - keep - protect);
    }

    /** Scales the per-layer evictions so they sum to {@code target} (largest remainders first), within each layer's evictable tokens. */
    static int[] rescale(int[] ev, long target, float[][] scores, int protect) {
        int layers = ev.length;
        long sum = 0, room = 0;
        for (int l = 0; l < layers; l++) {
            sum += ev[l];
            room += Math.max(0, scores[l].length - protect);
        }
        target = Math.min(target, room);
        double[] want = new double[layers];
        for (int l = 0; l < layers; l++) want[l] = sum > 0 ? (double) ev[l] * target / sum : (double) target / layers;
        int[] r = new int[layers];
        long given = 0;
        for (int l = 0; l < layers; l++) {
            r[l] = (int) Math.min(Math.floor(want[l]), Math.max(0, scores[l].length - protect));
            given += r[l];
        }
        // hand out what floor and the caps left, largest remainder first
        while (given < target) {
            int best = -1;
            double bestRem = -1;
            for (int l = 0; l < layers; l++) {
                if (r[l] >= scores[l].length - protect) continue;
                double rem = want[l] - r[l];
                if (rem > bestRem) {
                    bestRem = rem;
                    best = l;
                }
            }
            if (best < 0) break;
            r[best]++;
            given++;
        }
        return r;
    }
}
