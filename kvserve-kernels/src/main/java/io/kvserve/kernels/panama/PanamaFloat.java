package io.kvserve.kernels.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.kvserve.kernels.panama.VectorShapes.F;
import static io.kvserve.kernels.panama.VectorShapes.L;
import static io.kvserve.kernels.panama.VectorShapes.S;

/**
 * Float kernels: dot and axpy over float arrays (attention), and the F32, F16 and BF16 weight formats.
 * Loops have four accumulators (the FMA latency is four cycles on two pipes), then a one-vector tail,
 * then a scalar tail. Arrays carry no alignment guarantee in Java, so there is no alignment prologue.
 */
final class PanamaFloat {
    private PanamaFloat() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32_LAYOUT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    static final BlockKernel F32 = new BlockKernel(1, 4) {
        @Override
        float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
            return dotF32(w, off, x, xOff, n);
        }

        @Override
        void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
            MemorySegment.copy(w, F32_LAYOUT, off, dst, dstOff, n);
        }
    };

    static final BlockKernel F16 = new BlockKernel(1, 2) {
        @Override
        float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
            return dotHalf(w, off, x, xOff, n, false);
        }

        @Override
        void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
            decodeHalf(w, off, dst, dstOff, n, false);
        }
    };

    static final BlockKernel BF16 = new BlockKernel(1, 2) {
        @Override
        float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
            return dotHalf(w, off, x, xOff, n, true);
        }

        @Override
        void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
            decodeHalf(w, off, dst, dstOff, n, true);
        }
    };

    // ---- float arrays ----

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (int upper = n - 4 * L; i <= upper; i += 4 * L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), s1);
            s2 = FloatVector.fromArray(F, a, aOff + i + 2 * L).fma(FloatVector.fromArray(F, b, bOff + i + 2 * L), s2);
            s3 = FloatVector.fromArray(F, a, aOff + i + 3 * L).fma(FloatVector.fromArray(F, b, bOff + i + 3 * L), s3);
        }
        for (int upper = n - L; i <= upper; i += L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
        }
        float s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(F, a);
        int i = 0;
        for (int upper = n - 2 * L; i <= upper; i += 2 * L) {
            FloatVector.fromArray(F, x, xOff + i).fma(av, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
            FloatVector.fromArray(F, x, xOff + i + L).fma(av, FloatVector.fromArray(F, y, yOff + i + L)).intoArray(y, yOff + i + L);
        }
        for (int upper = n - L; i <= upper; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(av, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    /** SwiGLU's {@code silu(g) * u}, eight (L) exponentials at a time: a prefill takes one per FFN activation. */
    static void siluMul(float[] g, float[] u, int off, int n) {
        int i = off, end = off + n;
        FloatVector one = FloatVector.broadcast(F, 1f);
        for (int upper = end - L; i <= upper; i += L) {
            FloatVector a = FloatVector.fromArray(F, g, i);
            FloatVector e = a.neg().lanewise(VectorOperators.EXP);
            a.div(one.add(e)).mul(FloatVector.fromArray(F, u, i)).intoArray(g, i);
        }
        for (; i < end; i++) {
            float a = g[i];
            g[i] = a / (1f + (float) Math.exp(-a)) * u[i];
        }
    }

    /**
     * Softmax with the exponentials taken eight (L) at a time by the Vector API's EXP (an SVML stub on
     * x86, within an ulp or two of {@code Math.exp}): a prefill of 512 tokens takes one exponential per
     * query and key, and the scalar {@code Math.exp} was most of the attention's time once scores and
     * weighted sums ran several rows per pass.
     */
    static void softmax(float[] x, int off, int n) {
        int i = 0;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int upper = n - L; i <= upper; i += L) mv = mv.max(FloatVector.fromArray(F, x, off + i));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[off + i]);
        FloatVector mb = FloatVector.broadcast(F, max), sv = FloatVector.zero(F);
        i = 0;
        for (int upper = n - L; i <= upper; i += L) {
            FloatVector e = FloatVector.fromArray(F, x, off + i).sub(mb).lanewise(VectorOperators.EXP);
            e.intoArray(x, off + i);
            sv = sv.add(e);
        }
        float sum = sv.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        FloatVector inv = FloatVector.broadcast(F, 1f / sum);
        i = 0;
        for (int upper = n - L; i <= upper; i += L) FloatVector.fromArray(F, x, off + i).mul(inv).intoArray(x, off + i);
        float invs = 1f / sum;
        for (; i < n; i++) x[off + i] *= invs;
    }

    /**
     * Scores of one query against four keys per pass: each query vector is loaded once for four FMAs,
     * and the four horizontal sums overlap. Head sizes that are not a multiple of the vector length
     * (stories260K's 8 is one; 64 and 128 are) fall back to one dot per key.
     */
    static void attentionScores(float[] q, int qOff, float[] k, int kOff, int n, int hd, float scale, float[] out, int outOff) {
        int t = 0;
        if (hd % L == 0) {
            for (; t + 4 <= n; t += 4) {
                int k0 = kOff + t * hd, k1 = k0 + hd, k2 = k1 + hd, k3 = k2 + hd;
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                for (int c = 0; c < hd; c += L) {
                    FloatVector qv = FloatVector.fromArray(F, q, qOff + c);
                    a0 = FloatVector.fromArray(F, k, k0 + c).fma(qv, a0);
                    a1 = FloatVector.fromArray(F, k, k1 + c).fma(qv, a1);
                    a2 = FloatVector.fromArray(F, k, k2 + c).fma(qv, a2);
                    a3 = FloatVector.fromArray(F, k, k3 + c).fma(qv, a3);
                }
                out[outOff + t] = a0.reduceLanes(VectorOperators.ADD) * scale;
                out[outOff + t + 1] = a1.reduceLanes(VectorOperators.ADD) * scale;
                out[outOff + t + 2] = a2.reduceLanes(VectorOperators.ADD) * scale;
                out[outOff + t + 3] = a3.reduceLanes(VectorOperators.ADD) * scale;
            }
        }
        for (; t < n; t++) out[outOff + t] = dot(q, qOff, k, kOff + t * hd, hd) * scale;
    }

    /**
     * {@code out += sum_t p_t v_t}, four value rows per pass: one load and one store of each output
     * vector per four FMAs (an axpy per row loads and stores it for every row).
     */
    static void weightedRowSum(float[] p, int pOff, int n, float[] v, int vOff, int hd, float[] out, int outOff) {
        int t = 0;
        if (hd % L == 0) {
            for (; t + 4 <= n; t += 4) {
                int v0 = vOff + t * hd, v1 = v0 + hd, v2 = v1 + hd, v3 = v2 + hd;
                FloatVector b0 = FloatVector.broadcast(F, p[pOff + t]);
                FloatVector b1 = FloatVector.broadcast(F, p[pOff + t + 1]);
                FloatVector b2 = FloatVector.broadcast(F, p[pOff + t + 2]);
                FloatVector b3 = FloatVector.broadcast(F, p[pOff + t + 3]);
                for (int c = 0; c < hd; c += L) {
                    FloatVector o = FloatVector.fromArray(F, out, outOff + c);
                    o = FloatVector.fromArray(F, v, v0 + c).fma(b0, o);
                    o = FloatVector.fromArray(F, v, v1 + c).fma(b1, o);
                    o = FloatVector.fromArray(F, v, v2 + c).fma(b2, o);
                    o = FloatVector.fromArray(F, v, v3 + c).fma(b3, o);
                    o.intoArray(out, outOff + c);
                }
            }
        }
        for (; t < n; t++) axpy(p[pOff + t], v, vOff + t * hd, out, outOff, hd);
    }

    // ---- F32 weights ----

    static float dotF32(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (int upper = n - 4 * L; i <= upper; i += 4 * L) {
            long o = off + 4L * i;
            s0 = FloatVector.fromMemorySegment(F, w, o, LE).fma(FloatVector.fromArray(F, x, xOff + i), s0);
            s1 = FloatVector.fromMemorySegment(F, w, o + 4L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + L), s1);
            s2 = FloatVector.fromMemorySegment(F, w, o + 8L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + 2 * L), s2);
            s3 = FloatVector.fromMemorySegment(F, w, o + 12L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + 3 * L), s3);
        }
        for (int upper = n - L; i <= upper; i += L) {
            s0 = FloatVector.fromMemorySegment(F, w, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), s0);
        }
        float s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += w.get(F32_LAYOUT, off + 4L * i) * x[xOff + i];
        return s;
    }

    // ---- F16 and BF16 weights ----

    // Hot loops are written out in one method: a helper returning a vector that C2 declines to inline
    // (it does so once the helper is "already compiled into a big method") boxes that vector.
    // F16 to F32 without a hardware conversion in the Vector API: move exponent and mantissa to float
    // position; scaling by 2^112 rebiases normals and subnormals exactly; exponent 31 (inf, NaN) gets 255.

    private static float half(MemorySegment w, long o, boolean bf16) {
        short h = w.get(I16, o);
        return bf16 ? Float.intBitsToFloat((h & 0xFFFF) << 16) : Float.float16ToFloat(h);
    }

    static float dotHalf(MemorySegment w, long off, float[] x, int xOff, int n, boolean bf16) {
        return bf16 ? dotBF16(w, off, x, xOff, n) : dotF16(w, off, x, xOff, n);
    }

    static float dotF16(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        int i = 0;
        for (int upper = n - 2 * L; i <= upper; i += 2 * L) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * i, LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
            IntVector h1 = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * (i + L), LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
            IntVector e0 = h0.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
            IntVector e1 = h1.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
            IntVector b0 = e0.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(e0.or(0x7f800000), h0.and(0x7c00).eq(0x7c00));
            IntVector b1 = e1.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(e1.or(0x7f800000), h1.and(0x7c00).eq(0x7c00));
            FloatVector w0 = b0.or(h0.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            FloatVector w1 = b1.or(h1.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            s0 = w0.fma(FloatVector.fromArray(F, x, xOff + i), s0);
            s1 = w1.fma(FloatVector.fromArray(F, x, xOff + i + L), s1);
        }
        for (int upper = n - L; i <= upper; i += L) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * i, LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
            IntVector e0 = h0.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
            IntVector b0 = e0.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(e0.or(0x7f800000), h0.and(0x7c00).eq(0x7c00));
            s0 = b0.or(h0.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + i), s0);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += half(w, off + 2L * i, false) * x[xOff + i];
        return s;
    }

    static float dotBF16(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        int i = 0;
        for (int upper = n - 2 * L; i <= upper; i += 2 * L) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * i, LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
            IntVector h1 = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * (i + L), LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
            s0 = h0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + i), s0);
            s1 = h1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + i + L), s1);
        }
        for (int upper = n - L; i <= upper; i += L) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * i, LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
            s0 = h0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + i), s0);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += half(w, off + 2L * i, true) * x[xOff + i];
        return s;
    }

    static void decodeHalf(MemorySegment w, long off, float[] dst, int dstOff, int n, boolean bf16) {
        int i = 0;
        if (bf16) {
            for (int upper = n - L; i <= upper; i += L) {
                IntVector h = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * i, LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
                h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
            }
        } else {
            for (int upper = n - L; i <= upper; i += L) {
                IntVector h = (IntVector) ShortVector.fromMemorySegment(S, w, off + 2L * i, LE).convertShape(VectorOperators.S2I, VectorShapes.I, 0);
                IntVector e = h.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
                IntVector b = e.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(e.or(0x7f800000), h.and(0x7c00).eq(0x7c00));
                b.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats().intoArray(dst, dstOff + i);
            }
        }
        for (; i < n; i++) dst[dstOff + i] = half(w, off + 2L * i, bf16);
    }
}
