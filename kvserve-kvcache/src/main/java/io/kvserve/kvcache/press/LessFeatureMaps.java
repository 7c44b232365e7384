package io.kvserve.kvcache.press;

import io.kvserve.kvcache.AttentionFeatureMap;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

/**
 * LESS's feature maps, one per (layer, KV head), the queries of a GQA group sharing their head's.
 *
 * <p>Keys: positive orthogonal random features (Performer's FAVOR+),
 * {@code psi(k) = exp(W k' - |k'|^2/2) / sqrt(D_k)} with {@code k' = k / d^(1/4)}, so that
 * {@code E[f(q) . psi(k)] = exp(q . k / sqrt(d))} for the same map {@code f} of the query. Queries:
 * {@code phi(q) = M^T f(q)} with a {@code (D_k, D_k)} mixing matrix {@code M}: the identity gives
 * the training-free random-feature estimate ({@code map=random}); {@link LessCalibration} fits
 * {@code M} in closed form by least squares on calibration text ({@code map=fit}). This replaces
 * the paper's trained two-layer GELU maps, which need gradient training (see docs/methods/less.md).
 */
public final class LessFeatureMaps {
    private static final Map<String, LessFeatureMaps> RANDOM = new ConcurrentHashMap<>();

    final int layers, kvHeads, headDim, rank;
    private final FeatureMap[][] maps;

    LessFeatureMaps(int layers, int kvHeads, int headDim, int rank, FeatureMap[][] maps) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.rank = rank;
        this.maps = maps;
    }

    /** The random-feature maps (M = identity) for a shape; the same seed always gives the same maps. */
    public static LessFeatureMaps random(int layers, int kvHeads, int headDim, int rank, long seed) {
        String key = layers + "/" + kvHeads + "/" + headDim + "/" + rank + "/" + seed;
        return RANDOM.computeIfAbsent(key, k -> {
            float[][][] w = projections(layers, kvHeads, headDim, rank, seed);
            FeatureMap[][] m = new FeatureMap[layers][kvHeads];
            for (int l = 0; l < layers; l++) for (int h = 0; h < kvHeads; h++) m[l][h] = new FeatureMap(headDim, rank, w[l][h], null);
            return new LessFeatureMaps(layers, kvHeads, headDim, rank, m);
        });
    }

    /**
     * The projections W per (layer, head), {@code (rank, headDim)}: blocks of {@code headDim}
     * orthonormal rows (Gram-Schmidt on Gaussian rows), each row scaled by the norm of an
     * independent Gaussian vector, as Performer's orthogonal random features.
     */
    static float[][][] projections(int layers, int kvHeads, int headDim, int rank, long seed) {
        SplittableRandom root = new SplittableRandom(seed);
        float[][][] w = new float[layers][kvHeads][];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                SplittableRandom r = root.split();
                float[] p = new float[rank * headDim];
                double[][] block = new double[headDim][headDim];
                for (int row = 0; row < rank; row++) {
                    int b = row % headDim;
                    if (b == 0) block = orthonormal(r, headDim);
                    double norm = 0;
                    for (int c = 0; c < headDim; c++) {
                        double g = gaussian(r);
                        norm += g * g;
                    }
                    norm = Math.sqrt(norm);
                    for (int c = 0; c < headDim; c++) p[row * headDim + c] = (float) (block[b][c] * norm);
                }
                w[l][h] = p;
            }
        }
        return w;
    }

    private static double[][] orthonormal(SplittableRandom r, int d) {
        double[][] m = new double[d][d];
        for (int i = 0; i < d; i++) {
            while (true) {
                for (int c = 0; c < d; c++) m[i][c] = gaussian(r);
                for (int j = 0; j < i; j++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += m[i][c] * m[j][c];
                    for (int c = 0; c < d; c++) m[i][c] -= dot * m[j][c];
                }
                double n = 0;
                for (int c = 0; c < d; c++) n += m[i][c] * m[i][c];
                n = Math.sqrt(n);
                if (n > 1e-6) {
                    for (int c = 0; c < d; c++) m[i][c] /= n;
                    break;
                }
            }
        }
        return m;
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300))) * Math.cos(2 * Math.PI * u2);
    }

    /** The map of (layer, kvHead). */
    public AttentionFeatureMap map(int layer, int kvHead) {
        return maps[layer][kvHead];
    }

    public int rank() {
        return rank;
    }

    /** Fails with a clear message when these maps were made for another model shape. */
    void checkShape(PressContext ctx) {
        if (ctx.layers() != layers || ctx.kvHeads() != kvHeads || ctx.headDim() != headDim) {
            throw new IllegalArgumentException("less: the feature maps were fitted for " + layers + " layers x " + kvHeads + " KV heads x head dim "
                    + headDim + ", but the model has " + ctx.layers() + " x " + ctx.kvHeads() + " x " + ctx.headDim() + ": fit them on this model");
        }
    }

    /** One (layer, head)'s maps: {@code f(x) = exp(W x' - |x'|^2/2)/sqrt(D_k)}, {@code psi = f}, {@code phi = M^T f}. */
    static final class FeatureMap implements AttentionFeatureMap {
        final int headDim, dim;
        final float[] w;          // (dim, headDim)
        final float[] mix;        // (dim, dim) row-major M, or null for the identity
        private final float inputScale;
        private final ThreadLocal<float[]> scratch;

        FeatureMap(int headDim, int dim, float[] w, float[] mix) {
            this.headDim = headDim;
            this.dim = dim;
            this.w = w;
            this.mix = mix;
            this.inputScale = (float) Math.pow(headDim, -0.25);   // q'.k' = q.k / sqrt(d), the attention logit
            this.scratch = ThreadLocal.withInitial(() -> new float[dim]);
        }

        @Override public int dim() { return dim; }
        @Override public int headDim() { return headDim; }

        /** The random features f(x) into dst. */
        void features(float[] x, int off, float[] dst) {
            double sq = 0;
            for (int c = 0; c < headDim; c++) {
                double v = x[off + c] * inputScale;
                sq += v * v;
            }
            double norm = 1.0 / Math.sqrt(dim);
            for (int a = 0; a < dim; a++) {
                double dot = 0;
                for (int c = 0; c < headDim; c++) dot += w[a * headDim + c] * (x[off + c] * inputScale);
                dst[a] = (float) (Math.exp(dot - sq / 2) * norm);
            }
        }

        @Override
        public void key(float[] k, int off, float[] dst) {
            features(k, off, dst);
        }

        @Override
        public void query(float[] q, int off, float[] dst) {
            if (mix == null) {
                features(q, off, dst);
                return;
            }
            float[] f = scratch.get();
            features(q, off, f);
            for (int b = 0; b < dim; b++) {
                double s = 0;
                for (int a = 0; a < dim; a++) s += f[a] * mix[a * dim + b];
                dst[b] = (float) s;
            }
        }
    }
}
