package io.kvserve.kernels.quant;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.UnsupportedTensorTypeException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Scalar encoders and decoders of every supported block format, dispatched by type. Byte layouts
 * follow ggml exactly (little endian), so files written here load in llama.cpp and vice versa.
 */
public final class BlockFormats {
    private BlockFormats() {}

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    public static void dequantize(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(src, F32, off, dst, dstOff, n);
            case F16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(src.get(I16, off + 2L * i));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat((src.get(I16, off + 2L * i) & 0xFFFF) << 16);
            }
            case Q8_0, Q4_0, Q4_1 -> LegacyQuants.dequantize(type, src, off, dst, dstOff, n);
            case Q4_K, Q5_K, Q6_K -> KQuants.dequantize(type, src, off, dst, dstOff, n);
            default -> throw new UnsupportedTensorTypeException(type);
        }
    }

    public static void quantize(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(src, srcOff, dst, F32, off, n);
            case F16 -> {
                for (int i = 0; i < n; i++) dst.set(I16, off + 2L * i, Float.floatToFloat16(src[srcOff + i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst.set(I16, off + 2L * i, toBf16(src[srcOff + i]));
            }
            case Q8_0, Q4_0, Q4_1 -> LegacyQuants.quantize(type, src, srcOff, dst, off, n);
            case Q4_K, Q5_K, Q6_K -> KQuants.quantize(type, src, srcOff, dst, off, n);
            default -> throw new UnsupportedTensorTypeException(type);
        }
    }

    /** Round-to-nearest-even float to bfloat16, as ggml does (NaN kept quiet). */
    public static short toBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 64);
        u = u + (0x7fff + ((u >>> 16) & 1));
        return (short) (u >>> 16);
    }
}
