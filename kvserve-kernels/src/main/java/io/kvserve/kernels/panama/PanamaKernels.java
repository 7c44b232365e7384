package io.kvserve.kernels.panama;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.KernelSupport;
import io.kvserve.kernels.ScalarKernels;

import java.lang.foreign.MemorySegment;

/** Vector API implementation. Constructed with the forced width in bits, or -1 for the preferred width. */
public final class PanamaKernels implements KernelSupport {
    private final ScalarKernels scalar = new ScalarKernels();
    private final int bits;

    public PanamaKernels(int bits) {
        this.bits = bits > 0 ? bits : VectorShapes.preferredBits();
        VectorShapes.init(this.bits);
    }

    @Override
    public String name() {
        return "panama-" + bits;
    }

    @Override
    public void matmul(GgmlType type, MemorySegment w, long wOff, int cols, float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        switch (type) {
            case Q4_K, Q5_K, Q6_K -> PanamaKQuant.matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
            default -> scalar.matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return scalar.dot(a, aOff, b, bOff, n);
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        scalar.axpy(a, x, xOff, y, yOff, n);
    }

    @Override
    public void dequantizeRow(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        scalar.dequantizeRow(type, src, off, dst, dstOff, n);
    }

    @Override
    public void quantizeRow(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        scalar.quantizeRow(type, src, srcOff, dst, off, n);
    }
}
