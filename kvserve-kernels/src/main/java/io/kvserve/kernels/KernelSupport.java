package io.kvserve.kernels;

import java.lang.foreign.MemorySegment;

/**
 * One implementation of the numeric kernels (scalar, or Panama Vector API). Arguments are checked by
 * {@link Kernels}; implementations trust them. Weight matrices are row-major: row {@code r} of a
 * matrix with {@code cols} columns starts at byte {@code wOff + r * type.bytesFor(cols)}.
 */
public interface KernelSupport {
    /** A short name for logs and benchmark reports, e.g. "scalar" or "panama-256". */
    String name();

    /**
     * Batched matrix product: for every batch row b in [0, batch) and weight row r in [row0, row1),
     * {@code out[b * outStride + r] = sum_k W[r, k] * x[b * cols + k]}.
     */
    void matmul(GgmlType type, MemorySegment w, long wOff, int cols,
                float[] x, int batch, float[] out, int outStride, int row0, int row1);

    /** Dot product of two float arrays. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code y[yOff + i] += a * x[xOff + i]}. */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n);

    /** Decodes {@code n} elements (a multiple of the block size) starting at byte {@code off}. */
    void dequantizeRow(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n);

    /** Encodes {@code n} floats into {@code type} at byte {@code off} (the inverse of dequantizeRow, lossy). */
    void quantizeRow(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n);
}
