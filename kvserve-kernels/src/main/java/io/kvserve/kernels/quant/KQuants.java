package io.kvserve.kernels.quant;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.UnsupportedTensorTypeException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_K, Q5_K and Q6_K: 256-element super-blocks with 6-bit (Q4_K, Q5_K) or 8-bit (Q6_K) sub-block
 * scales. This is the scalar specification: the byte layouts, the decoders and the reference
 * encoders of ggml ({@code dequantize_row_q?_K}, {@code quantize_row_q?_K_ref}), written so that
 * every float operation happens in the same order as in ggml's C, without fused multiply-adds.
 * The encoders are therefore bit-exact with a ggml build that does not contract {@code a*b+c}
 * into FMA ({@code -ffp-contract=off}); see docs/KERNELS-KQUANTS.md.
 *
 * <pre>
 * block_q4_K (144 bytes): f16 d, f16 dmin, u8 scales[12], u8 qs[128]
 * block_q5_K (176 bytes): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
 * block_q6_K (210 bytes): u8 ql[128], u8 qh[64], i8 scales[16], f16 d
 * </pre>
 * Q4_K and Q5_K have 8 sub-blocks of 32 elements, each with a 6-bit scale and a 6-bit minimum
 * packed into {@code scales[12]} (see {@link #scale}, {@link #min}); element value
 * {@code d * scale * q - dmin * min}. Q6_K has 16 sub-blocks of 16 elements with an int8 scale;
 * element value {@code d * scale * (q - 32)}.
 */
public final class KQuants {
    private KQuants() {}

    /** Elements per super-block. */
    public static final int QK_K = 256;

    public static final int Q4_K_BYTES = 144;
    public static final int Q5_K_BYTES = 176;
    public static final int Q6_K_BYTES = 210;

    /** Byte offsets inside a block. */
    public static final int Q4_K_SCALES = 4, Q4_K_QS = 16;
    public static final int Q5_K_SCALES = 4, Q5_K_QH = 16, Q5_K_QS = 48;
    public static final int Q6_K_QL = 0, Q6_K_QH = 128, Q6_K_SCALES = 192, Q6_K_D = 208;

    /** ggml's GROUP_MAX_EPS: below this maximum a group counts as all zero. */
    private static final float GROUP_MAX_EPS = 1e-15f;

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    // ---------------------------------------------------------------- decoding

    static void dequantize(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        int nb = n / QK_K;
        switch (type) {
            case Q4_K -> { for (int i = 0; i < nb; i++) dequantizeQ4K(src, off + (long) i * Q4_K_BYTES, dst, dstOff + i * QK_K); }
            case Q5_K -> { for (int i = 0; i < nb; i++) dequantizeQ5K(src, off + (long) i * Q5_K_BYTES, dst, dstOff + i * QK_K); }
            case Q6_K -> { for (int i = 0; i < nb; i++) dequantizeQ6K(src, off + (long) i * Q6_K_BYTES, dst, dstOff + i * QK_K); }
            default -> throw new UnsupportedTensorTypeException(type);
        }
    }

    /**
     * The 6-bit scale of sub-block {@code j} (0..7) from the 12 packed bytes at {@code sc}: sub-blocks
     * 0-3 keep theirs in the low 6 bits of bytes 0-3; sub-blocks 4-7 in the low nibble of bytes 8-11
     * plus the top two bits of bytes 0-3 (ggml's get_scale_min_k4).
     */
    public static int scale(MemorySegment s, long sc, int j) {
        return j < 4
                ? u8(s, sc + j) & 63
                : (u8(s, sc + j + 4) & 0xF) | ((u8(s, sc + j - 4) >>> 6) << 4);
    }

    /** The 6-bit minimum of sub-block {@code j}: bytes 4-7, or high nibbles of 8-11 plus top bits of 4-7. */
    public static int min(MemorySegment s, long sc, int j) {
        return j < 4
                ? u8(s, sc + j + 4) & 63
                : (u8(s, sc + j + 4) >>> 4) | ((u8(s, sc + j) >>> 6) << 4);
    }

    private static int u8(MemorySegment s, long off) {
        return s.get(I8, off) & 0xFF;
    }

    private static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(I16, off));
    }

    static void dequantizeQ4K(MemorySegment s, long b, float[] y, int yo) {
        float d = f16(s, b);
        float dmin = f16(s, b + 2);
        long sc = b + Q4_K_SCALES;
        long q = b + Q4_K_QS;
        for (int c = 0; c < 4; c++) {                 // 4 chunks of 32 bytes: low nibbles, then high nibbles
            float d1 = d * scale(s, sc, 2 * c), m1 = dmin * min(s, sc, 2 * c);
            float d2 = d * scale(s, sc, 2 * c + 1), m2 = dmin * min(s, sc, 2 * c + 1);
            for (int l = 0; l < 32; l++) y[yo + 64 * c + l] = d1 * (u8(s, q + 32 * c + l) & 0xF) - m1;
            for (int l = 0; l < 32; l++) y[yo + 64 * c + 32 + l] = d2 * (u8(s, q + 32 * c + l) >>> 4) - m2;
        }
    }

    static void dequantizeQ5K(MemorySegment s, long b, float[] y, int yo) {
        float d = f16(s, b);
        float dmin = f16(s, b + 2);
        long sc = b + Q5_K_SCALES;
        long qh = b + Q5_K_QH;
        long q = b + Q5_K_QS;
        for (int c = 0; c < 4; c++) {                 // chunk c takes bits 2c and 2c+1 of every qh byte
            float d1 = d * scale(s, sc, 2 * c), m1 = dmin * min(s, sc, 2 * c);
            float d2 = d * scale(s, sc, 2 * c + 1), m2 = dmin * min(s, sc, 2 * c + 1);
            for (int l = 0; l < 32; l++) {
                int h = u8(s, qh + l);
                y[yo + 64 * c + l] = d1 * ((u8(s, q + 32 * c + l) & 0xF) + (((h >>> (2 * c)) & 1) << 4)) - m1;
            }
            for (int l = 0; l < 32; l++) {
                int h = u8(s, qh + l);
                y[yo + 64 * c + 32 + l] = d2 * ((u8(s, q + 32 * c + l) >>> 4) + (((h >>> (2 * c + 1)) & 1) << 4)) - m2;
            }
        }
    }

    static void dequantizeQ6K(MemorySegment s, long b, float[] y, int yo) {
        float d = f16(s, b + Q6_K_D);
        for (int half = 0; half < 2; half++) {        // two halves of 128 elements
            long ql = b + Q6_K_QL + 64 * half;
            long qh = b + Q6_K_QH + 32 * half;
            long sc = b + Q6_K_SCALES + 8 * half;
            int yb = yo + 128 * half;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int lo = u8(s, ql + l), hi = u8(s, ql + l + 32), h = u8(s, qh + l);
                int q1 = ((lo & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((hi & 0xF) | (((h >>> 2) & 3) << 4)) - 32;
                int q3 = ((lo >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                int q4 = ((hi >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                y[yb + l] = d * s.get(I8, sc + is) * q1;
                y[yb + l + 32] = d * s.get(I8, sc + is + 2) * q2;
                y[yb + l + 64] = d * s.get(I8, sc + is + 4) * q3;
                y[yb + l + 96] = d * s.get(I8, sc + is + 6) * q4;
            }
        }
    }

    // ---------------------------------------------------------------- encoding

    static void quantize(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        int nb = n / QK_K;
        Encoder e = new Encoder();
        switch (type) {
            case Q4_K -> { for (int i = 0; i < nb; i++) e.q4K(src, srcOff + i * QK_K, dst, off + (long) i * Q4_K_BYTES); }
            case Q5_K -> { for (int i = 0; i < nb; i++) e.q5K(src, srcOff + i * QK_K, dst, off + (long) i * Q5_K_BYTES); }
            case Q6_K -> { for (int i = 0; i < nb; i++) e.q6K(src, srcOff + i * QK_K, dst, off + (long) i * Q6_K_BYTES); }
            default -> throw new UnsupportedTensorTypeException(type);
        }
    }

    /**
     * ggml's nearest_int: round to nearest, ties to even, by adding 1.5 * 2^23 so that the FPU's
     * rounding does the work. Valid for |x| <= 4194303, as in ggml; larger inputs wrap exactly as
     * ggml's do.
     */
    static int nearestInt(float x) {
        float v = x + 12582912f;
        return (Float.floatToRawIntBits(v) & 0x007fffff) - 0x00400000;
    }

    /** Per-call work arrays of the reference encoders (they are not on a hot path). */
    private static final class Encoder {
        final int[] L = new int[QK_K];
        final int[] laux = new int[32];
        final float[] weights = new float[32];
        final float[] mins = new float[QK_K / 32];
        final float[] scales = new float[QK_K / 16];
        final int[] packed = new int[12];
        float theMin;                                 // second result of makeQkx2Quants

        void q4K(float[] x, int xo, MemorySegment y, long b) {
            encodeScaleMin(x, xo, 15, -1f, 0.1f, 20);
            short dh = Float.floatToFloat16(largestScale / 63f);
            short mh = Float.floatToFloat16(largestMin / 63f);
            y.set(I16, b, dh);
            y.set(I16, b + 2, mh);
            for (int j = 0; j < 12; j++) y.set(I8, b + Q4_K_SCALES + j, (byte) packed[j]);
            requantize(x, xo, 15, Float.float16ToFloat(dh), Float.float16ToFloat(mh));
            for (int c = 0; c < 4; c++) {
                for (int l = 0; l < 32; l++) {
                    y.set(I8, b + Q4_K_QS + 32 * c + l, (byte) (L[64 * c + l] | (L[64 * c + 32 + l] << 4)));
                }
            }
        }

        void q5K(float[] x, int xo, MemorySegment y, long b) {
            encodeScaleMin(x, xo, 31, -0.5f, 0.1f, 15);
            short dh = Float.floatToFloat16(largestScale / 63f);
            short mh = Float.floatToFloat16(largestMin / 63f);
            y.set(I16, b, dh);
            y.set(I16, b + 2, mh);
            for (int j = 0; j < 12; j++) y.set(I8, b + Q5_K_SCALES + j, (byte) packed[j]);
            requantize(x, xo, 31, Float.float16ToFloat(dh), Float.float16ToFloat(mh));
            for (int l = 0; l < 32; l++) {
                int h = 0;
                for (int c = 0; c < 4; c++) {
                    int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
                    if (l1 > 15) { l1 -= 16; h |= 1 << (2 * c); }
                    if (l2 > 15) { l2 -= 16; h |= 2 << (2 * c); }
                    y.set(I8, b + Q5_K_QS + 32 * c + l, (byte) (l1 | (l2 << 4)));
                }
                y.set(I8, b + Q5_K_QH + l, (byte) h);
            }
        }

        float largestScale, largestMin;               // results of encodeScaleMin

        /**
         * The first half of quantize_row_q4_K_ref / q5_K_ref: fit a scale and a minimum per
         * sub-block of 32 (make_qkx2_quants with weights {@code rms + |x|}), then quantise those
         * to 6 bits against the largest of each, packed as get_scale_min_k4 reads them.
         */
        private void encodeScaleMin(float[] x, int xo, int nmax, float rmin, float rdelta, int nstep) {
            float ms = 0, mm = 0;                      // scales are positive: the minimum is subtracted
            for (int j = 0; j < 8; j++) {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += x[xo + 32 * j + l] * x[xo + 32 * j + l];
                float avX = (float) Math.sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[xo + 32 * j + l]);
                scales[j] = makeQkx2Quants(32, nmax, x, xo + 32 * j, weights, 32 * j, rmin, rdelta, nstep);
                mins[j] = theMin;
                if (scales[j] > ms) ms = scales[j];
                if (mins[j] > mm) mm = mins[j];
            }
            largestScale = ms;
            largestMin = mm;
            float invScale = ms > 0 ? 63f / ms : 0f;
            float invMin = mm > 0 ? 63f / mm : 0f;
            java.util.Arrays.fill(packed, 0);
            for (int j = 0; j < 8; j++) {
                int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);   // ggml stores in a uint8_t first
                int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
                if (j < 4) {
                    packed[j] = ls;
                    packed[j + 4] = lm;
                } else {
                    packed[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
                    packed[j - 4] |= (ls >>> 4) << 6;
                    packed[j] |= (lm >>> 4) << 6;
                }
            }
        }

        /** Re-derive every level from the stored (rounded) scales; sub-blocks with scale 0 keep their first fit. */
        private void requantize(float[] x, int xo, int nmax, float d0, float m0) {
            for (int j = 0; j < 8; j++) {
                int sc, m;
                if (j < 4) {
                    sc = packed[j] & 63;
                    m = packed[j + 4] & 63;
                } else {
                    sc = (packed[j + 4] & 0xF) | ((packed[j - 4] >>> 6) << 4);
                    m = (packed[j + 4] >>> 4) | ((packed[j] >>> 6) << 4);
                }
                float d = d0 * sc;
                if (d == 0f) continue;
                float dm = m0 * m;
                for (int ii = 0; ii < 32; ii++) {
                    int l = nearestInt((x[xo + 32 * j + ii] + dm) / d);
                    L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
                }
            }
        }

        /**
         * ggml's make_qkx2_quants: levels {@code 0..nmax} with a scale and a minimum <= 0 fitted by
         * weighted least squares, trying {@code nstep + 1} candidate inverse scales around
         * {@code nmax / (max - min)} and keeping the one with the lowest weighted squared error.
         * Writes the levels to {@code L[lo..lo+n)}, the negated minimum to {@link #theMin}, and
         * returns the scale.
         */
        private float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] w, int lo,
                                     float rmin, float rdelta, int nstep) {
            float min = x[xo], max = x[xo];
            float sumW = w[0];
            float sumX = sumW * x[xo];
            for (int i = 1; i < n; i++) {
                float xi = x[xo + i];
                if (xi < min) min = xi;
                if (xi > max) max = xi;
                float wi = w[i];
                sumW += wi;
                sumX += wi * xi;
            }
            if (min > 0) min = 0;
            if (max == min) {
                for (int i = 0; i < n; i++) L[lo + i] = 0;
                theMin = -min;
                return 0f;
            }
            float iscale = nmax / (max - min);
            float scale = 1 / iscale;
            float bestError = 0;
            for (int i = 0; i < n; i++) {
                int l = nearestInt(iscale * (x[xo + i] - min));
                L[lo + i] = Math.max(0, Math.min(nmax, l));
                float diff = scale * L[lo + i] + min - x[xo + i];
                bestError += w[i] * (diff * diff);
            }
            if (nstep < 1) {
                theMin = -min;
                return scale;
            }
            for (int is = 0; is <= nstep; is++) {
                iscale = (rmin + rdelta * is + nmax) / (max - min);
                float sumL = 0, sumL2 = 0, sumXL = 0;
                for (int i = 0; i < n; i++) {
                    int l = nearestInt(iscale * (x[xo + i] - min));
                    l = Math.max(0, Math.min(nmax, l));
                    laux[i] = l;
                    float wi = w[i];
                    sumL += wi * l;
                    sumL2 += wi * l * l;
                    sumXL += wi * l * x[xo + i];
                }
                float det = sumW * sumL2 - sumL * sumL;
                if (det > 0) {
                    float thisScale = (sumW * sumXL - sumX * sumL) / det;
                    float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                    if (thisMin > 0) {
                        thisMin = 0;
                        thisScale = sumXL / sumL2;
                    }
                    float curError = 0;
                    for (int i = 0; i < n; i++) {
                        float diff = thisScale * laux[i] + thisMin - x[xo + i];
                        curError += w[i] * (diff * diff);
                    }
                    if (curError < bestError) {
                        for (int i = 0; i < n; i++) L[lo + i] = laux[i];
                        bestError = curError;
                        scale = thisScale;
                        min = thisMin;
                    }
                }
            }
            theMin = -min;
            return scale;
        }

        void q6K(float[] x, int xo, MemorySegment y, long b) {
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++) {
                float scale = makeQxQuants(16, 32, x, xo + 16 * ib, 16 * ib);
                scales[ib] = scale;
                float abs = Math.abs(scale);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < GROUP_MAX_EPS) {
                y.asSlice(b, Q6_K_BYTES).fill((byte) 0);
                return;
            }
            float iscale = -128f / maxScale;
            short dh = Float.floatToFloat16(1 / iscale);
            y.set(I16, b + Q6_K_D, dh);
            float d0 = Float.float16ToFloat(dh);
            for (int ib = 0; ib < 16; ib++) {
                int sc = (byte) Math.min(127, nearestInt(iscale * scales[ib]));     // int8_t in ggml
                y.set(I8, b + Q6_K_SCALES + ib, (byte) sc);
                float d = d0 * sc;
                if (d == 0f) continue;
                for (int ii = 0; ii < 16; ii++) {
                    int l = nearestInt(x[xo + 16 * ib + ii] / d);
                    L[16 * ib + ii] = Math.max(-32, Math.min(31, l)) + 32;
                }
            }
            for (int half = 0; half < 2; half++) {
                int j = 128 * half;
                for (int l = 0; l < 32; l++) {
                    int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                    y.set(I8, b + Q6_K_QL + 64 * half + l, (byte) ((q1 & 0xF) | ((q3 & 0xF) << 4)));
                    y.set(I8, b + Q6_K_QL + 64 * half + l + 32, (byte) ((q2 & 0xF) | ((q4 & 0xF) << 4)));
                    y.set(I8, b + Q6_K_QH + 32 * half + l,
                            (byte) ((q1 >>> 4) | ((q2 >>> 4) << 2) | ((q3 >>> 4) << 4) | ((q4 >>> 4) << 6)));
                }
            }
        }

        /**
         * ggml's make_qx_quants with rmse_type 1 and no importance weights: symmetric levels
         * {@code -nmax..nmax-1} (stored as {@code l + nmax}), weights {@code x^2}, and 18 candidate
         * scales around {@code -nmax / max}, keeping the one maximising {@code sumlx^2 / suml2}.
         */
        private float makeQxQuants(int n, int nmax, float[] x, int xo, int lo) {
            float max = 0, amax = 0;
            for (int i = 0; i < n; i++) {
                float ax = Math.abs(x[xo + i]);
                if (ax > amax) {
                    amax = ax;
                    max = x[xo + i];
                }
            }
            if (amax < GROUP_MAX_EPS) {
                for (int i = 0; i < n; i++) L[lo + i] = 0;
                return 0f;
            }
            float iscale = -nmax / max;
            float sumlx = 0, suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * xi)));
                L[lo + i] = l + nmax;
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            float scale = suml2 != 0 ? sumlx / suml2 : 0f;
            float best = scale * sumlx;
            for (int is = -9; is <= 9; is++) {
                if (is == 0) continue;
                iscale = -(nmax + 0.1f * is) / max;
                sumlx = 0;
                suml2 = 0;
                for (int i = 0; i < n; i++) {
                    float xi = x[xo + i];
                    int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * xi)));
                    float w = xi * xi;
                    sumlx += w * xi * l;
                    suml2 += w * l * l;
                }
                if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                    for (int i = 0; i < n; i++) {
                        int l = nearestInt(iscale * x[xo + i]);
                        L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
                    }
                    scale = sumlx / suml2;
                    best = scale * sumlx;
                }
            }
            return scale;
        }
    }
}
