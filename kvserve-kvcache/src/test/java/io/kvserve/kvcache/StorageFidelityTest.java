package io.kvserve.kvcache;

import io.kvserve.kernels.Kernels;
import io.kvserve.kernels.kv.KvFormats;
import io.kvserve.kvcache.press.PressContext;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Every element type: keys and values read back within the format's error bound, and attention
 * computed over the quantised pages (fused dequantisation, vector kernels) equals attention
 * computed naively over their dequantised values.
 */
class StorageFidelityTest {
    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (KvElementType t : KvElementType.values()) {
            for (int d : new int[] {8, 64}) {
                for (int r : new int[] {0, 40}) {
                    a.add(Arguments.of(t, d, r, KvFormats.META_F16));
                    if (t.isKivi()) a.add(Arguments.of(t, d, r, KvFormats.META_Q8));
                }
            }
        }
        return a.stream();
    }

    /**
     * With 8-bit metadata the grid search may clip an extreme where that lowers the run's squared
     * error: the smallest scale it tries is 2^(-6/8) of the covering one, so the largest error is at
     * most about one step of the covering grid (widened 12.5% by the scale's rounding).
     */
    static double bound(KvElementType t, int meta) {
        if (!t.isKivi()) return bound(t);
        return kiviBound(t.kiviBits, meta);
    }

    /** KIVI codes of {@code bits}: half a step of (max - min) / (2^bits - 1) with F16 metadata, (max - min) <= 2 max|x|. */
    static double kiviBound(int bits, int meta) {
        int levels = (1 << bits) - 1;
        return meta == KvFormats.META_F16 ? 2.0 / levels / 2 + 2e-2 : 2.0 * 1.125 / levels + 2e-2;
    }

    /** Largest |x - x'| relative to the largest |x| of its quantisation group, per type. */
    static double bound(KvElementType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1e-3;
            case Q8_0 -> 0.5 / 127 + 1e-3;
            case Q4_0 -> 1.0 / 8 + 1e-2;
            case KIVI4, KIVI2 -> kiviBound(t.kiviBits, KvFormats.META_F16);
        };
    }

    @ParameterizedTest(name = "{0} head dim {1} residual {2} metadata bytes {3}")
    @MethodSource("cases")
    void roundTripAndFusedAttention(KvElementType type, int dim, int residual, int meta) {
        check(new KvStorage(type, residual, false, false, meta), dim, bound(type, meta), bound(type, meta), dim * 31L + residual + type.ordinal());
    }

    /**
     * Mixed code widths ({@code kbits}, {@code vbits}): keys and values each within their own
     * width's bound, and attention over the pages equals attention over their dequantised values.
     */
    @ParameterizedTest(name = "{0} head dim {1}")
    @org.junit.jupiter.params.provider.CsvSource({"'kivi4:residual=0,kbits=8',8", "'kivi4:residual=40,kbits=8,meta=q8',64",
            "'kivi2:residual=0,vbits=4',8", "'kivi4:residual=0,kbits=8,vbits=2,meta=q8',8", "'kivi2:residual=0,kbits=8,vbits=8,vresidual=0',64"})
    void mixedKeyAndValueWidths(String spec, int dim) {
        KvStorage s = KvStorage.parse(spec);
        check(s, dim, kiviBound(s.keyBits(), s.metaBytes()), kiviBound(s.valueBits(), s.metaBytes()), spec.hashCode());
    }

    static void check(KvStorage storage, int dim, double keyBound, double valueBound, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 150, group = 3;
        try (PagedKvCache c = new PagedKvCache(1, 1, dim, group, 512, storage, 16, 1L << 26, null)) {
            int s = c.open();
            float[][] ks = new float[n][dim], vs = new float[n][dim];
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < dim; i++) {
                    ks[p][i] = (float) (rnd.nextGaussian() * (1 + i % 3));   // per-channel scale, as real keys have
                    vs[p][i] = (float) rnd.nextGaussian();
                }
                c.append(0, s, p, ks[p], 0, vs[p], 0);
            }
            PressContext ctx = c.pressContext(s);
            float[] k = ctx.keys(0, 0), v = ctx.values(0, 0);
            double maxK = 0, maxV = 0;
            for (float[] r : ks) for (float x : r) maxK = Math.max(maxK, Math.abs(x));
            for (float[] r : vs) for (float x : r) maxV = Math.max(maxV, Math.abs(x));
            double errK = 0, errV = 0;
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < dim; i++) {
                    errK = Math.max(errK, Math.abs(k[p * dim + i] - ks[p][i]));
                    errV = Math.max(errV, Math.abs(v[p * dim + i] - vs[p][i]));
                }
            }
            assertThat(errK).as("largest key error").isLessThanOrEqualTo(keyBound * maxK + 1e-6);
            assertThat(errV).as("largest value error").isLessThanOrEqualTo(valueBound * maxV + 1e-6);
            // attention through the cache vs naive attention over the dequantised pages
            float[] q = new float[group * dim], out = new float[group * dim], scores = new float[n];
            for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
            float scale = (float) (1 / Math.sqrt(dim));
            for (int maxPos : new int[] {n - 1, 70, 5}) {
                c.attend(0, s, 0, q, 0, group, maxPos, scale, out, 0, scores);
                for (int j = 0; j < group; j++) {
                    int m = maxPos + 1;
                    double[] w = new double[m];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int t = 0; t < m; t++) {
                        double d = 0;
                        for (int i = 0; i < dim; i++) d += (double) q[j * dim + i] * k[t * dim + i];
                        w[t] = d * scale;
                        max = Math.max(max, w[t]);
                    }
                    for (int t = 0; t < m; t++) sum += w[t] = Math.exp(w[t] - max);
                    double err = 0;
                    for (int i = 0; i < dim; i++) {
                        double o = 0;
                        for (int t = 0; t < m; t++) o += w[t] / sum * v[t * dim + i];
                        err = Math.max(err, Math.abs(out[j * dim + i] - o));
                    }
                    assertThat(err).as("attention output error, query head %d, maxPos %d", j, maxPos).isLessThan(2e-4);
                }
            }
        }
    }

    @ParameterizedTest(name = "KIVI-{0} key scores and value rows, vector = scalar")
    @org.junit.jupiter.params.provider.ValueSource(ints = {2, 4, 8})
    void fusedKiviKeyScoresMatchTheScalarSpecification(int bits) {
        SplittableRandom rnd = new SplittableRandom(bits);
        for (int meta : new int[] {KvFormats.META_F16, KvFormats.META_Q8}) for (int n : new int[] {8, 64, 128}) {
            int g = KvStorage.KIVI_GROUP;
            float[] keys = new float[g * n], q = new float[n];
            for (int i = 0; i < keys.length; i++) keys[i] = (float) (rnd.nextGaussian() * 3);
            for (int i = 0; i < n; i++) q[i] = (float) rnd.nextGaussian();
            MemorySegment seg = MemorySegment.ofArray(new byte[KvFormats.keyGroupBytes(n, g, bits, meta)]);
            KvFormats.encodeKeyGroup(keys, 0, n, g, bits, meta, seg, 0);
            float[] want = new float[g], got = new float[g];
            KvFormats.keyGroupScores(seg, 0, n, g, bits, meta, q, 0, 0.5f, want, 0, g);
            Kernels.kiviKeyScores(seg, 0, n, g, bits, meta, q, 0, 0.5f, got, 0, g);
            float[] vs = new float[n], wantV = new float[n], gotV = new float[n];
            for (int i = 0; i < n; i++) vs[i] = (float) rnd.nextGaussian();
            MemorySegment vseg = MemorySegment.ofArray(new byte[KvFormats.valueRowBytes(n, bits, meta)]);
            KvFormats.encodeValue(vs, 0, n, bits, meta, vseg, 0);
            KvFormats.decodeValue(vseg, 0, n, bits, meta, wantV, 0);
            Kernels.kiviDecodeValue(vseg, 0, n, bits, meta, gotV, 0);
            assertThat(gotV).containsExactly(wantV);
            float[] row = new float[n];
            for (int t = 0; t < g; t++) {
                assertThat(got[t]).isCloseTo(want[t], within(1e-3f * (1 + Math.abs(want[t]))));
                KvFormats.decodeKey(seg, 0, n, g, bits, meta, t, row, 0);
                assertThat((double) want[t]).isCloseTo(0.5 * Kernels.dot(q, 0, row, 0, n), within(1e-3 * (1 + Math.abs(want[t]))));
            }
        }
    }

    /**
     * KV bytes per token as the allocator counts them, for a head dim of 64 (Llama 3.2 1B,
     * SmolLM2) over 2048 tokens: KIVI-2 stores 5.33x less than F16 with no residual, 4.2x with the default 128-token one.
     */
    @ParameterizedTest(name = "{0}: at least {1}x fewer bytes than F16 at head dim 64")
    @org.junit.jupiter.params.provider.CsvSource({"f16,1.0", "q8_0,1.88", "q4_0,3.55", "kivi4:residual=0,3.2", "kivi2:residual=0,5.33", "kivi2,4.19", "kivi4,2.81",
            "'kivi2:residual=0,meta=q8',6.4", "'kivi4:residual=0,meta=q8',3.55"})
    void bytesPerTokenAtHeadDim64(String type, double ratio) {
        int dim = 64, n = 2048;
        long f16 = bytesFor(KvStorage.parse("f16"), dim, n);
        long b = bytesFor(KvStorage.parse(type), dim, n);
        assertThat((double) f16 / b).as("%s: %d bytes for %d tokens vs F16 %d", type, b, n, f16).isGreaterThanOrEqualTo(ratio - 0.005);
    }

    /** Allocator bytes after {@code n} random tokens of one head of {@code dim} channels. */
    static long bytesFor(KvStorage s, int dim, int n) {
        SplittableRandom rnd = new SplittableRandom(5);
        try (PagedKvCache c = new PagedKvCache(1, 1, dim, 1, n, s, 16, 1L << 30, null)) {
            int seq = c.open();
            float[] k = new float[dim], v = new float[dim];
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < dim; i++) {
                    k[i] = (float) rnd.nextGaussian();
                    v[i] = (float) rnd.nextGaussian();
                }
                c.append(0, seq, p, k, 0, v, 0);
            }
            return c.bytesInUse();
        }
    }
}
