package io.kvserve.kvcache.press;

import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The closed-form fit of LESS's query map. */
class LessCalibrationTest {
    /** The normal equations, built with running sums, give the same error as summing every query's dropped-token terms directly. */
    @Test
    void normalEquationsMatchTheBruteForceObjective() {
        int d = 4, m = 3, group = 2, len = 9;
        var map = (LessFeatureMaps.FeatureMap) LessFeatureMaps.random(1, 1, d, m, 7).map(0, 0);
        SplittableRandom r = new SplittableRandom(1);
        float[] q = new float[len * group * d], k = new float[len * d], v = new float[len * d];
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextDouble(-1.5, 1.5);
        for (int i = 0; i < k.length; i++) k[i] = (float) r.nextDouble(-1.5, 1.5);
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextDouble(-1, 1);
        double[][] gram = new double[m * m][m * m];
        double[] rhs = new double[m * m];
        double p2 = LessCalibration.accumulate(map, q, k, v, len, group, gram, rhs);
        double[] mix = new double[m * m];
        for (int i = 0; i < mix.length; i++) mix[i] = r.nextDouble(-1, 1);

        // brute force: for each query, (state mass - true mass)^2 + |state value sum - true value sum|^2, over keys [1, t-4]
        double brute = 0;
        float[] f = new float[m], psi = new float[m];
        for (int t = 0; t < len; t++) {
            for (int j = 0; j < group; j++) {
                int qo = (t * group + j) * d;
                double[] s = new double[t + 1];
                double z = 0;
                for (int u = 0; u <= t; u++) {
                    for (int c = 0; c < d; c++) s[u] += q[qo + c] * k[u * d + c] / Math.sqrt(d);
                    z += Math.exp(s[u]);
                }
                map.features(q, qo, f);
                double[] err = new double[d + 1];                // [mass, value sum 0..d-1]
                boolean any = false;
                for (int u = LessCalibration.SKIP_FIRST; u <= t - LessCalibration.SKIP_RECENT; u++) {
                    any = true;
                    map.key(k, u * d, psi);
                    double kernel = 0;
                    for (int a = 0; a < m; a++) for (int b = 0; b < m; b++) kernel += f[a] * mix[a * m + b] * psi[b];
                    double diff = kernel / z - Math.exp(s[u]) / z;
                    err[0] += diff;
                    for (int c = 0; c < d; c++) err[1 + c] += diff * v[u * d + c];
                }
                if (any) for (double e : err) brute += e * e;
            }
        }
        assertThat(LessCalibration.error(gram, rhs, p2, mix)).isCloseTo(brute, within(1e-6 * Math.max(1, brute)));
        // and the least-squares solution (no ridge) is no worse than the identity or the random matrix
        double[] identity = new double[m * m];
        for (int a = 0; a < m; a++) identity[a * m + a] = 1;
        double[] fit = LessCalibration.solveRidge(gram, rhs, identity, 0);
        assertThat(LessCalibration.error(gram, rhs, p2, fit)).isLessThanOrEqualTo(LessCalibration.error(gram, rhs, p2, identity) + 1e-12)
                .isLessThanOrEqualTo(LessCalibration.error(gram, rhs, p2, mix) + 1e-12);
    }

    @Test
    void fitOnStoriesGivesMapsOfTheModelsShape() throws Exception {
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            int[] a = m.tokenizer().encode("Once upon a time there was a little girl named Lily. She loved to play outside in the park with her dog.", true, true);
            var out = new java.io.ByteArrayOutputStream();
            LessFeatureMaps maps = LessCalibration.fit(m, List.of(a), 8, 0, 0.01, new java.io.PrintStream(out, true));
            assertThat(maps.rank()).isEqualTo(8);
            var cfg = m.config();
            var map = maps.map(cfg.nLayers() - 1, cfg.nKvHeads() - 1);
            assertThat(map.dim()).isEqualTo(8);
            assertThat(map.headDim()).isEqualTo(cfg.headDim());
            assertThat(out.toString()).contains("less: fitted the rank-8 maps");
            float[] phi = new float[8];
            map.query(new float[cfg.headDim()], 0, phi);
            for (float v : phi) assertThat(v).isFinite();
        }
    }
}
