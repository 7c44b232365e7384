package io.kvserve.kvcache.elitekv;

import io.kvserve.kernels.kv.KvFormats;
import io.kvserve.kvcache.KvElementType;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.press.EliteKvPress;
import io.kvserve.kvcache.press.KvPress;
import io.kvserve.kvcache.press.PressRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** EliteKV's parts on hand-made cases: eigen-decomposition, RoPElite's greedy order, the codec, the cache's books. */
class EliteKvTest {
    static final int D = 8, PAIRS = 4;
    static final int[] FIRST = {0, 2, 4, 6}, SECOND = {1, 3, 5, 7};
    static final float[] INV_FREQ = {1f, 0.1f, 0.01f, 0.001f};

    @Test
    void jacobiFindsTheEigenpairsOfAHandMatrix() {
        // [[2,1],[1,2]]: eigenvalues 3 (vector (1,1)/sqrt2) and 1 (vector (1,-1)/sqrt2)
        SymmetricEigen e = SymmetricEigen.of(new double[][] {{2, 1}, {1, 2}});
        assertThat(e.values()).containsExactly(new double[] {3, 1}, within(1e-12));
        assertThat(Math.abs(e.vectors()[0][0])).isCloseTo(Math.sqrt(0.5), within(1e-12));
        assertThat(e.vectors()[0][0] * e.vectors()[1][0]).isCloseTo(0.5, within(1e-12));
        assertThat(e.vectors()[0][1] * e.vectors()[1][1]).isCloseTo(-0.5, within(1e-12));
        // a 5x5 matrix: A v = lambda v for every pair, vectors orthonormal
        double[][] a = randomMoments(new SplittableRandom(3), 5, 40, 5);
        SymmetricEigen f = SymmetricEigen.of(a);
        for (int j = 0; j < 5; j++) {
            if (j > 0) assertThat(f.values()[j]).isLessThanOrEqualTo(f.values()[j - 1]);
            for (int i = 0; i < 5; i++) {
                double av = 0;
                for (int k = 0; k < 5; k++) av += a[i][k] * f.vectors()[k][j];
                assertThat(av).isCloseTo(f.values()[j] * f.vectors()[i][j], within(1e-9));
            }
        }
    }

    /**
     * Three pairs (head dim 6), angle pi/2 per position, a query at position 1 and a key at position 0.
     * Only that (query, key) pair crosses positions, and there pair p's RoPE logit is 0 while its NoPE
     * logit is c_p = (2, -1.9, 1), so the candidate's error is the sum of c_p over the pairs left without
     * RoPE. Round 1 (all off: 1.1): adding pair 0 leaves |1.1 - 2| = 0.9, pair 1 |1.1 + 1.9| = 3, pair 2
     * |1.1 - 1| = 0.1, so pair 2 first; round 2 (0.1): pair 0 leaves 1.9, pair 1 2.0, so pair 0; then 1.
     * Ranking by a pair's own error (|c_p|) would give 0, 1, 2 instead.
     */
    @Test
    void ropEliteGreedyOrderMatchesTheHandComputation() {
        int d = 6;
        int[] first = {0, 2, 4}, second = {1, 3, 5};
        float h = (float) (Math.PI / 2);
        float[] invFreq = {h, h, h};
        float[] c = {2f, -1.9f, 1f};
        float[] queries = new float[2 * d], keys = new float[2 * d];
        for (int p = 0; p < 3; p++) {
            // query at position 1: (c_p, 0) rotated by pi/2 is (0, c_p); key at position 0: (1, 0)
            queries[d + 2 * p + 1] = c[p];
            keys[2 * p] = 1f;
            keys[d + 2 * p] = 0.3f * (p + 1);   // same-position pairs must not count
            keys[d + 2 * p + 1] = -0.7f;
            queries[2 * p] = 0.5f;
        }
        var sample = new RopElite.HeadSample(queries, keys, new int[] {0, 1}, 1);
        assertThat(RopElite.rank(List.of(sample), d, first, second, invFreq)).containsExactly(2, 0, 1);
    }

