package io.kvserve.kernels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The implementation chosen by {@link Kernels} against the scalar specification. Surefire runs this
 * class once per vector width (forked JVMs with -Dkvserve.vector.bits=128, 256, 512 and 0), because
 * the species are static final and fixed when the kernels load.
 */
class KernelEquivalenceTest {
    static final GgmlType[] TYPES = {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1};
    static final int[] BLOCK_COLS = {32, 64, 416, 2048, 4096 + 32};
    static final int[] FLOAT_COLS = {1, 13, 31, 33, 207, 1021, 4098};
    static final int[] BATCHES = {1, 2, 3, 5, 8, 17};

    final KernelSupport impl = Kernels.impl();
    final ScalarKernels scalar = new ScalarKernels();

    @Test
    void runsTheRequestedWidth() {
        String bits = System.getProperty("kvserve.vector.bits");
        if (bits == null || bits.isBlank() || bits.equals("-1")) {
            assertThat(impl.name()).startsWith("panama-");
        } else if (bits.equals("0")) {
            assertThat(impl.name()).isEqualTo("scalar");
        } else {
            assertThat(impl.name()).isEqualTo("panama-" + bits);
        }
    }

    static Stream<Arguments> matmulCases() {
        List<Arguments> cases = new ArrayList<>();
        for (GgmlType t : TYPES) {
            for (int c : BLOCK_COLS) cases.add(Arguments.of(t, c));
            if (!t.isQuantized()) for (int c : FLOAT_COLS) cases.add(Arguments.of(t, c));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} cols={1}")
    @MethodSource("matmulCases")
    void matmulMatchesScalar(GgmlType type, int cols) {
        var rnd = new SplittableRandom(cols * 31L + type.id);
        int rows = 5; // not a multiple of the 4-row tile: exercises the row tail
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = randomWeights(arena, type, rows, cols, rnd, false);
            for (int batch : BATCHES) checkMatmul(type, w, rows, cols, randomFloats(batch * cols, rnd, false), batch);
        }
    }

    /**
     * The GEMM's row tails (a block of 6-row tiles ends in a 4-row tile, a 2-row tile, a single dot
     * product, or nothing) and its column chunks, at batches that take the GEMM for every format
     * (Q8_0 from 32 rows) including a batch that is not a multiple of the 16 tile lanes, and batches of
     * at most 8 rows (padded to one 16-lane group) for the other formats.
     */
    @Test
    void gemmRowTailsAndChunksMatchScalar() {
        var rnd = new SplittableRandom(99);
        try (Arena arena = Arena.ofConfined()) {
            for (GgmlType type : new GgmlType[]{GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_0}) {
                for (int rows : new int[]{1, 2, 3, 7, 8, 9, 10, 64 + 3, 130}) {
                    int cols = 608;   // more than one 256-column chunk plus a 96-column rest
                    MemorySegment w = randomWeights(arena, type, rows, cols, rnd, false);
                    for (int batch : new int[]{5, 8, 9, 33, 48}) checkMatmul(type, w, rows, cols, randomFloats(batch * cols, rnd, false), batch);
                }
            }
        }
    }

