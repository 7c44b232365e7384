package io.kvserve.kernels.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.kvserve.kernels.panama.VectorShapes.F;
import static io.kvserve.kernels.panama.VectorShapes.L;

/**
 * The matrix product {@code out[b * outStride + r] = dot(W row r, x[b * cols ..])}, for any
 * {@link BlockKernel}.
 *
 * <p>Small batches (decode) stream each weight row once through the format's fused
 * {@link BlockKernel#dot}: bandwidth bound. Larger batches (prefill) are compute bound and go through a
 * small GEMM in the BLIS style:
 * <ul>
 * <li>columns are cut into chunks of {@code KC}; per chunk the activations are transposed once into
 *     groups of 2L batch rows, k-major ({@code xt}), so that a group's chunk (16 KB) stays in L1;</li>
 * <li>weight rows are decoded to floats once per chunk, {@code MC} rows at a time (64 KB, L2);</li>
 * <li>register tiles of 6 weight rows by 2L batch rows (the batch rows in the lanes: broadcast one
 *     weight, FMA two activation vectors) sweep the block: 12 FMAs per 8 loads, no horizontal sums;</li>
 * <li>tile results accumulate across chunks in a row-major scratch ({@code acc}), copied to
 *     {@code out} at the end; the padded lanes of the last group are dropped then.</li>
 * </ul>
 * Rows left over in a block (fewer than 4) use dot products against the untransposed activations.
 */
final class PanamaMatmul {
    private PanamaMatmul() {}

    /** Below this batch, per-row fused dot products beat decoding to scratch. */
    static final int MIN_GEMM_BATCH = Integer.getInteger("kvserve.gemm.minBatch", 4);
    /** Columns per chunk (rounded down to the block size): a 2L-row activation group is KC * 2L floats. */
    static final int KC = Integer.getInteger("kvserve.gemm.kc", 256);
    /** Weight rows decoded per block: 64 rows of 256 floats is 64 KB, L2 resident. */
    static final int MC = Math.max(6, Integer.getInteger("kvserve.gemm.mc", 64));
    /** Upper bound of the per-thread result scratch, in floats (4 MB). */
    static final int ACC_FLOATS = Integer.getInteger("kvserve.gemm.accFloats", 1 << 20);

    static void matmul(BlockKernel k, MemorySegment w, long wOff, int cols,
                       float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        matmul(k, w, wOff, cols, x, null, batch, out, outStride, row0, row1);
    }

    /** As above; {@code xPacked}, when not null, holds the leading groups of eight rows of x already packed by {@link #pack8}. */
    static void matmul(BlockKernel k, MemorySegment w, long wOff, int cols,
                       float[] x, float[] xPacked, int batch, float[] out, int outStride, int row0, int row1) {
        long rowBytes = k.byteOffset(cols);
        if (batch < k.minGemmBatch()) {
            int b8 = batch / 8 * 8;
            int b4 = b8 + (batch - b8) / 4 * 4;
            int packed = 0;
            if (b8 > 0 && k.hasPackedDot8()) {
                float[] xp = xPacked;
                if (xp == null) {
                    xp = Scratch.packed(b8 * cols);
                    for (int b = 0; b < b8; b += 8) pack8(x, b * cols, cols, xp, b * cols);
                }
                // tiles of weight rows, so that with several groups of eight a tile is still in L1 for the next group
                for (int r0 = row0; r0 < row1; r0 += PACKED_ROW_TILE) {
                    int rows = Math.min(PACKED_ROW_TILE, row1 - r0);
                    for (int b = 0; b < b8; b += 8) k.dot8Packed(w, wOff + r0 * rowBytes, rowBytes, rows, xp, b * cols, cols, out, b * outStride + r0, outStride);
                }
                packed = b8;
            }
            for (int r = row0; r < row1; r++) {
                long ro = wOff + r * rowBytes;
                for (int b = packed; b < b8; b += 8) k.dot8(w, ro, x, b * cols, cols, cols, out, b * outStride + r, outStride);
                for (int b = b8; b < b4; b += 4) k.dot4(w, ro, x, b * cols, cols, cols, out, b * outStride + r, outStride);
                int b2 = b4;
                if (batch - b4 >= 2) {
                    k.dot2(w, ro, x, b4 * cols, cols, cols, out, b4 * outStride + r, outStride);
                    b2 += 2;
                }
                for (int b = b2; b < batch; b++) out[b * outStride + r] = k.dot(w, ro, x, b * cols, cols);
            }
            return;
        }
        // activation rows go in the lanes, 2L at a time; the last group is padded with zero activations
        int vec = (batch + 2 * L - 1) / (2 * L) * (2 * L);
        // rows per pass, so that the result scratch stays under ACC_FLOATS (a vocabulary-sized matrix at batch 512 would not)
        int pass = Math.max(MC, ACC_FLOATS / vec / MC * MC);
        for (int p0 = row0; p0 < row1; p0 += pass) {
            gemm(k, w, wOff, rowBytes, cols, x, batch, vec, out, outStride, p0, Math.min(row1, p0 + pass));
        }
    }