    @Test
    void allPairsEliteAtFullRankAttendsLikeThePlainCache() {
        EliteKvProfile profile = handProfile(new SplittableRandom(7), 2, 2);
        KvPress press = new EliteKvPress(PAIRS, EliteKvPress.FULL, null, profile);
        SplittableRandom rnd = new SplittableRandom(11);
        try (PagedKvCache plain = cache(null, KvElementType.F32); PagedKvCache elite = cache(press, KvElementType.F32)) {
            int a = plain.open(), b = elite.open();
            for (int pos = 0; pos < 21; pos++) {
                for (int l = 0; l < 2; l++) {
                    float[] k = random(rnd, 2 * D), v = random(rnd, 2 * D);
                    plain.append(l, a, pos, k, 0, v, 0);
                    elite.append(l, b, pos, k, 0, v, 0);
                }
            }
            for (int maxPos : new int[] {0, 7, 20}) {
                for (int h = 0; h < 2; h++) {
                    float[] q = random(rnd, 2 * D), o1 = new float[2 * D], o2 = new float[2 * D], s = new float[32];
                    plain.attend(1, a, h, q, 0, 2, maxPos, 0.35f, o1, 0, s);
                    elite.attend(1, b, h, q, 0, 2, maxPos, 0.35f, o2, 0, s);
                    for (int i = 0; i < o1.length; i++) assertThat(o2[i]).as("out %d at maxPos %d", i, maxPos).isCloseTo(o1[i], within(1e-5f));
                }
            }
        }
    }

    /**
     * One elite pair at full rank: the scores are RoPE on the elite pair and the product of the
     * unrotated (position-free) dims elsewhere, computed here from the definition.
     */
    @Test
    void onePairEliteScoresWithRopeOnThatPairOnly() {
        EliteKvProfile profile = handProfile(new SplittableRandom(5), 1, 1);
        EliteKvCodec codec = profile.codec(0, 0, 1, 0);
        int elitePair = profile.ranking()[0][0][0];
        SplittableRandom rnd = new SplittableRandom(9);
        float[] q = random(rnd, D), k = random(rnd, D), v = random(rnd, D);
        int qPos = 37, kPos = 5;
        float expected = 0;
        for (int p = 0; p < PAIRS; p++) {
            int a = FIRST[p], b = SECOND[p];
            if (p == elitePair) {
                expected += q[a] * k[a] + q[b] * k[b];
            } else {
                float[] qu = rot(q[a], q[b], -qPos * INV_FREQ[p]), ku = rot(k[a], k[b], -kPos * INV_FREQ[p]);
                expected += qu[0] * ku[0] + qu[1] * ku[1];
            }
        }
        float[] row = new float[codec.width()], qe = new float[codec.width()];
        codec.encode(k, 0, v, 0, kPos, row, 0);
        codec.encodeQuery(q, 0, qPos, qe, 0);
        float got = 0;
        for (int i = 0; i < row.length; i++) got += qe[i] * row[i];
        assertThat(got).isCloseTo(expected, within(1e-4f));
        assertThat(codec.width()).isEqualTo(2 + 2 * D - 2);
    }

