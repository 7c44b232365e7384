package io.kvserve.kernels.quant;

import io.kvserve.kernels.GgmlType;

import java.lang.foreign.MemorySegment;

/** Q8_0, Q4_0 and Q4_1: 32-element blocks with an F16 scale (and an F16 minimum for Q4_1). */
final class LegacyQuants {
    private LegacyQuants() {}

    static void dequantize(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        throw new UnsupportedOperationException("TODO " + type);
    }

    static void quantize(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        throw new UnsupportedOperationException("TODO " + type);
    }
}