    /** Weight rows per {@link BlockKernel#dot8Packed} call: 16 rows of a 2,048-column Q8_0 matrix are 34 KB. */
    static final int PACKED_ROW_TILE = 16;

    /**
     * Interleaves activation rows {@code x[xOff + j * cols]}, j = 0..7, for {@link BlockKernel#dot8Packed}:
     * block i's chunk c (elements 8c..8c+7) of row j goes to {@code xp[xpOff + 256 i + 64 c + 8 j]}, so one
     * block of all eight rows is 1 KB in a row. 256-bit only (a chunk is one vector).
     */
    static void pack8(float[] x, int xOff, int cols, float[] xp, int xpOff) {
        for (int j = 0; j < 8; j++) {
            int src = xOff + j * cols, dst = xpOff + 8 * j;
            for (int c = 0; c < cols; c += 8) {
                // element c is chunk c/8 of block c/32: 256 (c/32) + 64 ((c/8) % 4) = 8c
                FloatVector.fromArray(F, x, src + c).intoArray(xp, dst + 8 * c);
            }
        }
    }

    private static void gemm(BlockKernel k, MemorySegment w, long wOff, long rowBytes, int cols, float[] x, int batch, int vec,
                             float[] out, int outStride, int row0, int row1) {
        int kc = Math.max(k.blockSize, KC / k.blockSize * k.blockSize);
        if (cols <= kc + kc / 2) kc = cols;
        int mc = Math.min(MC, row1 - row0);
        Scratch sc = Scratch.get(mc * kc, vec * kc, (row1 - row0) * vec);
        float[] panel = sc.panel, xt = sc.xt, acc = sc.acc;
        for (int k0 = 0; k0 < cols; k0 += kc) {
            int n = Math.min(kc, cols - k0);
            boolean first = k0 == 0;
            long chunk = wOff + k.byteOffset(k0);
            // this column chunk of the activations, k-major per group: xt[g * n + kk * 2L + j] = x[(g + j) * cols + k0 + kk]
            for (int g = 0; g < vec; g += 2 * L) {
                int base = g * n;
                for (int j = 0; j < 2 * L; j++) {
                    if (g + j < batch) {
                        int src = (g + j) * cols + k0;
                        for (int kk = 0; kk < n; kk++) xt[base + kk * 2 * L + j] = x[src + kk];
                    } else {
                        for (int kk = 0; kk < n; kk++) xt[base + kk * 2 * L + j] = 0f;
                    }
                }
            }
            for (int m0 = row0; m0 < row1; m0 += mc) {
                int m1 = Math.min(row1, m0 + mc);
                for (int r = m0; r < m1; r++) k.decode(w, chunk + r * rowBytes, panel, (r - m0) * kc, n);
                int f6 = m0 + (m1 - m0) / 6 * 6, f4 = tiledEnd(m0, m1);
                // one activation group (L1 resident) against every micro panel of the block (L2)
                for (int g = 0; g < vec; g += 2 * L) {
                    for (int r = m0; r < f6; r += 6) tile6(panel, (r - m0) * kc, kc, n, xt, g * n, acc, (r - row0) * vec + g, vec, first);
                    if (f4 - f6 >= 4) tile4(panel, (f6 - m0) * kc, kc, n, xt, g * n, acc, (f6 - row0) * vec + g, vec, first);
                    else if (f4 > f6) tile2(panel, (f6 - m0) * kc, kc, n, xt, g * n, acc, (f6 - row0) * vec + g, vec, first);
                }
                for (int r = f4; r < m1; r++) {
                    for (int b = 0; b < batch; b++) {
                        float s = PanamaFloat.dot(panel, (r - m0) * kc, x, b * cols + k0, n);
                        int o = b * outStride + r;
                        out[o] = first ? s : out[o] + s;
                    }
                }
            }
        }
        // results back to row-major out, 2L batch rows at a time: the out lines of one block (2L rows of
        // mc floats) stay in L1 until they are full, where a sweep over the whole batch per weight row
        // touched a line of every batch row each time (12% of a SmolLM2 prefill)
        for (int m0 = row0; m0 < row1; m0 += mc) {
            int m1 = Math.min(row1, m0 + mc), f4 = tiledEnd(m0, m1);
            for (int b0 = 0; b0 < batch; b0 += 2 * L) {
                int b1 = Math.min(batch, b0 + 2 * L);
                for (int r = m0; r < f4; r++) {
                    int a = (r - row0) * vec;
                    for (int b = b0; b < b1; b++) out[b * outStride + r] = acc[a + b];
                }
            }
        }
    }