    @Test
    void latentRoundTripsAtFullRankAndInsideTheCalibratedSubspace() {
        EliteKvProfile profile = handProfile(new SplittableRandom(1), 1, 1);
        SplittableRandom rnd = new SplittableRandom(2);
        EliteKvCodec full = profile.codec(0, 0, 1, 0);
        float[] k = random(rnd, D), v = random(rnd, D), row = new float[full.width()], k2 = new float[D], v2 = new float[D];
        full.encode(k, 0, v, 0, 123, row, 0);
        full.decodeKey(row, 0, 123, k2, 0);
        full.decodeValue(row, 0, v2, 0);
        for (int i = 0; i < D; i++) {
            assertThat(k2[i]).isCloseTo(k[i], within(1e-5f));
            assertThat(v2[i]).isCloseTo(v[i], within(1e-5f));
        }
        // calibration data spanning 3 directions of [k_nope ; v]: rank 3 reconstructs it exactly
        int[] ranking = {2, 0, 1, 3};
        int[] nope = EliteKvCodec.nopeDims(D, new int[] {2}, FIRST, SECOND);
        double[][] basis = new double[3][nope.length + D];
        for (double[] b : basis) for (int i = 0; i < b.length; i++) b[i] = rnd.nextDouble(-1, 1);
        double[] m = new double[4 * D * D];
        float[][] xs = new float[10][];
        for (int s = 0; s < 10; s++) {
            double[] x = new double[2 * D];
            double[] w = {rnd.nextDouble(-1, 1), rnd.nextDouble(-1, 1), rnd.nextDouble(-1, 1)};
            for (int i = 0; i < nope.length + D; i++) {
                double val = w[0] * basis[0][i] + w[1] * basis[1][i] + w[2] * basis[2][i];
                x[i < nope.length ? nope[i] : D + (i - nope.length)] = val;
            }
            xs[s] = new float[2 * D];
            for (int i = 0; i < 2 * D; i++) xs[s][i] = (float) x[i];
            for (int i = 0; i < 2 * D; i++) for (int j = 0; j < 2 * D; j++) m[i * 2 * D + j] += x[i] * x[j];
        }
        EliteKvProfile low = new EliteKvProfile(1, 1, D, FIRST, SECOND, INV_FREQ, new int[][][] {{ranking}}, new double[][][] {{m}}, 10);
        EliteKvCodec c3 = low.codec(0, 0, 1, 3);
        assertThat(c3.width()).isEqualTo(2 + 3);
        assertThat(low.energyKept(0, 0, 1, 3)).isCloseTo(1.0, within(1e-9));
        for (float[] x : xs) {
            // x holds the unrotated key; rotate it to position 9 as the model would have, elite dims included
            float[] key = new float[D];
            for (int p = 0; p < PAIRS; p++) {
                float[] r = rot(x[FIRST[p]], x[SECOND[p]], 9 * INV_FREQ[p]);
                key[FIRST[p]] = r[0];
                key[SECOND[p]] = r[1];
            }
            float[] r = new float[c3.width()];
            c3.encode(key, 0, x, D, 9, r, 0);
            c3.decodeKey(r, 0, 9, k2, 0);
            c3.decodeValue(r, 0, v2, 0);
            for (int i = 0; i < D; i++) {
                assertThat(k2[i]).isCloseTo(key[i], within(1e-4f));
                assertThat(v2[i]).isCloseTo(x[D + i], within(1e-4f));
            }
        }
    }

    @Test
    void bytesPerTokenEqualTheFormula() {
        EliteKvProfile profile = handProfile(new SplittableRandom(4), 2, 2);
        int tokens = 16, layers = 2, heads = 2, page = 4;
        for (KvElementType t : new KvElementType[] {KvElementType.F16, KvElementType.Q8_0, KvElementType.F32}) {
            for (int[] er : new int[][] {{1, 2}, {0, 2}, {2, 4}, {1, 6}}) {
                KvPress press = PressRegistry.parse("elitekv:elite=" + er[0] + ",rank=" + er[1]);
                press = EliteKvPress.calibrateIfNeeded(press, () -> profile);
                try (PagedKvCache c = cache(press, t)) {
                    int s = c.open();
                    SplittableRandom rnd = new SplittableRandom(1);
                    for (int pos = 0; pos < tokens; pos++) {
                        for (int l = 0; l < layers; l++) c.append(l, s, pos, random(rnd, heads * D), 0, random(rnd, heads * D), 0);
                    }
                    int width = 2 * er[0] + er[1];
                    long expected = (long) layers * heads * tokens * KvFormats.rowBytes(t.rowFormat, width);
                    assertThat(c.bytesInUse()).as("%s elite %d rank %d", t, er[0], er[1]).isEqualTo(expected);
                    if (t == KvElementType.F16) assertThat(c.bytesInUse()).isEqualTo((long) layers * heads * tokens * 2 * width);
                    assertThat(c.pages(s, 1, 1)).hasSize(tokens / page);
                    c.release(s);
                    assertThat(c.bytesInUse()).isZero();
                }
            }
        }
    }

