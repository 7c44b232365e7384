package io.kvserve.kvcache.press;

import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.ContiguousKvCache;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * Closed-form fit of LESS's query mixing matrix M, per (layer, KV head), on calibration text.
 *
 * <p>The model runs over each calibration sequence with a full cache that records the queries,
 * keys (after RoPE) and values. For every query q at position t, the keys an eviction press could
 * drop are taken to be {@code D(t) = [1, t - 4]} (not the first token, an attention sink every press
 * here keeps, and not the last few, which every press keeps). The targets are what D(t) gives the
 * query under full attention, its probability mass {@code sum_s p_ts} and its value sum
 * {@code sum_s p_ts v_s}; the predictions are the state's terms for the same tokens,
 * {@code a^T M sum_s psi(k_s)} and {@code a^T M sum_s psi(k_s) v_s^T} with
 * {@code a = f(q) exp(-lse_t)}. This is the paper's objective (the attention output of the tokens
 * beyond the budget) before the output projection, with the state's own sums. Minimising the
 * squared error plus {@code ridge * mean diag * |M - I|^2} is linear least squares in M, solved
 * exactly from its normal equations, built with running sums over s. The paper instead trains
 * two-layer GELU maps with Adam; this is the training-free substitute the issue allows.
 */
public final class LessCalibration {
    /** Keys before this position are never fitted (the attention sink is always kept). */
    static final int SKIP_FIRST = 1;
    /** Keys this close to the query are never fitted (every press keeps the most recent tokens). */
    static final int SKIP_RECENT = 4;

    private LessCalibration() {}

    /**
     * {@code press} with fitted maps in every LESS press that needs them (also inside a composition);
     * presses of the same rank, seed and ridge share one fit. Other presses come back unchanged.
     */
    public static KvPress withFittedMaps(KvPress press, Model model, List<int[]> sequences, java.util.Map<String, LessFeatureMaps> fits, PrintStream log) {
        if (press instanceof LessPress lp && lp.needsFit()) {
            String key = lp.rank() + "/" + lp.seed() + "/" + lp.ridge();
            return lp.withMaps(fits.computeIfAbsent(key, k -> fit(model, sequences, lp.rank(), lp.seed(), lp.ridge(), log)));
        }
        if (press instanceof ComposedPress cp) {
            return new ComposedPress(cp.presses().stream().map(p -> withFittedMaps(p, model, sequences, fits, log)).toList());
        }
        return press;
    }

    /** Whether {@code press} holds a LESS press that still needs {@link #withFittedMaps}. */
    public static boolean needsFit(KvPress press) {
        if (press instanceof LessPress lp) return lp.needsFit();
        return press instanceof ComposedPress cp && cp.presses().stream().anyMatch(LessCalibration::needsFit);
    }