    /** Rows [m0, end) of a block go through 6-row tiles and at most one 4-row or 2-row tile; the last row if any through dot products. */
    private static int tiledEnd(int m0, int m1) {
        int f6 = m0 + (m1 - m0) / 6 * 6;
        return m1 - f6 >= 4 ? f6 + 4 : m1 - f6 >= 2 ? f6 + 2 : f6;
    }

    /** Per-thread buffers: decoded weight block, transposed activation chunk, results (row-major, batch in lanes). */
    private static final class Scratch {
        private static final ThreadLocal<Scratch> TL = ThreadLocal.withInitial(Scratch::new);
        float[] panel = new float[0], xt = new float[0], acc = new float[0], packed = new float[0];

        static float[] packed(int size) {
            Scratch s = TL.get();
            if (s.packed.length < size) s.packed = new float[size];
            return s.packed;
        }

        static Scratch get(int panelSize, int xtSize, int accSize) {
            Scratch s = TL.get();
            if (s.panel.length < panelSize) s.panel = new float[panelSize];
            if (s.xt.length < xtSize) s.xt = new float[xtSize];
            if (s.acc.length < accSize) s.acc = new float[accSize];
            return s;
        }
    }

    /**
     * 6 weight rows times 2L activation rows, the activation rows in the lanes: per column, two vector
     * loads, six broadcast weights and twelve FMAs into 12 accumulators (15 of the 16 AVX2 registers),
     * no horizontal sums. Results go to {@code acc[ao + i * as + (0 .. 2L)]} for weight row i.
     */
    private static void tile6(float[] wp, int wo, int ws, int n, float[] xt, int xo, float[] acc, int ao, int as, boolean first) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int kk = 0; kk < n; kk++) {
            int xi = xo + kk * 2 * L;
            FloatVector x0 = FloatVector.fromArray(F, xt, xi);
            FloatVector x1 = FloatVector.fromArray(F, xt, xi + L);
            FloatVector w0 = FloatVector.broadcast(F, wp[wo + kk]);
            c00 = w0.fma(x0, c00);
            c01 = w0.fma(x1, c01);
            FloatVector w1 = FloatVector.broadcast(F, wp[wo + ws + kk]);
            c10 = w1.fma(x0, c10);
            c11 = w1.fma(x1, c11);
            FloatVector w2 = FloatVector.broadcast(F, wp[wo + 2 * ws + kk]);
            c20 = w2.fma(x0, c20);
            c21 = w2.fma(x1, c21);
            FloatVector w3 = FloatVector.broadcast(F, wp[wo + 3 * ws + kk]);
            c30 = w3.fma(x0, c30);
            c31 = w3.fma(x1, c31);
            FloatVector w4 = FloatVector.broadcast(F, wp[wo + 4 * ws + kk]);
            c40 = w4.fma(x0, c40);
            c41 = w4.fma(x1, c41);
            FloatVector w5 = FloatVector.broadcast(F, wp[wo + 5 * ws + kk]);
            c50 = w5.fma(x0, c50);
            c51 = w5.fma(x1, c51);
        }
        if (!first) {
            c00 = c00.add(FloatVector.fromArray(F, acc, ao)); c01 = c01.add(FloatVector.fromArray(F, acc, ao + L));
            c10 = c10.add(FloatVector.fromArray(F, acc, ao + as)); c11 = c11.add(FloatVector.fromArray(F, acc, ao + as + L));
            c20 = c20.add(FloatVector.fromArray(F, acc, ao + 2 * as)); c21 = c21.add(FloatVector.fromArray(F, acc, ao + 2 * as + L));
            c30 = c30.add(FloatVector.fromArray(F, acc, ao + 3 * as)); c31 = c31.add(FloatVector.fromArray(F, acc, ao + 3 * as + L));
            c40 = c40.add(FloatVector.fromArray(F, acc, ao + 4 * as)); c41 = c41.add(FloatVector.fromArray(F, acc, ao + 4 * as + L));
            c50 = c50.add(FloatVector.fromArray(F, acc, ao + 5 * as)); c51 = c51.add(FloatVector.fromArray(F, acc, ao + 5 * as + L));
        }
        c00.intoArray(acc, ao); c01.intoArray(acc, ao + L);
        c10.intoArray(acc, ao + as); c11.intoArray(acc, ao + as + L);
        c20.intoArray(acc, ao + 2 * as); c21.intoArray(acc, ao + 2 * as + L);
        c30.intoArray(acc, ao + 3 * as); c31.intoArray(acc, ao + 3 * as + L);
        c40.intoArray(acc, ao + 4 * as); c41.intoArray(acc, ao + 4 * as + L);
        c50.intoArray(acc, ao + 5 * as); c51.intoArray(acc, ao + 5 * as + L);
    }

    /** As {@link #tile6} for 2 weight rows (a block's remainder of 2 or 3 rows). */
    private static void tile2(float[] wp, int wo, int ws, int n, float[] xt, int xo, float[] acc, int ao, int as, boolean first) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00;
        for (int kk = 0; kk < n; kk++) {
            int xi = xo + kk * 2 * L;
            FloatVector x0 = FloatVector.fromArray(F, xt, xi);
            FloatVector x1 = FloatVector.fromArray(F, xt, xi + L);
            FloatVector w0 = FloatVector.broadcast(F, wp[wo + kk]);
            c00 = w0.fma(x0, c00);
            c01 = w0.fma(x1, c01);
            FloatVector w1 = FloatVector.broadcast(F, wp[wo + ws + kk]);
            c10 = w1.fma(x0, c10);
            c11 = w1.fma(x1, c11);
        }
        if (!first) {
            c00 = c00.add(FloatVector.fromArray(F, acc, ao)); c01 = c01.add(FloatVector.fromArray(F, acc, ao + L));
            c10 = c10.add(FloatVector.fromArray(F, acc, ao + as)); c11 = c11.add(FloatVector.fromArray(F, acc, ao + as + L));
        }
        c00.intoArray(acc, ao); c01.intoArray(acc, ao + L);
        c10.intoArray(acc, ao + as); c11.intoArray(acc, ao + as + L);
    }

    /** As {@link #tile6} for 4 weight rows (the block's remainder). */
    private static void tile4(float[] wp, int wo, int ws, int n, float[] xt, int xo, float[] acc, int ao, int as, boolean first) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int kk = 0; kk < n; kk++) {
            int xi = xo + kk * 2 * L;
            FloatVector x0 = FloatVector.fromArray(F, xt, xi);
            FloatVector x1 = FloatVector.fromArray(F, xt, xi + L);
            FloatVector w0 = FloatVector.broadcast(F, wp[wo + kk]);
            c00 = w0.fma(x0, c00);
            c01 = w0.fma(x1, c01);
            FloatVector w1 = FloatVector.broadcast(F, wp[wo + ws + kk]);
            c10 = w1.fma(x0, c10);
            c11 = w1.fma(x1, c11);
            FloatVector w2 = FloatVector.broadcast(F, wp[wo + 2 * ws + kk]);
            c20 = w2.fma(x0, c20);
            c21 = w2.fma(x1, c21);
            FloatVector w3 = FloatVector.broadcast(F, wp[wo + 3 * ws + kk]);
            c30 = w3.fma(x0, c30);
            c31 = w3.fma(x1, c31);
        }
        if (!first) {
            c00 = c00.add(FloatVector.fromArray(F, acc, ao)); c01 = c01.add(FloatVector.fromArray(F, acc, ao + L));
            c10 = c10.add(FloatVector.fromArray(F, acc, ao + as)); c11 = c11.add(FloatVector.fromArray(F, acc, ao + as + L));
            c20 = c20.add(FloatVector.fromArray(F, acc, ao + 2 * as)); c21 = c21.add(FloatVector.fromArray(F, acc, ao + 2 * as + L));
            c30 = c30.add(FloatVector.fromArray(F, acc, ao + 3 * as)); c31 = c31.add(FloatVector.fromArray(F, acc, ao + 3 * as + L));
        }
        c00.intoArray(acc, ao); c01.intoArray(acc, ao + L);
        c10.intoArray(acc, ao + as); c11.intoArray(acc, ao + as + L);
        c20.intoArray(acc, ao + 2 * as); c21.intoArray(acc, ao + 2 * as + L);
        c30.intoArray(acc, ao + 3 * as); c31.intoArray(acc, ao + 3 * as + L);
    }
}
