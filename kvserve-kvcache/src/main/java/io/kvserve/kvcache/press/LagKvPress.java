package io.kvserve.kvcache.press;

/**
 * LagKV: attention-free eviction by lag-relative statistics.
 *
 * <p>After {@code sinks} tokens the stream is cut into partitions of {@code lag} tokens. Each
 * partition is normalised per channel by the min and max of the NEXT partition (its "lag"
 * reference), the standard deviation over the head dimension of the normalised key (and value)
 * measures how much a token departs from what follows it, and a softmax inside the partition turns
 * it into a score; keys and values are averaged. Scores become ranks inside their partition, so
 * the global top-k keeps the same share of every partition (kvpress's formulation of the paper's
 * per-partition quota). The sinks, the last full partition (the final reference, never scored) and
 * the tail that does not fill a partition are kept; sinks win over the tail when the budget is
 * smaller than both. No attention weights are needed. Based on Liang et al., "LagKV: Lag-Relative
 * Information of the KV Cache Tells Which Tokens Are Important" (arXiv 2504.04704) and kvpress's
 * {@code LagKVPress}; the default lag is sized for short prompts (paper 1024, kvpress 128).
 *
 * @param ratio fraction of tokens evicted, default 0.5
 * @param sinks leading tokens always kept, default 4
 * @param lag   partition size in tokens, default 8
 */
public record LagKvPress(double ratio, int sinks, int lag) implements ScorerPress {
    /** Guards a channel whose reference partition is constant (max == min). */
    static final float EPS = 1e-6f;

    public LagKvPress {
        PressParams.ratio("lagkv", ratio);
        PressParams.require(sinks >= 0, "lagkv: sinks must be >= 0, got " + sinks);
        PressParams.require(lag >= 2, "lagkv: lag (partition size) must be >= 2 tokens, got " + lag);
    }

    static LagKvPress parse(PressParams p) {
        return new LagKvPress(p.real("ratio", 0.5), p.integer("sinks", 4), p.integer("lag", 8));
    }

    @Override
    public String spec() {
        return "lagkv:ratio=" + PressParams.fmt(ratio) + ",sinks=" + sinks + ",lag=" + lag;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        return scores(ctx.keys(layer, kvHead), ctx.values(layer, kvHead), ctx.tokens(layer, kvHead), ctx.headDim(), sinks, lag);
    }

    /**
     * Scores of {@code n} tokens with keys and values {@code (n, dim)}: within-partition ranks in
     * [0, 1) for scored tokens, 1 for the last partition and the tail, +inf for sinks. A stream
     * shorter than {@code sinks + 2 lag} has nothing to score: every token gets 1 (sinks +inf).
     */
    static float[] scores(float[] keys, float[] values, int n, int dim, int sinks, int lag) {
        float[] s = new float[n];
        java.util.Arrays.fill(s, 1f);
        for (int t = 0; t < Math.min(sinks, n); t++) s[t] = Float.POSITIVE_INFINITY;
        if (n < sinks + 2 * lag) return s;
        int parts = (n - sinks) / lag;          // full partitions; the last one is only a reference
        for (int j = 0; j < parts - 1; j++) {
            int start = sinks + j * lag, ref = start + lag;
            float[] k = lagSoftmax(keys, start, ref, lag, dim);
            float[] v = lagSoftmax(values, start, ref, lag, dim);
            float[] combined = new float[lag];
            for (int i = 0; i < lag; i++) combined[i] = (k[i] + v[i]) / 2;
            int[] rank = ranks(combined);
            for (int i = 0; i < lag; i++) s[start + i] = (float) rank[i] / lag;
        }
        return s;
    }

    /** Softmax over the partition at {@code start} of the std over channels of its tokens normalised by the partition at {@code ref}. */
    static float[] lagSoftmax(float[] x, int start, int ref, int lag, int dim) {
        float[] lo = new float[dim], hi = new float[dim];
        java.util.Arrays.fill(lo, Float.POSITIVE_INFINITY);
        java.util.Arrays.fill(hi, Float.NEGATIVE_INFINITY);
        for (int t = ref; t < ref + lag; t++) {
            for (int c = 0; c < dim; c++) {
                float e = x[t * dim + c];
                lo[c] = Math.min(lo[c], e);
                hi[c] = Math.max(hi[c], e);
            }
        }
        double[] std = new double[lag];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < lag; i++) {
            int t = start + i;
            double mean = 0;
            double[] z = new double[dim];
            for (int c = 0; c < dim; c++) {
                z[c] = (x[t * dim + c] - lo[c]) / (hi[c] - lo[c] + EPS);
                mean += z[c];
            }
            mean /= dim;
            double ss = 0;
            for (int c = 0; c < dim; c++) ss += (z[c] - mean) * (z[c] - mean);
            std[i] = Math.sqrt(ss / Math.max(1, dim - 1));   // torch.std: unbiased
            max = Math.max(max, std[i]);
        }
        double sum = 0;
        for (int i = 0; i < lag; i++) sum += std[i] = Math.exp(std[i] - max);
        float[] p = new float[lag];
        for (int i = 0; i < lag; i++) p[i] = (float) (std[i] / sum);
        return p;
    }

    /** Rank of each value among the others (0 = lowest); ties go to the earlier token's lower rank. */
    static int[] ranks(float[] x) {
        Integer[] order = new Integer[x.length];
        for (int i = 0; i < x.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> {
            int c = Float.compare(x[a], x[b]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int[] r = new int[x.length];
        for (int i = 0; i < x.length; i++) r[order[i]] = i;
        return r;
    }
}