    /** Fitted maps for {@code model} from token sequences (each starts at position 0). */
    public static LessFeatureMaps fit(Model model, List<int[]> sequences, int rank, long seed, double ridge, PrintStream log) {
        var cfg = model.config();
        int layers = cfg.nLayers(), heads = cfg.nKvHeads(), d = cfg.headDim(), g = cfg.groupSize();
        if (sequences.isEmpty()) throw new IllegalArgumentException("less: no calibration text to fit the feature maps on");
        LessFeatureMaps base = LessFeatureMaps.random(layers, heads, d, rank, seed);
        int n = rank * rank;
        double[][][][] gram = new double[layers][heads][][];
        double[][][] rhs = new double[layers][heads][];
        double[][] sumP2 = new double[layers][heads];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                gram[l][h] = new double[n][n];
                rhs[l][h] = new double[n];
            }
        }
        int maxLen = sequences.stream().mapToInt(s -> s.length).max().orElse(1);
        ForwardPass fp = model.newForwardPass(Math.min(64, maxLen), WorkerPool.shared());
        long tokens = 0;
        for (int[] seq : sequences) {
            int len = Math.min(seq.length, cfg.contextLength());
            Recorder rec = new Recorder(layers, heads, d, g, len);
            int id = rec.open();
            for (int p = 0; p < len; p += fp.maxBatch()) fp.forward(Batch.ofSequence(id, seq, p, Math.min(fp.maxBatch(), len - p), p, false), rec);
            rec.close();
            tokens += len;
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < heads; h++) {
                    var map = (LessFeatureMaps.FeatureMap) base.map(l, h);
                    sumP2[l][h] += accumulate(map, rec.q[l][h], rec.k[l][h], rec.v[l][h], len, g, gram[l][h], rhs[l][h]);
                }
            }
        }
        LessFeatureMaps.FeatureMap[][] fitted = new LessFeatureMaps.FeatureMap[layers][heads];
        double errFit = 0, errIdentity = 0, total = 0;
        double[] identity = new double[n];
        for (int a = 0; a < rank; a++) identity[a * rank + a] = 1;
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                double[] m = solveRidge(gram[l][h], rhs[l][h], identity, ridge);
                errFit += error(gram[l][h], rhs[l][h], sumP2[l][h], m);
                errIdentity += error(gram[l][h], rhs[l][h], sumP2[l][h], identity);
                total += sumP2[l][h];
                float[] mix = new float[n];
                for (int i = 0; i < n; i++) mix[i] = (float) m[i];
                var b = (LessFeatureMaps.FeatureMap) base.map(l, h);
                fitted[l][h] = new LessFeatureMaps.FeatureMap(d, rank, b.w, mix);
            }
        }
        if (log != null) {
            log.printf(Locale.ROOT, "less: fitted the rank-%d maps of %d layers x %d KV heads on %d sequences (%d tokens): squared error of the"
                    + " dropped-token attention (mass and value sum) %.4f of its energy (random features alone: %.4f)%n", rank, layers, heads, sequences.size(), tokens,
                    errFit / total, errIdentity / total);
        }
        return new LessFeatureMaps(layers, heads, d, rank, fitted);
    }

    /**
     * Adds one sequence of one (layer, head) to the normal equations; returns the sum of squared
     * targets. {@code q} is {@code (len, group, d)}, {@code k} and {@code v} {@code (len, d)}. For
     * each query the targets are what the droppable keys D(t) contribute to its attention, the
     * mass {@code sum_s p_ts} and the value sum {@code sum_s p_ts v_s}, and the predictions the
     * state's {@code a^T M sum_s psi_s} and {@code a^T M sum_s psi_s v_s} with {@code a = f(q) e^-lse}.
     */
    static double accumulate(LessFeatureMaps.FeatureMap map, float[] q, float[] k, float[] v, int len, int group, double[][] gram, double[] rhs) {
        int m = map.dim, d = map.headDim;
        float scale = (float) (1.0 / Math.sqrt(d));
        float[][] psi = new float[len][m];
        for (int s = 0; s < len; s++) map.key(k, s * d, psi[s]);
        double[] s1 = new double[m];                     // sum of psi over the fitted keys so far
        double[] sv = new double[m * d];                 // sum of psi v^T over them, (m, d)
        double[] quad = new double[m * m];               // s1 s1^T + sum_c sv[:,c] sv[:,c]^T
        float[] f = new float[m];
        double[] scores = new double[len];
        double[] aat = new double[m * m];
        double[] pv = new double[d];
        double p2 = 0;
        int added = SKIP_FIRST;                          // keys [SKIP_FIRST, added) are in s1, sv
        for (int t = 0; t < len; t++) {
            int last = t - SKIP_RECENT;                  // fitted keys: [SKIP_FIRST, last]
            if (last < SKIP_FIRST) continue;
            for (; added <= last; added++) {
                for (int a = 0; a < m; a++) {
                    s1[a] += psi[added][a];
                    for (int c = 0; c < d; c++) sv[a * d + c] += (double) psi[added][a] * v[added * d + c];
                }
            }
            for (int a = 0; a < m; a++) {
                for (int b = 0; b < m; b++) {
                    double x = s1[a] * s1[b];
                    for (int c = 0; c < d; c++) x += sv[a * d + c] * sv[b * d + c];
                    quad[a * m + b] = x;
                }
            }
            java.util.Arrays.fill(aat, 0);
            for (int j = 0; j < group; j++) {
                int qo = (t * group + j) * d;
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= t; s++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += q[qo + c] * k[s * d + c];
                    scores[s] = dot * scale;
                    max = Math.max(max, scores[s]);
                }
                double sum = 0;
                for (int s = 0; s <= t; s++) sum += Math.exp(scores[s] - max);
                double lse = max + Math.log(sum);
                map.features(q, qo, f);
                double e = Math.exp(-lse);
                double mass = 0;
                java.util.Arrays.fill(pv, 0);
                for (int s = SKIP_FIRST; s <= last; s++) {
                    double p = Math.exp(scores[s] - lse);
                    mass += p;
                    for (int c = 0; c < d; c++) pv[c] += p * v[s * d + c];
                }
                p2 += mass * mass;
                for (int c = 0; c < d; c++) p2 += pv[c] * pv[c];
                for (int a = 0; a < m; a++) {
                    double fa = f[a] * e;
                    for (int b = 0; b < m; b++) {
                        aat[a * m + b] += fa * f[b] * e;
                        double target = s1[b] * mass;
                        for (int c = 0; c < d; c++) target += sv[b * d + c] * pv[c];
                        rhs[a * m + b] += fa * target;
                    }
                }
            }
            for (int a = 0; a < m; a++) {
                for (int c = 0; c < m; c++) {
                    double w = aat[a * m + c];
                    if (w == 0) continue;
                    for (int bb = 0; bb < m; bb++) {
                        double[] row = gram[a * m + bb];
                        int col = c * m;
                        for (int ee = 0; ee < m; ee++) row[col + ee] += w * quad[bb * m + ee];
                    }
                }
            }
        }
        return p2;
    }

    /** Squared error {@code x^T G x - 2 x.r + sum p^2} of a solution. */
    static double error(double[][] gram, double[] rhs, double p2, double[] x) {
        double e = p2;
        for (int i = 0; i < x.length; i++) {
            double gx = 0;
            for (int j = 0; j < x.length; j++) gx += gram[i][j] * x[j];
            e += x[i] * gx - 2 * x[i] * rhs[i];
        }
        return Math.max(0, e);
    }

    /** {@code argmin x^T G x - 2 x.r + lambda |x - prior|^2} with {@code lambda = ridge * mean diag(G)}. */
    static double[] solveRidge(double[][] gram, double[] rhs, double[] prior, double ridge) {
        int n = rhs.length;
        double trace = 0;
        for (int i = 0; i < n; i++) trace += gram[i][i];
        double lambda = ridge * trace / n + 1e-30;
        double[][] a = new double[n][n + 1];
        for (int i = 0; i < n; i++) {
            System.arraycopy(gram[i], 0, a[i], 0, n);
            a[i][i] += lambda;
            a[i][n] = rhs[i] + lambda * prior[i];
        }
        for (int col = 0; col < n; col++) {                  // Gaussian elimination, partial pivoting
            int piv = col;
            for (int r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) piv = r;
            double[] tmp = a[col];
            a[col] = a[piv];
            a[piv] = tmp;
            double dv = a[col][col];
            if (Math.abs(dv) < 1e-300) return prior.clone();
            for (int r = col + 1; r < n; r++) {
                double fct = a[r][col] / dv;
                if (fct == 0) continue;
                for (int c = col; c <= n; c++) a[r][c] -= fct * a[col][c];
            }
        }
        double[] x = new double[n];
        for (int r = n - 1; r >= 0; r--) {
            double s = a[r][n];
            for (int c = r + 1; c < n; c++) s -= a[r][c] * x[c];
            x[r] = s / a[r][r];
        }
        return x;
    }

    /** A full F32 cache that also keeps every query and key after RoPE, {@code q: (layer, head) -> (len, group, d)}. */
    private static final class Recorder implements KvCache {
        final ContiguousKvCache cache;
        final float[][][] q, k, v;
        final int heads, d, group;

        Recorder(int layers, int heads, int d, int group, int len) {
            this.cache = new ContiguousKvCache(layers, heads, d, len);
            this.heads = heads;
            this.d = d;
            this.group = group;
            q = new float[layers][heads][len * group * d];
            k = new float[layers][heads][len * d];
            v = new float[layers][heads][len * d];
        }

        @Override public int layers() { return cache.layers(); }
        @Override public int kvHeads() { return heads; }
        @Override public int headDim() { return d; }
        @Override public int open() { return cache.open(); }
        @Override public int fork(int src, int length) { throw new UnsupportedOperationException("calibration does not fork"); }
        @Override public void truncate(int seq, int fromPos) { cache.truncate(seq, fromPos); }
        @Override public void release(int seq) { cache.release(seq); }
        @Override public int length(int seq) { return cache.length(seq); }
        @Override public void reserve(int seq, int tokens) { cache.reserve(seq, tokens); }
        @Override public long bytesInUse() { return cache.bytesInUse(); }
        @Override public void close() { cache.close(); }

        @Override
        public void append(int layer, int seq, int pos, float[] kk, int kOff, float[] vv, int vOff) {
            for (int h = 0; h < heads; h++) {
                System.arraycopy(kk, kOff + h * d, k[layer][h], pos * d, d);
                System.arraycopy(vv, vOff + h * d, v[layer][h], pos * d, d);
            }
            cache.append(layer, seq, pos, kk, kOff, vv, vOff);
        }

        @Override
        public void attend(int layer, int seq, int kvHead, float[] qq, int qOff, int nq, int maxPos, float scale, float[] out, int outOff, float[] scores) {
            System.arraycopy(qq, qOff, q[layer][kvHead], maxPos * group * d, nq * d);
            cache.attend(layer, seq, kvHead, qq, qOff, nq, maxPos, scale, out, outOff, scores);
        }
    }
}
