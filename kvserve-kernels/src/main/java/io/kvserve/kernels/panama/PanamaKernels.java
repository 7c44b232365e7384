package io.kvserve.kernels.panama;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.KernelSupport;
import io.kvserve.kernels.ScalarKernels;

import java.lang.foreign.MemorySegment;

/**
 * Vector API implementation. The width is fixed by {@link VectorShapes} from system property
 * {@code kvserve.vector.bits}; the constructor argument (the same property as parsed by
 * {@code Kernels}, -1 for the preferred width) must agree with it. Formats without a
 * {@link BlockKernel} fall back to the scalar specification.
 */
public final class PanamaKernels implements KernelSupport {
    private final ScalarKernels scalar = new ScalarKernels();

    public PanamaKernels(int bits) {
        if (bits > 0 && bits != VectorShapes.BITS) {
            throw new IllegalArgumentException("vector width " + bits + " requested but VectorShapes fixed " + VectorShapes.BITS
                    + " bits at class initialisation; set -Dkvserve.vector.bits=" + bits + " before the kernels load");
        }
    }

    /** The vector width in use, in bits. */
    public static int bits() {
        return VectorShapes.BITS;
    }

    @Override
    public String name() {
        return "panama-" + VectorShapes.BITS;
    }

    /** The vector kernels of a format, or null where only the scalar specification exists. */
    static BlockKernel kernelFor(GgmlType type) {
        return switch (type) {
            case F32 -> PanamaFloat.F32;
            case F16 -> PanamaFloat.F16;
            case BF16 -> PanamaFloat.BF16;
            case Q8_0 -> PanamaQ8.Q8_0;
            case Q4_0 -> PanamaQ4.Q4_0;
            case Q4_1 -> PanamaQ4.Q4_1;
            default -> null; // Q4_K, Q5_K, Q6_K: add `case Q4_K -> PanamaKQuant.Q4_K;` when they land
        };
    }

    @Override
    public void matmul(GgmlType type, MemorySegment w, long wOff, int cols, float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        switch (type) {
            case Q4_K, Q5_K, Q6_K -> PanamaKQuant.matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
            default -> {
                BlockKernel k = kernelFor(type);
                if (k == null) scalar.matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
                else PanamaMatmul.matmul(k, w, wOff, cols, x, batch, out, outStride, row0, row1);
            }
        }
    }

    @Override
    public int packedRows(GgmlType type, int batch) {
        BlockKernel k = kernelFor(type);
        return k != null && k.hasPackedDot8() && batch < k.minGemmBatch() ? batch / 8 * 8 : 0;
    }

    @Override
    public void packActivations(float[] x, int rows, int cols, float[] dst) {
        for (int b = 0; b < rows; b += 8) PanamaMatmul.pack8(x, b * cols, cols, dst, b * cols);
    }

    @Override
    public void matmul(GgmlType type, MemorySegment w, long wOff, int cols, float[] x, float[] xPacked, int batch, float[] out, int outStride, int row0, int row1) {
        if (xPacked == null || packedRows(type, batch) == 0) matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
        else PanamaMatmul.matmul(kernelFor(type), w, wOff, cols, x, xPacked, batch, out, outStride, row0, row1);
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return PanamaFloat.dot(a, aOff, b, bOff, n);
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        PanamaFloat.axpy(a, x, xOff, y, yOff, n);
    }

    @Override
    public void siluMul(float[] g, float[] u, int off, int n) {
        PanamaFloat.siluMul(g, u, off, n);
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        PanamaFloat.softmax(x, off, n);
    }

    @Override
    public void attentionScores(float[] q, int qOff, float[] k, int kOff, int n, int hd, float scale, float[] out, int outOff) {
        PanamaFloat.attentionScores(q, qOff, k, kOff, n, hd, scale, out, outOff);
    }

    @Override
    public void weightedRowSum(float[] p, int pOff, int n, float[] v, int vOff, int hd, float[] out, int outOff) {
        PanamaFloat.weightedRowSum(p, pOff, n, v, vOff, hd, out, outOff);
    }

    @Override
    public void dequantizeRow(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        BlockKernel k = kernelFor(type);
        if (k == null) {
            scalar.dequantizeRow(type, src, off, dst, dstOff, n);
        } else {
            k.decode(src, off, dst, dstOff, n);
        }
    }

    /** Quantisers stay scalar: they must match ggml's reference quantisers bit for bit and are not on a hot path. */
    @Override
    public void quantizeRow(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        scalar.quantizeRow(type, src, srcOff, dst, off, n);
    }

    @Override
    public void kvDecodeRow(int fmt, MemorySegment s, long off, float[] y, int yOff, int n) {
        switch (fmt) {
            case io.kvserve.kernels.kv.KvFormats.F16_ROW -> PanamaFloat.decodeHalf(s, off, y, yOff, n, false);
            case io.kvserve.kernels.kv.KvFormats.Q8_0_ROW -> {
                if (n % 32 == 0) PanamaQ8.Q8_0.decode(s, off, y, yOff, n);
                else scalar.kvDecodeRow(fmt, s, off, y, yOff, n);
            }
            case io.kvserve.kernels.kv.KvFormats.Q4_0_ROW -> {
                if (n % 32 == 0) PanamaQ4.Q4_0.decode(s, off, y, yOff, n);
                else scalar.kvDecodeRow(fmt, s, off, y, yOff, n);
            }
            default -> scalar.kvDecodeRow(fmt, s, off, y, yOff, n);
        }
    }

    @Override
    public void kiviKeyScores(MemorySegment s, long off, int n, int g, int bits, int meta, float[] q, int qOff, float scale,
                              float[] out, int outOff, int count) {
        PanamaKivi.keyScores(s, off, n, g, bits, meta, q, qOff, scale, out, outOff, count);
    }

    @Override
    public void kiviDecodeValue(MemorySegment s, long off, int n, int bits, int meta, float[] y, int yOff) {
        PanamaKivi.decodeValue(s, off, n, bits, meta, y, yOff);
    }
}
