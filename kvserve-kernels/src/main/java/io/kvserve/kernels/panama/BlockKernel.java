package io.kvserve.kernels.panama;

import java.lang.foreign.MemorySegment;

/**
 * The vector kernels of one weight format, the part of a matrix product that depends on the byte
 * layout. {@link PanamaMatmul} drives them: {@link #dot} for decode (one activation row: stream the
 * weights once, bandwidth bound) and {@link #decode} for prefill (expand a chunk of weight rows to
 * floats once, then reuse it for every activation row of the batch, compute bound).
 */
abstract class BlockKernel {
    /** Elements per block and bytes per block of the format. */
    final int blockSize;
    final int blockBytes;

    BlockKernel(int blockSize, int blockBytes) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** Dot product of {@code n} weights at byte {@code off} (a multiple of the block size) with {@code x[xOff, xOff+n)}. */
    abstract float dot(MemorySegment w, long off, float[] x, int xOff, int n);

    /**
     * Dot products of one weight row with four activation rows at {@code x[xOff + j * xStride]}, into
     * {@code out[outOff + j * outStride]}. Formats that can convert each weight block once for all four
     * override it; each result must equal {@link #dot} of that row exactly.
     */
    void dot4(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
        for (int j = 0; j < 4; j++) out[outOff + j * outStride] = dot(w, off, x, xOff + j * xStride, n);
    }

    /** As {@link #dot4} for eight activation rows. */
    void dot8(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
        dot4(w, off, x, xOff, xStride, n, out, outOff, outStride);
        dot4(w, off, x, xOff + 4 * xStride, xStride, n, out, outOff + 4 * outStride, outStride);
    }

    /** As {@link #dot4} for two activation rows. */
    void dot2(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
        for (int j = 0; j < 2; j++) out[outOff + j * outStride] = dot(w, off, x, xOff + j * xStride, n);
    }

    /** Batches below this take per-row dot products (grouped by eight, four and two through {@link #dot8}, {@link #dot4} and {@link #dot2}) instead of the GEMM. */
    int minGemmBatch() {
        return PanamaMatmul.MIN_GEMM_BATCH;
    }

    /** Expands {@code n} weights at byte {@code off} into {@code dst[dstOff, dstOff+n)}, exactly as the scalar decoder does. */
    abstract void decode(MemorySegment w, long off, float[] dst, int dstOff, int n);

    /** Byte offset of element {@code k} (a multiple of the block size) within a row. */
    final long byteOffset(int k) {
        return (long) (k / blockSize) * blockBytes;
    }
}
