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
 * <p>Small batches (decode) stream each weight row once through the format's fused {@link BlockKernel#dot}:
 * bandwidth bound. Larger batches (prefill) are compute bound: the weights are cut into panels of
 * {@value #MR} rows by {@code kc} columns, each panel is decoded to floats once into a per-thread
 * scratch (L1 resident), then register tiles of {@value #MR} weight rows by {@value #NB} activation rows
 * (12 accumulators) sweep it for every activation row. The column chunk keeps the activation slice
 * ({@code batch * kc} floats) in L2 across all row panels, so activations come from L3 about once.
 */
final class PanamaMatmul {
    private PanamaMatmul() {}

    /** Weight rows per register tile and panel. */
    static final int MR = 4;
    /** Below this batch, per-row fused dot products beat decoding to scratch. */
    static final int MIN_GEMM_BATCH = Integer.getInteger("kvserve.gemm.minBatch", 4);
    /** Columns per panel (rounded down to the block size); 4 rows of 512 floats is 8 KB of scratch. */
    static final boolean LANES = Boolean.parseBoolean(System.getProperty("kvserve.gemm.lanes", "true"));
    static final int KC = Integer.getInteger("kvserve.gemm.kc", 256);
    /** Weight rows decoded per block (L2 resident: 64 rows of 256 floats is 64 KB). */
    static final int MC = Math.max(MR, Integer.getInteger("kvserve.gemm.mc", 64) / MR * MR);

    static void matmul(BlockKernel k, MemorySegment w, long wOff, int cols,
                       float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        long rowBytes = k.byteOffset(cols);
        if (batch < MIN_GEMM_BATCH) {
            for (int r = row0; r < row1; r++) {
                long ro = wOff + r * rowBytes;
                for (int b = 0; b < batch; b++) out[b * outStride + r] = k.dot(w, ro, x, b * cols, cols);
            }
            return;
        }
        int kc = Math.max(k.blockSize, KC / k.blockSize * k.blockSize);
        if (cols <= kc + kc / 2) kc = cols;
        int mc = Math.min(MC, row1 - row0);
        Scratch sc = Scratch.get(mc * kc, batch * kc);
        float[] panel = sc.panel, xt = sc.xt, tmp = sc.tmp;
        int wide = LANES ? batch / (2 * L) * (2 * L) : 0;          // activation rows done 2L at a time (lanes = batch rows)
        int narrow = LANES ? (batch - wide) / L * L : 0;            // then L at a time
        int vec = wide + narrow;                        // the rest, < L rows, as dot products
        for (int k0 = 0; k0 < cols; k0 += kc) {
            int n = Math.min(kc, cols - k0);
            boolean first = k0 == 0;
            long chunk = wOff + k.byteOffset(k0);
            // activations of this column chunk, k-major per group: xt[g * n + kk * gw + j] = x[(g + j) * cols + k0 + kk]
            for (int g = 0; g < vec; ) {
                int gw = g < wide ? 2 * L : L;
                int base = g * n;
                for (int j = 0; j < gw; j++) {
                    int src = (g + j) * cols + k0;
                    for (int kk = 0; kk < n; kk++) xt[base + kk * gw + j] = x[src + kk];
                }
                g += gw;
            }
            for (int m0 = row0; m0 < row1; m0 += mc) {
                int m1 = Math.min(row1, m0 + mc);
                for (int r = m0; r < m1; r++) k.decode(w, chunk + r * rowBytes, panel, (r - m0) * kc, n);
                int full = m0 + (m1 - m0) / MR * MR;
                // one activation group (L1 resident) against every 4-row micro panel of the block (L2)
                for (int b = 0; b < wide; b += 2 * L) {
                    for (int r = m0; r < full; r += MR) tile4xWide(panel, (r - m0) * kc, kc, n, xt, b * n, tmp, out, b, outStride, r, first);
                }
                if (narrow > 0) {
                    for (int r = m0; r < full; r += MR) tile4xNarrow(panel, (r - m0) * kc, kc, n, xt, wide * n, tmp, out, wide, outStride, r, first);
                }
                for (int r = m0; r < full; r += MR) {
                    int wo = (r - m0) * kc;
                    int b = vec;
                    for (; b + 2 <= batch; b += 2) tile4x2(panel, wo, kc, n, x, b * cols + k0, cols, out, b * outStride + r, outStride, first);
                    for (; b < batch; b++) tile4x1(panel, wo, kc, n, x, b * cols + k0, out, b * outStride + r, first);
                }
                for (int r = full; r < m1; r++) {
                    for (int b = 0; b < batch; b++) {
                        float s = PanamaFloat.dot(panel, (r - m0) * kc, x, b * cols + k0, n);
                        int o = b * outStride + r;
                        out[o] = first ? s : out[o] + s;
                    }
                }
            }
        }
    }

    /** Per-thread buffers: the decoded weight panel, the transposed activation chunk, one tile of results. */
    private static final class Scratch {
        private static final ThreadLocal<Scratch> TL = ThreadLocal.withInitial(Scratch::new);
        float[] panel = new float[0], xt = new float[0];
        final float[] tmp = new float[2 * L];

        static Scratch get(int panelSize, int xtSize) {
            Scratch s = TL.get();
            if (s.panel.length < panelSize) s.panel = new float[panelSize];
            if (s.xt.length < xtSize) s.xt = new float[xtSize];
            return s;
        }
    }

    /**
     * 4 weight rows times 2L activation rows, the activation rows in the lanes: per column, two vector
     * loads, four broadcast weights and eight FMAs, no horizontal sums, 8 accumulators (11 registers).
     */
    private static void tile4xWide(float[] wp, int wo, int ws, int n, float[] xt, int xo, float[] tmp,
                                   float[] out, int b0, int os, int r, boolean first) {
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
        scatter(c00, c01, tmp, out, b0, os, r, first);
        scatter(c10, c11, tmp, out, b0, os, r + 1, first);
        scatter(c20, c21, tmp, out, b0, os, r + 2, first);
        scatter(c30, c31, tmp, out, b0, os, r + 3, first);
    }

    /** As {@link #tile4xWide} for L activation rows. */
    private static void tile4xNarrow(float[] wp, int wo, int ws, int n, float[] xt, int xo, float[] tmp,
                                     float[] out, int b0, int os, int r, boolean first) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        for (int kk = 0; kk < n; kk++) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo + kk * L);
            c0 = FloatVector.broadcast(F, wp[wo + kk]).fma(x0, c0);
            c1 = FloatVector.broadcast(F, wp[wo + ws + kk]).fma(x0, c1);
            c2 = FloatVector.broadcast(F, wp[wo + 2 * ws + kk]).fma(x0, c2);
            c3 = FloatVector.broadcast(F, wp[wo + 3 * ws + kk]).fma(x0, c3);
        }
        c0.intoArray(tmp, 0);
        for (int j = 0; j < L; j++) add(out, (b0 + j) * os + r, tmp[j], first);
        c1.intoArray(tmp, 0);
        for (int j = 0; j < L; j++) add(out, (b0 + j) * os + r + 1, tmp[j], first);
        c2.intoArray(tmp, 0);
        for (int j = 0; j < L; j++) add(out, (b0 + j) * os + r + 2, tmp[j], first);
        c3.intoArray(tmp, 0);
        for (int j = 0; j < L; j++) add(out, (b0 + j) * os + r + 3, tmp[j], first);
    }

    /** Lanes of (c0, c1) are the results of batch rows b0 .. b0 + 2L for weight row r. */
    private static void scatter(FloatVector c0, FloatVector c1, float[] tmp, float[] out, int b0, int os, int r, boolean first) {
        c0.intoArray(tmp, 0);
        c1.intoArray(tmp, L);
        for (int j = 0; j < 2 * L; j++) add(out, (b0 + j) * os + r, tmp[j], first);
    }

    private static void add(float[] out, int o, float v, boolean first) {
        out[o] = first ? v : out[o] + v;
    }

    /** 4 weight rows times 2 activation rows. */
    private static void tile4x2(float[] wp, int wo, int ws, int n, float[] x, int xo, int xs,
                                float[] out, int oo, int os, boolean first) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00;
        FloatVector a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00;
        int i = 0;
        for (int upper = n - L; i <= upper; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + xs + i);
            FloatVector w0 = FloatVector.fromArray(F, wp, wo + i);
            a00 = w0.fma(x0, a00);
            a01 = w0.fma(x1, a01);
            FloatVector w1 = FloatVector.fromArray(F, wp, wo + ws + i);
            a10 = w1.fma(x0, a10);
            a11 = w1.fma(x1, a11);
            FloatVector w2 = FloatVector.fromArray(F, wp, wo + 2 * ws + i);
            a20 = w2.fma(x0, a20);
            a21 = w2.fma(x1, a21);
            FloatVector w3 = FloatVector.fromArray(F, wp, wo + 3 * ws + i);
            a30 = w3.fma(x0, a30);
            a31 = w3.fma(x1, a31);
        }
        float s00 = a00.reduceLanes(VectorOperators.ADD), s01 = a01.reduceLanes(VectorOperators.ADD);
        float s10 = a10.reduceLanes(VectorOperators.ADD), s11 = a11.reduceLanes(VectorOperators.ADD);
        float s20 = a20.reduceLanes(VectorOperators.ADD), s21 = a21.reduceLanes(VectorOperators.ADD);
        float s30 = a30.reduceLanes(VectorOperators.ADD), s31 = a31.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float w0 = wp[wo + i], w1 = wp[wo + ws + i], w2 = wp[wo + 2 * ws + i], w3 = wp[wo + 3 * ws + i];
            float x0 = x[xo + i], x1 = x[xo + xs + i];
            s00 += w0 * x0; s10 += w1 * x0; s20 += w2 * x0; s30 += w3 * x0;
            s01 += w0 * x1; s11 += w1 * x1; s21 += w2 * x1; s31 += w3 * x1;
        }
        put4(out, oo, s00, s10, s20, s30, first);
        put4(out, oo + os, s01, s11, s21, s31, first);
    }

    /** 4 weight rows times 1 activation row. */
    private static void tile4x1(float[] wp, int wo, int ws, int n, float[] x, int xo, float[] out, int oo, boolean first) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int upper = n - L; i <= upper; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            a0 = FloatVector.fromArray(F, wp, wo + i).fma(x0, a0);
            a1 = FloatVector.fromArray(F, wp, wo + ws + i).fma(x0, a1);
            a2 = FloatVector.fromArray(F, wp, wo + 2 * ws + i).fma(x0, a2);
            a3 = FloatVector.fromArray(F, wp, wo + 3 * ws + i).fma(x0, a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float x0 = x[xo + i];
            s0 += wp[wo + i] * x0; s1 += wp[wo + ws + i] * x0; s2 += wp[wo + 2 * ws + i] * x0; s3 += wp[wo + 3 * ws + i] * x0;
        }
        put4(out, oo, s0, s1, s2, s3, first);
    }

    private static void put4(float[] out, int o, float s0, float s1, float s2, float s3, boolean first) {
        if (first) {
            out[o] = s0; out[o + 1] = s1; out[o + 2] = s2; out[o + 3] = s3;
        } else {
            out[o] += s0; out[o + 1] += s1; out[o + 2] += s2; out[o + 3] += s3;
        }
    }
}
