package io.kvserve.kernels.quant;

import io.kvserve.kernels.GgmlType;

import java.lang.foreign.MemorySegment;

/** Q4_K, Q5_K and Q6_K: 256-element super-blocks with 6-bit (or 8-bit) sub-block scales. */
final class KQuants {
    private KQuants() {}

    static void dequantize(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        throw new UnsupportedOperationException("TODO " + type);
    }

    static void quantize(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        throw new UnsupportedOperationException("TODO " + type);
    }
}