    @Test
    void profileWritesReadsAndSpecsRoundTrip(@TempDir Path dir) throws Exception {
        EliteKvProfile p = handProfile(new SplittableRandom(8), 2, 2);
        Path f = dir.resolve("elite.profile");
        p.write(f);
        EliteKvProfile q = EliteKvProfile.read(f);
        assertThat(q.ranking()[1][1]).containsExactly(p.ranking()[1][1]);
        assertThat(q.moments()[1][0]).containsExactly(p.moments()[1][0]);
        assertThat(q.invFreq()).containsExactly(p.invFreq());
        KvPress press = PressRegistry.parse("elitekv:elite=2,rank=3,profile=" + f);
        assertThat(press.spec()).isEqualTo("elitekv:elite=2,rank=3,profile=" + f);
        assertThat(PressRegistry.parse("elitekv:rank=full").spec()).isEqualTo("elitekv:rank=full");
        assertThat(PressRegistry.parse("elitekv").spec()).isEqualTo("elitekv");
        assertThatThrownBy(() -> PressRegistry.parse("elitekv:profile=" + dir.resolve("missing")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not exist").hasMessageContaining("kvserve calibrate elitekv");
        assertThatThrownBy(() -> PressRegistry.parse("elitekv:rank=0")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank");
        assertThatThrownBy(() -> cache(PressRegistry.parse("elitekv:elite=1"), KvElementType.F16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no calibration profile");
        assertThatThrownBy(() -> cache(new EliteKvPress(1, 20, null, p), KvElementType.F16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank must be in [1, 14]");
        assertThatThrownBy(() -> cache(new EliteKvPress(1, 2, null, p), KvElementType.KIVI4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KIVI");
        java.nio.file.Files.writeString(f, "kvserve-elitekv-profile 1\nshape 2 2 8 4 10\nfirst 0 2 4\n");
        assertThatThrownBy(() -> EliteKvProfile.read(f)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("line 3");
    }

    // ---- helpers ----

    static PagedKvCache cache(KvPress press, KvElementType t) {
        return new PagedKvCache(2, 2, D, 2, 64, KvStorage.of(t), 4, 1L << 24, press);
    }

    /** A profile over (layers, kvHeads) with random moments and a fixed ranking 3, 1, 0, 2. */
    static EliteKvProfile handProfile(SplittableRandom rnd, int layers, int kvHeads) {
        int[][][] ranking = new int[layers][kvHeads][];
        double[][][] moments = new double[layers][kvHeads][];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                ranking[l][h] = new int[] {3, 1, 0, 2};
                double[][] m = randomMoments(rnd, 2 * D, 50, 2 * D);
                moments[l][h] = new double[4 * D * D];
                for (int i = 0; i < 2 * D; i++) for (int j = 0; j < 2 * D; j++) moments[l][h][i * 2 * D + j] = m[i][j];
            }
        }
        return new EliteKvProfile(layers, kvHeads, D, FIRST, SECOND, INV_FREQ, ranking, moments, 50);
    }

    static double[][] randomMoments(SplittableRandom rnd, int n, int samples, int rank) {
        double[][] m = new double[n][n];
        for (int s = 0; s < samples; s++) {
            double[] x = new double[n];
            for (int i = 0; i < Math.min(n, rank); i++) x[i] = rnd.nextDouble(-1, 1) * (i + 1);
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i][j] += x[i] * x[j];
        }
        return m;
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextDouble(-1, 1);
        return x;
    }

    static float[] rot(float a, float b, float angle) {
        float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
        return new float[] {a * cos - b * sin, a * sin + b * cos};
    }
}
