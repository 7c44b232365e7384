package io.kvserve.kernels.kv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Byte layouts of the KV-cache element formats and their scalar encoders and decoders: the
 * specification that the vector kernels of {@code panama.PanamaKv} are compared with.
 *
 * <p>Row formats store one token's key (or value) head vector of {@code n} elements in blocks of
 * {@code b} elements ({@link #rowBlock}: 32 when {@code n} is a multiple of 32, so the layout is
 * ggml's, else {@code n} itself, for the small heads of tiny models):
 * <pre>
 * F32   4n bytes
 * F16   2n bytes
 * Q8_0  per block: f16 d | int8 qs[b]             x[j] = qs[j] * d
 * Q4_0  per block: f16 d | uint8 qs[b/2]          x[j] = ((qs[j] &amp; 15) - 8) d, x[j + b/2] = ((qs[j] >>> 4) - 8) d
 * </pre>
 *
 * <p>KIVI (Liu et al. 2024) quantises asymmetrically with {@code B} = 2 or 4 bits: {@code x = code * s + m}.
 * <ul>
 *   <li>Keys per channel over a group of {@code G} tokens. A key group of {@code n} channels is
 *   {@code n} channel records, each {@code f16 s | f16 m | codes}, with {@code G*B/8} code bytes.</li>
 *   <li>Values per token over groups of {@code gv} channels ({@link #valueGroup}). A value row is
 *   {@code n/gv} records {@code f16 s | f16 m | codes} with {@code gv*B/8} code bytes.</li>
 * </ul>
 * The scale and minimum are F16 ({@link #META_F16}, KIVI's own) or, optionally, one byte each
 * ({@link #META_Q8}): the scale as an unsigned 8-bit float, the minimum as a signed 8-bit zero point in
 * fractions of the scale, {@code x = (code + zq / 2^f) s}. It halves the metadata, which for small
 * groups is as large as the codes; its encoder picks the 8-bit grid of least squared error ({@link #encodeRun}).
 * Codes are packed so that consecutive elements sit in consecutive bytes (vector friendly): with
 * {@code k = 8/B} codes per byte, element {@code e} of a run of {@code c} lives in byte {@code e % (c/k)}
 * at bit {@code B * (e / (c/k))}.
 */
public final class KvFormats {
    private KvFormats() {}

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    /** Row format codes. */
    public static final int F32_ROW = 0, F16_ROW = 1, Q8_0_ROW = 2, Q4_0_ROW = 3;

    /** Block size of the Q8_0 / Q4_0 row formats for a head of {@code n} elements. */
    public static int rowBlock(int n) {
        return n % 32 == 0 ? 32 : n;
    }

    /** Bytes of one row of {@code n} elements in row format {@code fmt}. */
    public static int rowBytes(int fmt, int n) {
        int b = rowBlock(n);
        return switch (fmt) {
            case F32_ROW -> 4 * n;
            case F16_ROW -> 2 * n;
            case Q8_0_ROW -> (n / b) * (2 + b);
            case Q4_0_ROW -> (n / b) * (2 + b / 2);
            default -> throw new IllegalArgumentException("unknown row format " + fmt);
        };
    }

    public static void encodeRow(int fmt, float[] x, int xOff, int n, MemorySegment s, long off) {
        switch (fmt) {
            case F32_ROW -> MemorySegment.copy(x, xOff, s, F32, off, n);
            case F16_ROW -> {
                for (int i = 0; i < n; i++) s.set(I16, off + 2L * i, Float.floatToFloat16(x[xOff + i]));
            }
            case Q8_0_ROW -> {
                int b = rowBlock(n);
                for (int k = 0; k < n; k += b, off += 2 + b) {
                    float amax = 0f;
                    for (int j = 0; j < b; j++) amax = Math.max(amax, Math.abs(x[xOff + k + j]));
                    float d = amax / 127;
                    float id = d != 0f ? 1f / d : 0f;
                    s.set(I16, off, Float.floatToFloat16(d));
                    for (int j = 0; j < b; j++) s.set(I8, off + 2 + j, (byte) Math.round(x[xOff + k + j] * id));
                }
            }
            case Q4_0_ROW -> {
                int b = rowBlock(n), h = b / 2;
                for (int k = 0; k < n; k += b, off += 2 + h) {
                    float amax = 0f, max = 0f;
                    for (int j = 0; j < b; j++) {
                        float v = x[xOff + k + j];
                        if (amax < Math.abs(v)) {
                            amax = Math.abs(v);
                            max = v;
                        }
                    }
                    float d = max / -8;
                    float id = d != 0f ? 1f / d : 0f;
                    s.set(I16, off, Float.floatToFloat16(d));
                    for (int j = 0; j < h; j++) {
                        int q0 = Math.min(15, (int) (x[xOff + k + j] * id + 8.5f));
                        int q1 = Math.min(15, (int) (x[xOff + k + h + j] * id + 8.5f));
                        s.set(I8, off + 2 + j, (byte) (q0 | (q1 << 4)));
                    }
                }
            }
            default -> throw new IllegalArgumentException("unknown row format " + fmt);
        }
    }

    public static void decodeRow(int fmt, MemorySegment s, long off, float[] y, int yOff, int n) {
        switch (fmt) {
            case F32_ROW -> MemorySegment.copy(s, F32, off, y, yOff, n);
            case F16_ROW -> {
                for (int i = 0; i < n; i++) y[yOff + i] = Float.float16ToFloat(s.get(I16, off + 2L * i));
            }
            case Q8_0_ROW -> {
                int b = rowBlock(n);
                for (int k = 0; k < n; k += b, off += 2 + b) {
                    float d = Float.float16ToFloat(s.get(I16, off));
                    for (int j = 0; j < b; j++) y[yOff + k + j] = s.get(I8, off + 2 + j) * d;
                }
            }
            case Q4_0_ROW -> {
                int b = rowBlock(n), h = b / 2;
                for (int k = 0; k < n; k += b, off += 2 + h) {
                    float d = Float.float16ToFloat(s.get(I16, off));
                    for (int j = 0; j < h; j++) {
                        int q = s.get(I8, off + 2 + j) & 0xFF;
                        y[yOff + k + j] = ((q & 15) - 8) * d;
                        y[yOff + k + h + j] = ((q >>> 4) - 8) * d;
                    }
                }
            }
            default -> throw new IllegalArgumentException("unknown row format " + fmt);
        }
    }

    // ---- KIVI ----

    /** Bytes per KIVI scale or minimum: F16 (KIVI's), or 8 bits each (scale and zero point, see {@link #encodeRun}). */
    public static final int META_F16 = 2, META_Q8 = 1;

    /** Channels per value quantisation group for a head of {@code n} elements. */
    public static int valueGroup(int n) {
        return n % 32 == 0 ? 32 : n;
    }

    private static void checkMeta(int meta) {
        if (meta != META_F16 && meta != META_Q8) throw new IllegalArgumentException("KIVI metadata is 2 (F16) or 1 (8-bit) bytes, got " + meta);
    }

    /** Bytes of one channel record of a key group: scale, minimum, {@code g} codes of {@code bits}. */
    public static int keyChannelBytes(int g, int bits, int meta) {
        checkMeta(meta);
        return 2 * meta + g * bits / 8;
    }

    /** Bytes of a key group: {@code n} channels over {@code g} tokens. */
    public static int keyGroupBytes(int n, int g, int bits, int meta) {
        return n * keyChannelBytes(g, bits, meta);
    }

    /** Bytes of one value row of {@code n} channels. */
    public static int valueRowBytes(int n, int bits, int meta) {
        checkMeta(meta);
        int gv = valueGroup(n);
        return (n / gv) * (2 * meta + gv * bits / 8);
    }

    /** The scale of byte {@code b}: an unsigned 8-bit float with F16's 5-bit exponent and 3 mantissa bits (F16 bits 14..7). */
    public static float scaleQ8ToFloat(int b) {
        return Float.float16ToFloat((short) ((b & 0xFF) << 7));
    }

    /** The least {@link #scaleQ8ToFloat} byte >= {@code x} (x >= 0), at most 61440 (byte 0xF7; 0xF8 up would be infinite). */
    public static int floatToScaleQ8Up(float x) {
        if (!(x >= 0f)) throw new IllegalArgumentException("a KIVI scale is >= 0, got " + x);
        int b = Math.min((Float.floatToFloat16(x) & 0x7FFF) >>> 7, 0xF7);   // truncated: within one step of x
        while (b < 0xF7 && scaleQ8ToFloat(b) < x) b++;
        return b;
    }

    /** Fraction bits of the 8-bit zero point: quarter steps for 2-bit codes, half steps for 4-bit, whole steps for 8-bit. */
    public static int zeroPointFractionBits(int bits) {
        return bits == 2 ? 2 : bits == 4 ? 1 : 0;
    }

    /** Scale of the record at {@code off}. */
    public static float scale(MemorySegment s, long off, int meta) {
        return meta == META_F16 ? Float.float16ToFloat(s.get(I16, off)) : scaleQ8ToFloat(s.get(I8, off));
    }

    /** Minimum (the value of code 0) of the record at {@code off}: F16, or the zero point times the scale. */
    public static float minimum(MemorySegment s, long off, int bits, int meta) {
        if (meta == META_F16) return Float.float16ToFloat(s.get(I16, off + 2));
        return s.get(I8, off + 1) * scaleQ8ToFloat(s.get(I8, off)) / (1 << zeroPointFractionBits(bits));
    }

    /** The 8-bit grid search: scale bytes below the covering one, zero points above its floor (see {@link #encodeRun}). */
    static final int SEARCH_SCALES_DOWN = 6, SEARCH_ZEROS_UP = 8;

    /**
     * Quantises {@code count} codes from {@code x[xOff + e * stride]} into one record at {@code off}:
     * min and max over the run, {@code s = (max - m) / (2^bits - 1)}, codes computed against the stored
     * scale and minimum (so decoding is consistent).
     * <ul>
     *   <li>{@link #META_F16} (KIVI's): both rounded to the nearest F16.</li>
     *   <li>{@link #META_Q8}: the scale is an unsigned 8-bit float (F16's exponent, 3 mantissa bits), the
     *   minimum a signed 8-bit zero point in fractions of the scale ({@link #zeroPointFractionBits}). The
     *   8-bit grid cannot reproduce min and max exactly as the F16 one does, so the encoder searches:
     *   from the covering grid (scale rounded up, zero point rounded down, wide enough for the zero
     *   point to reach the minimum) over {@link #SEARCH_SCALES_DOWN} smaller scales and
     *   {@link #SEARCH_ZEROS_UP} higher zero points, it keeps the grid with the least squared error over
     *   the run, as llama.cpp's K-quants search their 6-bit scales. Narrower grids clip the extremes a
     *   little; on stories260K this lowers KIVI-2's error below min-max's (docs/KVCACHE.md).</li>
     * </ul>
     */
    static void encodeRun(float[] x, int xOff, int stride, int count, int bits, int meta, MemorySegment s, long off) {
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (int e = 0; e < count; e++) {
            float v = x[xOff + e * stride];
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        int levels = (1 << bits) - 1;
        float m, sc;
        if (meta == META_F16) {
            m = Float.float16ToFloat(Float.floatToFloat16(min));
            sc = Float.float16ToFloat(Float.floatToFloat16((max - m) / levels));
            if (!(sc > 0f)) sc = 0f;
            s.set(I16, off, Float.floatToFloat16(sc));
            s.set(I16, off + 2, Float.floatToFloat16(m));
        } else {
            int frac = 1 << zeroPointFractionBits(bits);
            // the zero point reaches -128 / frac scales below 0 and 127 / frac above
            float reach = min < 0f ? -min * frac / 128f : min * frac / 127f;
            float want = Math.max((max - min) / levels, reach);
            int sb = 0, zq = 0;
            if (want > 0f) {
                // the covering grid (scale rounded up, zero point down) and its neighbours with narrower
                // ranges, which clip the extremes a little: the least squared error over the run wins
                int up = floatToScaleQ8Up(want);
                double best = Double.POSITIVE_INFINITY;
                for (int cb = Math.max(1, up - SEARCH_SCALES_DOWN); cb <= Math.min(0xF7, up + 2); cb++) {
                    float step = scaleQ8ToFloat(cb);
                    int z0 = (int) Math.floor(min / step * frac);
                    for (int cz = Math.max(-128, z0 - 2); cz <= Math.min(127, z0 + SEARCH_ZEROS_UP); cz++) {
                        float lo = cz * step / frac, inv = 1f / step;
                        double err = 0;
                        for (int e = 0; e < count; e++) {
                            float v = x[xOff + e * stride];
                            int q = Math.max(0, Math.min(levels, Math.round((v - lo) * inv)));
                            double d = q * step + lo - v;
                            err += d * d;
                        }
                        if (err < best) {
                            best = err;
                            sb = cb;
                            zq = cz;
                        }
                    }
                }
            }
            sc = scaleQ8ToFloat(sb);
            m = zq * sc / frac;
            s.set(I8, off, (byte) sb);
            s.set(I8, off + 1, (byte) zq);
        }
        float inv = sc > 0f ? 1f / sc : 0f;
        int perByte = 8 / bits, bytes = count / perByte;
        long codes = off + 2L * meta;
        for (int j = 0; j < bytes; j++) s.set(I8, codes + j, (byte) 0);
        for (int e = 0; e < count; e++) {
            int q = Math.round((x[xOff + e * stride] - m) * inv);
            q = Math.max(0, Math.min(levels, q));
            long at = codes + e % bytes;
            int shift = bits * (e / bytes);
            s.set(I8, at, (byte) (s.get(I8, at) | (q << shift)));
        }
    }

    /** Code of element {@code e} of a run of {@code count} packed at {@code codes}. */
    public static int code(MemorySegment s, long codes, int e, int count, int bits) {
        int bytes = count * bits / 8;
        return ((s.get(I8, codes + e % bytes) & 0xFF) >>> (bits * (e / bytes))) & ((1 << bits) - 1);
    }

    /** Quantises {@code g} keys ({@code (g, n)} row-major at {@code k[kOff]}) into a key group at {@code off}. */
    public static void encodeKeyGroup(float[] k, int kOff, int n, int g, int bits, int meta, MemorySegment s, long off) {
        int rec = keyChannelBytes(g, bits, meta);
        for (int c = 0; c < n; c++) encodeRun(k, kOff + c, n, g, bits, meta, s, off + (long) c * rec);
    }

    /** Decodes token {@code t} of a key group into {@code y[yOff, yOff + n)}. */
    public static void decodeKey(MemorySegment s, long off, int n, int g, int bits, int meta, int t, float[] y, int yOff) {
        int rec = keyChannelBytes(g, bits, meta);
        for (int c = 0; c < n; c++) {
            long r = off + (long) c * rec;
            float sc = scale(s, r, meta), m = minimum(s, r, bits, meta);
            y[yOff + c] = code(s, r + 2L * meta, t, g, bits) * sc + m;
        }
    }

    public static void encodeValue(float[] v, int vOff, int n, int bits, int meta, MemorySegment s, long off) {
        int gv = valueGroup(n), rec = 2 * meta + gv * bits / 8;
        for (int c = 0; c < n; c += gv, off += rec) encodeRun(v, vOff + c, 1, gv, bits, meta, s, off);
    }

    public static void decodeValue(MemorySegment s, long off, int n, int bits, int meta, float[] y, int yOff) {
        int gv = valueGroup(n), rec = 2 * meta + gv * bits / 8;
        for (int c = 0; c < n; c += gv, off += rec) {
            float sc = scale(s, off, meta), m = minimum(s, off, bits, meta);
            for (int e = 0; e < gv; e++) y[yOff + c + e] = code(s, off + 2L * meta, e, gv, bits) * sc + m;
        }
    }

    /**
     * Attention scores of one query against the first {@code count} tokens of a key group, without
     * dequantising it: {@code out[t] = sum_c q[c] (code[c,t] s_c + m_c) = sum_c (q[c] s_c) code[c,t] + sum_c q[c] m_c},
     * times {@code scale}.
     */
    public static void keyGroupScores(MemorySegment s, long off, int n, int g, int bits, int meta, float[] q, int qOff,
                                      float scale, float[] out, int outOff, int count) {
        int rec = keyChannelBytes(g, bits, meta);
        float bias = 0f;
        java.util.Arrays.fill(out, outOff, outOff + count, 0f);
        for (int c = 0; c < n; c++) {
            long r = off + (long) c * rec;
            float sc = scale(s, r, meta), m = minimum(s, r, bits, meta);
            float qs = q[qOff + c] * sc;
            bias += q[qOff + c] * m;
            for (int t = 0; t < count; t++) out[outOff + t] += qs * code(s, r + 2L * meta, t, g, bits);
        }
        for (int t = 0; t < count; t++) out[outOff + t] = (out[outOff + t] + bias) * scale;
    }
}
