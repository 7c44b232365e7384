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
    /** Activation rows per register tile. */
    static final int NB = 3;
    /** Below this batch, per-row fused dot products beat decoding to scratch. */
    static final int MIN_GEMM_BATCH = Integer.getInteger("kvserve.gemm.minBatch", 4);
    /** Columns per panel (rounded down to the block size); 4 rows of 512 floats is 8 KB of scratch. */
    static final int KC = Integer.getInteger("kvserve.gemm.kc", 512);

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

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
        float[] panel = SCRATCH.get();
        if (panel.length < MR * kc) {
            panel = new float[MR * kc];
            SCRATCH.set(panel);
        }
        for (int k0 = 0; k0 < cols; k0 += kc) {
            int n = Math.min(kc, cols - k0);
            boolean first = k0 == 0;
            long chunk = wOff + k.byteOffset(k0);
            int r = row0;
            for (; r + MR <= row1; r += MR) {
                for (int i = 0; i < MR; i++) k.decode(w, chunk + (r + i) * rowBytes, panel, i * kc, n);
                int b = 0;
                for (; b + NB <= batch; b += NB) tile4x3(panel, kc, n, x, b * cols + k0, cols, out, b * outStride + r, outStride, first);
                for (; b < batch; b++) tile4x1(panel, kc, n, x, b * cols + k0, out, b * outStride + r, first);
            }
            for (; r < row1; r++) {
                k.decode(w, chunk + r * rowBytes, panel, 0, n);
                for (int b = 0; b < batch; b++) {
                    float s = PanamaFloat.dot(panel, 0, x, b * cols + k0, n);
                    int o = b * outStride + r;
                    out[o] = first ? s : out[o] + s;
                }
            }
        }
    }

    /** 4 weight rows (panel rows 0..3, stride ws) times 3 activation rows (stride xs), n columns. */
    private static void tile4x3(float[] wp, int ws, int n, float[] x, int xo, int xs,
                                float[] out, int oo, int os, boolean first) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00;
        int i = 0;
        for (int upper = n - L; i <= upper; i += L) {
            FloatVector w0 = FloatVector.fromArray(F, wp, i);
            FloatVector w1 = FloatVector.fromArray(F, wp, ws + i);
            FloatVector w2 = FloatVector.fromArray(F, wp, 2 * ws + i);
            FloatVector w3 = FloatVector.fromArray(F, wp, 3 * ws + i);
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            a00 = w0.fma(x0, a00);
            a10 = w1.fma(x0, a10);
            a20 = w2.fma(x0, a20);
            a30 = w3.fma(x0, a30);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + xs + i);
            a01 = w0.fma(x1, a01);
            a11 = w1.fma(x1, a11);
            a21 = w2.fma(x1, a21);
            a31 = w3.fma(x1, a31);
            FloatVector x2 = FloatVector.fromArray(F, x, xo + 2 * xs + i);
            a02 = w0.fma(x2, a02);
            a12 = w1.fma(x2, a12);
            a22 = w2.fma(x2, a22);
            a32 = w3.fma(x2, a32);
        }
        float s00 = a00.reduceLanes(VectorOperators.ADD), s01 = a01.reduceLanes(VectorOperators.ADD), s02 = a02.reduceLanes(VectorOperators.ADD);
        float s10 = a10.reduceLanes(VectorOperators.ADD), s11 = a11.reduceLanes(VectorOperators.ADD), s12 = a12.reduceLanes(VectorOperators.ADD);
        float s20 = a20.reduceLanes(VectorOperators.ADD), s21 = a21.reduceLanes(VectorOperators.ADD), s22 = a22.reduceLanes(VectorOperators.ADD);
        float s30 = a30.reduceLanes(VectorOperators.ADD), s31 = a31.reduceLanes(VectorOperators.ADD), s32 = a32.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float w0 = wp[i], w1 = wp[ws + i], w2 = wp[2 * ws + i], w3 = wp[3 * ws + i];
            float x0 = x[xo + i], x1 = x[xo + xs + i], x2 = x[xo + 2 * xs + i];
            s00 += w0 * x0; s10 += w1 * x0; s20 += w2 * x0; s30 += w3 * x0;
            s01 += w0 * x1; s11 += w1 * x1; s21 += w2 * x1; s31 += w3 * x1;
            s02 += w0 * x2; s12 += w1 * x2; s22 += w2 * x2; s32 += w3 * x2;
        }
        put4(out, oo, s00, s10, s20, s30, first);
        put4(out, oo + os, s01, s11, s21, s31, first);
        put4(out, oo + 2 * os, s02, s12, s22, s32, first);
    }

    /** 4 weight rows times 1 activation row. */
    private static void tile4x1(float[] wp, int ws, int n, float[] x, int xo, float[] out, int oo, boolean first) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int upper = n - L; i <= upper; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            a0 = FloatVector.fromArray(F, wp, i).fma(x0, a0);
            a1 = FloatVector.fromArray(F, wp, ws + i).fma(x0, a1);
            a2 = FloatVector.fromArray(F, wp, 2 * ws + i).fma(x0, a2);
            a3 = FloatVector.fromArray(F, wp, 3 * ws + i).fma(x0, a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float x0 = x[xo + i];
            s0 += wp[i] * x0; s1 += wp[ws + i] * x0; s2 += wp[2 * ws + i] * x0; s3 += wp[3 * ws + i] * x0;
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
