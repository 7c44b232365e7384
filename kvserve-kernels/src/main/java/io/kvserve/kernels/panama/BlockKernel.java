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

    /**
     * Whether {@link #dot8Packed} exists for this format at this vector width. The packed form reads eight
     * activation rows interleaved by {@link PanamaMatmul#pack8} (one running index with constant offsets),
     * so that C2 needs one range check instead of 32 and keeps no row pointers on the stack.
     */
    boolean hasPackedDot8() {
        return false;
    }

    /**
     * {@link #dot8} for {@code rows} consecutive weight rows ({@code rowBytes} apart, the first at byte
     * {@code off}) against eight activation rows packed by {@link PanamaMatmul#pack8} at {@code xp[xpOff]}.
     * Weight row {@code r}, activation row {@code j} goes to {@code out[outOff + r + j * outStride]}; each
     * result must equal {@link #dot} of that pair exactly.
     */
    void dot8Packed(MemorySegment w, long off, long rowBytes, int rows, float[] xp, int xpOff, int n, float[] out, int outOff, int outStride) {
        throw new UnsupportedOperationException("no packed eight-row dot for this format");
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
