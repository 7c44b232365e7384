package io.kvserve.kernels.quant;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.UnsupportedTensorTypeException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q8_0, Q4_0 and Q4_1: 32-element blocks with an F16 scale (and an F16 minimum for Q4_1).
 *
 * <p>Byte layouts, little endian, as ggml's {@code block_q8_0}, {@code block_q4_0}, {@code block_q4_1}:
 * <pre>
 * Q8_0 (34 bytes): f16 d | int8 qs[32]            x[j] = qs[j] * d
 * Q4_0 (18 bytes): f16 d | uint8 qs[16]           x[j] = ((qs[j] &amp; 15) - 8) * d,  x[j + 16] = ((qs[j] >>> 4) - 8) * d
 * Q4_1 (20 bytes): f16 d | f16 m | uint8 qs[16]   x[j] = (qs[j] &amp; 15) * d + m,   x[j + 16] = (qs[j] >>> 4) * d + m
 * </pre>
 * The quantisers reproduce ggml's {@code quantize_row_q8_0_ref}, {@code quantize_row_q4_0_ref} and
 * {@code quantize_row_q4_1_ref} bit for bit (same float operations in the same order, C {@code roundf}
 * and truncating float-to-int conversions), so files written with them match llama.cpp's.
 */
public final class LegacyQuants {
    private LegacyQuants() {}

    /** Elements per block of Q8_0, Q4_0 and Q4_1. */
    public static final int QK = 32;
    public static final int Q8_0_BYTES = 34;
    public static final int Q4_0_BYTES = 18;
    public static final int Q4_1_BYTES = 20;

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    static void dequantize(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        int nb = n / QK;
        switch (type) {
            case Q8_0 -> {
                for (int i = 0; i < nb; i++) dequantizeQ8_0(src, off + (long) i * Q8_0_BYTES, dst, dstOff + i * QK);
            }
            case Q4_0 -> {
                for (int i = 0; i < nb; i++) dequantizeQ4_0(src, off + (long) i * Q4_0_BYTES, dst, dstOff + i * QK);
            }
            case Q4_1 -> {
                for (int i = 0; i < nb; i++) dequantizeQ4_1(src, off + (long) i * Q4_1_BYTES, dst, dstOff + i * QK);
            }
            default -> throw new UnsupportedTensorTypeException(type);
        }
    }

    static void quantize(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        int nb = n / QK;
        switch (type) {
            case Q8_0 -> {
                for (int i = 0; i < nb; i++) quantizeQ8_0(src, srcOff + i * QK, dst, off + (long) i * Q8_0_BYTES);
            }
            case Q4_0 -> {
                for (int i = 0; i < nb; i++) quantizeQ4_0(src, srcOff + i * QK, dst, off + (long) i * Q4_0_BYTES);
            }
            case Q4_1 -> {
                for (int i = 0; i < nb; i++) quantizeQ4_1(src, srcOff + i * QK, dst, off + (long) i * Q4_1_BYTES);
            }
            default -> throw new UnsupportedTensorTypeException(type);
        }
    }

    static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(I16, off));
    }

    // ---- decoders ----

    static void dequantizeQ8_0(MemorySegment s, long b, float[] y, int yOff) {
        float d = f16(s, b);
        for (int j = 0; j < QK; j++) y[yOff + j] = s.get(ValueLayout.JAVA_BYTE, b + 2 + j) * d;
    }

    static void dequantizeQ4_0(MemorySegment s, long b, float[] y, int yOff) {
        float d = f16(s, b);
        for (int j = 0; j < QK / 2; j++) {
            int q = s.get(ValueLayout.JAVA_BYTE, b + 2 + j) & 0xFF;
            y[yOff + j] = ((q & 0x0F) - 8) * d;
            y[yOff + j + QK / 2] = ((q >>> 4) - 8) * d;
        }
    }

    static void dequantizeQ4_1(MemorySegment s, long b, float[] y, int yOff) {
        float d = f16(s, b);
        float m = f16(s, b + 2);
        for (int j = 0; j < QK / 2; j++) {
            int q = s.get(ValueLayout.JAVA_BYTE, b + 4 + j) & 0xFF;
            y[yOff + j] = (q & 0x0F) * d + m;
            y[yOff + j + QK / 2] = (q >>> 4) * d + m;
        }
    }

    // ---- encoders (ggml *_ref) ----

    /** ggml's {@code MAX(a, b)}: {@code a > b ? a : b} (a NaN in b wins, a NaN in a does not stick). */
    private static float cmax(float a, float b) {
        return a > b ? a : b;
    }

    /** C {@code roundf}: round half away from zero. Exact through double for every float. */
    static float roundf(float x) {
        double a = Math.floor(Math.abs((double) x) + 0.5);
        return (float) Math.copySign(a, x);
    }

    /** C's float to int8_t conversion for in-range values (truncation toward zero). */
    private static int truncToInt8(float x) {
        return (byte) (int) x;
    }

    static void quantizeQ8_0(float[] x, int xOff, MemorySegment s, long b) {
        float amax = 0f;
        for (int j = 0; j < QK; j++) amax = cmax(amax, Math.abs(x[xOff + j]));
        float d = amax / 127;
        float id = d != 0f ? 1.0f / d : 0.0f;
        s.set(I16, b, Float.floatToFloat16(d));
        for (int j = 0; j < QK; j++) {
            float x0 = x[xOff + j] * id;
            s.set(ValueLayout.JAVA_BYTE, b + 2 + j, (byte) (int) roundf(x0));
        }
    }

    static void quantizeQ4_0(float[] x, int xOff, MemorySegment s, long b) {
        float amax = 0f;
        float max = 0f;
        for (int j = 0; j < QK; j++) {
            float v = x[xOff + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0f ? 1.0f / d : 0.0f;
        s.set(I16, b, Float.floatToFloat16(d));
        for (int j = 0; j < QK / 2; j++) {
            float x0 = x[xOff + j] * id;
            float x1 = x[xOff + QK / 2 + j] * id;
            int xi0 = Math.min(15, truncToInt8(x0 + 8.5f)) & 0xFF;
            int xi1 = Math.min(15, truncToInt8(x1 + 8.5f)) & 0xFF;
            s.set(ValueLayout.JAVA_BYTE, b + 2 + j, (byte) (xi0 | (xi1 << 4)));
        }
    }

    static void quantizeQ4_1(float[] x, int xOff, MemorySegment s, long b) {
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < QK; j++) {
            float v = x[xOff + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        float d = (max - min) / 15;
        float id = d != 0f ? 1.0f / d : 0.0f;
        s.set(I16, b, Float.floatToFloat16(d));
        s.set(I16, b + 2, Float.floatToFloat16(min));
        for (int j = 0; j < QK / 2; j++) {
            float x0 = (x[xOff + j] - min) * id;
            float x1 = (x[xOff + QK / 2 + j] - min) * id;
            int xi0 = Math.min(15, truncToInt8(x0 + 0.5f)) & 0xFF;
            int xi1 = Math.min(15, truncToInt8(x1 + 0.5f)) & 0xFF;
            s.set(ValueLayout.JAVA_BYTE, b + 4 + j, (byte) (xi0 | (xi1 << 4)));
        }
    }
}
