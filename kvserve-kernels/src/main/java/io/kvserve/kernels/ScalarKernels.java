package io.kvserve.kernels;

import io.kvserve.kernels.quant.BlockFormats;

import java.lang.foreign.MemorySegment;

/**
 * The scalar implementation: plain loops, no Vector API. It is the specification that every fast
 * path is compared with, and the fallback when the Vector API is missing.
 */
public final class ScalarKernels implements KernelSupport {
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void matmul(GgmlType type, MemorySegment w, long wOff, int cols,
                       float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        float[] row = ROW.get();
        if (row.length < cols) {
            row = new float[cols];
            ROW.set(row);
        }
        long rowBytes = type.bytesFor(cols);
        for (int r = row0; r < row1; r++) {
            BlockFormats.dequantize(type, w, wOff + r * rowBytes, row, 0, cols);
            for (int b = 0; b < batch; b++) {
                out[b * outStride + r] = dot(row, 0, x, b * cols, cols);
            }
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    @Override
    public void dequantizeRow(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        BlockFormats.dequantize(type, src, off, dst, dstOff, n);
    }

    @Override
    public void quantizeRow(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        BlockFormats.quantize(type, src, srcOff, dst, off, n);
    }
}
