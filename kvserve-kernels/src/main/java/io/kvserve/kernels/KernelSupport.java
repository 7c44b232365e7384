package io.kvserve.kernels;

import io.kvserve.kernels.kv.KvFormats;

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

    /**
     * How many leading activation rows (a multiple of eight, possibly 0) {@link #matmul} of this type at
     * this batch reads through eight-row decode dots that take the activations packed by
     * {@link #packActivations}. A caller that runs one product in several parallel parts packs once and
     * hands the copy to every part, instead of each part packing it again.
     */
    default int packedRows(GgmlType type, int batch) {
        return 0;
    }

    /** Packs rows [0, rows) of {@code x} ({@code cols} floats each, rows a multiple of eight) into {@code dst} ({@code rows * cols} floats). */
    default void packActivations(float[] x, int rows, int cols, float[] dst) {
        throw new UnsupportedOperationException(name() + " does not pack activations");
    }

    /**
     * {@link #matmul} with the first {@link #packedRows} rows of {@code x} also given packed in
     * {@code xPacked} (from {@link #packActivations} of the same {@code x}), or {@code null} to pack here.
     */
    default void matmul(GgmlType type, MemorySegment w, long wOff, int cols, float[] x, float[] xPacked,
                        int batch, float[] out, int outStride, int row0, int row1) {
        matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
    }

    /** Dot product of two float arrays. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code y[yOff + i] += a * x[xOff + i]}. */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * Attention scores of one query against {@code n} key rows stored back to back:
     * {@code out[outOff + t] = scale * dot(q[qOff, qOff + hd), k[kOff + t * hd, kOff + (t + 1) * hd))}.
     */
    default void attentionScores(float[] q, int qOff, float[] k, int kOff, int n, int hd, float scale, float[] out, int outOff) {
        for (int t = 0; t < n; t++) out[outOff + t] = dot(q, qOff, k, kOff + t * hd, hd) * scale;
    }

    /**
     * Adds the probability-weighted sum of {@code n} value rows stored back to back to {@code out}:
     * {@code out[outOff + c] += sum_t p[pOff + t] * v[vOff + t * hd + c]} for c in [0, hd).
     */
    default void weightedRowSum(float[] p, int pOff, int n, float[] v, int vOff, int hd, float[] out, int outOff) {
        for (int t = 0; t < n; t++) axpy(p[pOff + t], v, vOff + t * hd, out, outOff, hd);
    }

    /** {@code g[i] = silu(g[i]) * u[i]} for i in [off, off+n). */
    default void siluMul(float[] g, float[] u, int off, int n) {
        Kernels.siluMulScalar(g, u, off, n);
    }

    /** In-place softmax over {@code x[off, off+n)}. */
    default void softmax(float[] x, int off, int n) {
        Kernels.softmaxScalar(x, off, n);
    }

    /** Decodes {@code n} elements (a multiple of the block size) starting at byte {@code off}. */
    void dequantizeRow(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n);

    /** Encodes {@code n} floats into {@code type} at byte {@code off} (the inverse of dequantizeRow, lossy). */
    void quantizeRow(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n);

    /** Decodes one KV-cache row of {@code n} elements in row format {@code fmt}, see {@link KvFormats}. */
    default void kvDecodeRow(int fmt, MemorySegment s, long off, float[] y, int yOff, int n) {
        KvFormats.decodeRow(fmt, s, off, y, yOff, n);
    }

    /** Scores of one query against a KIVI key group, see {@link KvFormats#keyGroupScores}. */
    default void kiviKeyScores(MemorySegment s, long off, int n, int g, int bits, int meta, float[] q, int qOff, float scale,
                               float[] out, int outOff, int count) {
        KvFormats.keyGroupScores(s, off, n, g, bits, meta, q, qOff, scale, out, outOff, count);
    }

    /** Decodes one KIVI value row, see {@link KvFormats#decodeValue}. */
    default void kiviDecodeValue(MemorySegment s, long off, int n, int bits, int meta, float[] y, int yOff) {
        KvFormats.decodeValue(s, off, n, bits, meta, y, yOff);
    }
}