    /**
     * Decode batches below 32 rows (the fused 8-, 4- and 2-row dots of Q8_0 and Q4_0; the K-quants' one-row
     * kernel when batch invariance is requested for them) give every row exactly what it gets alone: results do not depend on batching, also while the
     * kernels are still interpreted (this runs early in a fresh JVM).
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void smallBatchesGiveEachRowItsSingleRowResultBitForBit(GgmlType type) {
        // K-quant batches are invariant only on request (PanamaKQuant.BATCH_INVARIANT; the pom's kquant-invariant run)
        org.junit.jupiter.api.Assumptions.assumeTrue(type.blockSize != 256 || Boolean.getBoolean("kvserve.kquant.batchInvariant"),
                "K-quant decode batches are batch-invariant with -Dkvserve.kquant.batchInvariant=true");
        var rnd = new SplittableRandom(4242);
        // 37 rows: two full tiles of the packed eight-row dot and a partial one; computed in two row ranges
        // (as two threads would), the second starting inside a tile
        int rows = 37, cols = type.blockSize == 256 ? 768 : 576, split = 11;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = randomWeights(arena, type, rows, cols, rnd, false);
            for (int batch : new int[] {2, 3, 4, 6, 8, 9, 12, 15, 16, 23, 31}) {
                float[] x = randomFloats(batch * cols, rnd, false);
                float[] all = new float[batch * rows];
                Kernels.matmul(type, w, 0, cols, x, batch, all, rows, 0, split);
                Kernels.matmul(type, w, 0, cols, x, batch, all, rows, split, rows);
                // the same product from activations packed once by the caller (as ForwardPass does for its parallel parts)
                int packedRows = Kernels.packedRows(type, batch);
                assertThat(packedRows % 8).isZero();
                boolean packs = impl.name().equals("panama-256") && (type == GgmlType.Q8_0 || type == GgmlType.Q4_0);
                assertThat(packedRows).isEqualTo(packs ? batch / 8 * 8 : 0);
                float[] xp = packedRows == 0 ? null : new float[packedRows * cols];
                if (xp != null) Kernels.packActivations(x, packedRows, cols, xp);
                float[] viaPacked = new float[batch * rows];
                Kernels.matmul(type, w, 0, cols, x, xp, batch, viaPacked, rows, 0, split);
                Kernels.matmul(type, w, 0, cols, x, xp, batch, viaPacked, rows, split, rows);
                assertThat(viaPacked).as("batch %d from packed activations", batch).containsExactly(all);
                for (int b = 0; b < batch; b++) {
                    float[] one = new float[rows];
                    Kernels.matmul(type, w, 0, cols, java.util.Arrays.copyOfRange(x, b * cols, (b + 1) * cols), 1, one, rows, 0, rows);
                    for (int r = 0; r < rows; r++) assertThat(all[b * rows + r]).as("row %d of input %d in a batch of %d", r, b, batch).isEqualTo(one[r]);
                }
            }
        }
    }

    @Test
    void packActivationsRejectsBadShapes() {
        float[] x = new float[8 * 64], dst = new float[8 * 64];
        assertThatThrownBy(() -> Kernels.packActivations(x, 7, 64, dst)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 8");
        assertThatThrownBy(() -> Kernels.packActivations(x, 8, 48, dst)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 32");
        assertThatThrownBy(() -> Kernels.packActivations(x, 16, 64, dst)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fewer than");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void matmulExtremeValues(GgmlType type) {
        var rnd = new SplittableRandom(99 + type.id);
        int cols = type.isQuantized() ? 4096 + 32 : 1021;
        int rows = 9;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = randomWeights(arena, type, rows, cols, rnd, true);
            for (int batch : new int[] {1, 5}) checkMatmul(type, w, rows, cols, randomFloats(batch * cols, rnd, true), batch);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void matmulSubrangeAndStride(GgmlType type) {
        var rnd = new SplittableRandom(5 + type.id);
        int rows = 23, cols = 256, batch = 6, stride = rows + 5;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = randomWeights(arena, type, rows, cols, rnd, false);
            float[] x = randomFloats(batch * cols, rnd, false);
            float[] expected = new float[batch * stride], actual = new float[batch * stride];
            java.util.Arrays.fill(actual, 42f);
            java.util.Arrays.fill(expected, 42f);
            long base = 64; // weights start at an offset inside the segment
            MemorySegment shifted = arena.allocate(base + w.byteSize());
            MemorySegment.copy(w, 0, shifted, base, w.byteSize());
            scalar.matmul(type, shifted, base, cols, x, batch, expected, stride, 3, 18);
            Kernels.matmul(type, shifted, base, cols, x, batch, actual, stride, 3, 18);
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < stride; r++) {
                    int o = b * stride + r;
                    if (r < 3 || r >= 18) assertThat(actual[o]).as("untouched out[%d]", o).isEqualTo(42f);
                    else assertThat(actual[o]).as("out[%d]", o).isCloseTo(expected[o], org.assertj.core.data.Offset.offset(1e-3f * (1 + Math.abs(expected[o]))));
                }
            }
        }
    }

    static Stream<GgmlType> types() {
        return Stream.of(TYPES);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void dequantizeIsExact(GgmlType type) {
        var rnd = new SplittableRandom(17 + type.id);
        int n = type.isQuantized() ? 4096 + 32 : 4098;
        try (Arena arena = Arena.ofConfined()) {
            // arbitrary bytes, scales included: every bit pattern must decode as the scalar spec does
            MemorySegment src = arena.allocate(type.bytesFor(n) + 3);
            for (long i = 0; i < src.byteSize(); i++) src.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
            for (long off : new long[] {0, 3}) {
                float[] expected = new float[n + 2], actual = new float[n + 2];
                scalar.dequantizeRow(type, src, off, expected, 1, n);
                Kernels.dequantizeRow(type, src, off, actual, 1, n);
                assertThat(actual).as("%s at byte %d", type, off).containsExactly(expected);
            }
        }
    }

    @Test
    void everyHalfAndBfloat16Decodes() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment all = arena.allocate(2 * 65536);
            for (int i = 0; i < 65536; i++) all.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, (short) i);
            for (GgmlType t : new GgmlType[] {GgmlType.F16, GgmlType.BF16}) {
                float[] actual = new float[65536];
                Kernels.dequantizeRow(t, all, 0, actual, 0, 65536);
                for (int i = 0; i < 65536; i++) {
                    float e = t == GgmlType.F16 ? Float.float16ToFloat((short) i) : Float.intBitsToFloat(i << 16);
                    // NaN payloads: Float.float16ToFloat itself differs between interpreter and intrinsic (quiet bit)
                    boolean same = Float.isNaN(e) ? Float.isNaN(actual[i]) : Float.floatToRawIntBits(actual[i]) == Float.floatToRawIntBits(e);
                    if (!same) assertThat(actual[i]).as("%s 0x%04x", t, i).isEqualTo(e);
                }
            }
        }
    }

    @Test
    void dotAndAxpyMatchScalar() {
        var rnd = new SplittableRandom(3);
        for (int n : new int[] {0, 1, 7, 13, 31, 33, 64, 207, 1021, 4098}) {
            for (boolean extreme : new boolean[] {false, true}) {
                float[] a = randomFloats(n + 5, rnd, extreme), b = randomFloats(n + 9, rnd, extreme);
                float expected = scalar.dot(a, 2, b, 7, n);
                double tol = 0;
                for (int i = 0; i < n; i++) tol += Math.abs((double) a[2 + i] * b[7 + i]);
                assertThat((double) Kernels.dot(a, 2, b, 7, n)).as("dot n=%d", n).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-5 * tol + 1e-30));
                float[] y1 = randomFloats(n + 3, rnd, extreme), y2 = y1.clone();
                float alpha = (float) rnd.nextGaussian();
                scalar.axpy(alpha, a, 1, y1, 3, n);
                Kernels.axpy(alpha, a, 1, y2, 3, n);
                for (int i = 0; i < y1.length; i++) {
                    // FMA rounds once, the scalar spec twice: at most one rounding of the product apart
                    double slack = Math.ulp(y1[i]) + (i >= 3 ? 2 * Math.ulp(alpha * a[1 + i - 3]) : 0);
                    assertThat((double) y2[i]).as("axpy n=%d i=%d", n, i).isCloseTo(y1[i], org.assertj.core.data.Offset.offset(slack));
                }
            }
        }
    }

    @Test
    void attentionKernelsMatchScalar() {
        var rnd = new SplittableRandom(11);
        for (int hd : new int[]{8, 12, 64, 128}) {
            for (int n : new int[]{0, 1, 3, 4, 5, 17, 130}) {
                float[] q = randoms(rnd, 3 + hd), k = randoms(rnd, 2 + n * hd), p = randoms(rnd, 1 + n);
                float[] s1 = new float[n + 4], s2 = new float[n + 4];
                scalar.attentionScores(q, 3, k, 2, n, hd, 0.125f, s1, 4);
                Kernels.attentionScores(q, 3, k, 2, n, hd, 0.125f, s2, 4);
                for (int t = 0; t < n; t++) {
                    assertThat((double) s2[4 + t]).as("score hd=%d n=%d t=%d", hd, n, t)
                            .isCloseTo(s1[4 + t], org.assertj.core.data.Offset.offset(1e-5 * hd));
                }
                float[] o1 = randoms(new SplittableRandom(hd), hd + 5), o2 = o1.clone();
                scalar.weightedRowSum(p, 1, n, k, 2, hd, o1, 5);
                Kernels.weightedRowSum(p, 1, n, k, 2, hd, o2, 5);
                for (int c = 0; c < hd + 5; c++) {
                    assertThat((double) o2[c]).as("weighted sum hd=%d n=%d c=%d", hd, n, c)
                            .isCloseTo(o1[c], org.assertj.core.data.Offset.offset(1e-5 * (n + 1)));
                }
            }
        }
        for (int n : new int[]{1, 7, 8, 9, 64, 517}) {
            float[] x = randoms(rnd, n + 2);
            for (int i = 0; i < x.length; i++) x[i] *= 6f;
            float[] y = x.clone();
            Kernels.softmaxScalar(x, 1, n);
            Kernels.softmax(y, 1, n);
            double sum = 0;
            for (int i = 1; i <= n; i++) {
                assertThat((double) y[i]).as("softmax n=%d i=%d", n, i).isCloseTo(x[i], org.assertj.core.data.Offset.offset(2e-6 * Math.max(1e-3, x[i])));
                sum += y[i];
            }
            assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            assertThat(y[0]).isEqualTo(x[0]);
            assertThat(y[n + 1]).isEqualTo(x[n + 1]);
        }
        for (int n : new int[]{1, 7, 8, 9, 100}) {
            float[] g = randoms(rnd, n + 2), u = randoms(rnd, n + 2);
            for (int i = 0; i < g.length; i++) g[i] *= 8f;
            g[n] = -120f;   // e^120 overflows to infinity: silu must still be -0, not NaN
            float[] g2 = g.clone();
            Kernels.siluMulScalar(g, u, 1, n);
            Kernels.siluMul(g2, u, 1, n);
            for (int i = 0; i < n + 2; i++) {
                assertThat((double) g2[i]).as("siluMul n=%d i=%d", n, i).isCloseTo(g[i], org.assertj.core.data.Offset.offset(1e-6 * Math.max(1, Math.abs(g[i]))));
            }
        }
        float[] sg = {2f, -1f}, su = {3f, 1f};
        Kernels.siluMul(sg, su, 0, 2);
        assertThat((double) sg[0]).isCloseTo(2.0 / (1 + Math.exp(-2)) * 3, org.assertj.core.data.Offset.offset(1e-6));
        assertThat((double) sg[1]).isCloseTo(-1.0 / (1 + Math.exp(1)), org.assertj.core.data.Offset.offset(1e-6));
        float[] sm = {0f, (float) Math.log(3), Float.NEGATIVE_INFINITY, 0f, 0f, 0f, 0f, 0f, 0f};
        Kernels.softmax(sm, 0, 9);
        assertThat((double) sm[1]).isCloseTo(3.0 / 10, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(sm[2]).isZero();
        // a hand-computed case: two keys, one query, head size 8
        float[] q = {1, 0, 0, 0, 0, 0, 0, 2};
        float[] k = {1, 1, 1, 1, 1, 1, 1, 1, -1, 0, 0, 0, 0, 0, 0, 3};
        float[] s = new float[2];
        Kernels.attentionScores(q, 0, k, 0, 2, 8, 0.5f, s, 0);
        assertThat(s).containsExactly(1.5f, 2.5f);
        float[] out = new float[8];
        Kernels.weightedRowSum(new float[]{0.25f, 0.75f}, 0, 2, k, 0, 8, out, 0);
        assertThat(out).containsExactly(-0.5f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 2.5f);
    }

    private static float[] randoms(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    private void checkMatmul(GgmlType type, MemorySegment w, int rows, int cols, float[] x, int batch) {
        float[] expected = new float[batch * rows], actual = new float[batch * rows];
        scalar.matmul(type, w, 0, cols, x, batch, expected, rows, 0, rows);
        Kernels.matmul(type, w, 0, cols, x, batch, actual, rows, 0, rows);
        float[] row = new float[cols];
        long rowBytes = type.bytesFor(cols);
        for (int r = 0; r < rows; r++) {
            scalar.dequantizeRow(type, w, r * rowBytes, row, 0, cols);
            for (int b = 0; b < batch; b++) {
                double sumAbs = 0;
                for (int k = 0; k < cols; k++) sumAbs += Math.abs((double) row[k] * x[b * cols + k]);
                int o = b * rows + r;
                if (Math.abs((double) actual[o] - expected[o]) <= 2e-5 * sumAbs) continue;
                assertThat((double) actual[o])
                        .as("%s cols=%d batch=%d out[b=%d, r=%d]", type, cols, batch, b, r)
                        .isCloseTo(expected[o], org.assertj.core.data.Offset.offset(2e-5 * sumAbs + 1e-30));
            }
        }
    }

    /** Weights quantised from random floats; extreme: magnitudes from 1e-6 to 1e4 (F16-safe) and zero blocks. */
    static MemorySegment randomWeights(Arena arena, GgmlType type, int rows, int cols, SplittableRandom rnd, boolean extreme) {
        long rowBytes = type.bytesFor(cols);
        MemorySegment w = arena.allocate(rowBytes * rows);
        float[] src = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                src[k] = (float) rnd.nextGaussian() * 0.05f;
                if (extreme) {
                    int block = k / 32;
                    if (block % 7 == 3) src[k] = 0f;
                    else src[k] *= (float) Math.pow(10, (block + r) % 9 - 4);
                }
            }
            new ScalarKernels().quantizeRow(type, src, 0, w, r * rowBytes, cols);
        }
        return w;
    }

    static float[] randomFloats(int n, SplittableRandom rnd, boolean extreme) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
            if (extreme) {
                int kind = rnd.nextInt(8);
                if (kind == 0) x[i] = 0f;
                else if (kind == 1) x[i] *= 1e-30f;
                else if (kind == 2) x[i] *= 1e15f;
                else if (kind == 3) x[i] = Float.MIN_VALUE * rnd.nextInt(1, 100);
            }
        }
        return x;
    }
}
