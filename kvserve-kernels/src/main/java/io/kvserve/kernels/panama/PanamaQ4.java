package io.kvserve.kernels.panama;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.kvserve.kernels.panama.VectorShapes.B;
import static io.kvserve.kernels.panama.VectorShapes.B_PARTS;
import static io.kvserve.kernels.panama.VectorShapes.F;
import static io.kvserve.kernels.panama.VectorShapes.I;
import static io.kvserve.kernels.panama.VectorShapes.L;
import static io.kvserve.kernels.panama.VectorShapes.ROT1;
import static io.kvserve.kernels.panama.VectorShapes.ROT2;
import static io.kvserve.kernels.panama.VectorShapes.ROT4;
import static io.kvserve.kernels.panama.VectorShapes.ROT8;

/**
 * Q4_0 and Q4_1 kernels. A block's 16 bytes hold elements 0..15 in the low nibbles and 16..31 in
 * the high nibbles. Bytes are widened to ints first (AVX2 has no byte shifts), split into nibbles
 * there, then converted to floats: one byte load feeds two float vectors (j and j + 16).
 */
final class PanamaQ4 {
    private PanamaQ4() {}

    private static final int QK = 32;
    private static final int HALF = QK / 2;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    static final BlockKernel Q4_0 = new BlockKernel(QK, 18) {
        @Override
        float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
            return dotQ4_0(w, off, x, xOff, n);
        }

        @Override
        void dot4(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
            if (L != 8) {
                super.dot4(w, off, x, xOff, xStride, n, out, outOff, outStride);
                return;
            }
            dot4Q4_0(w, off, x, xOff, xStride, n, out, outOff, outStride);
        }

        @Override
        boolean hasPackedDot8() {
            return L == 8;
        }

        @Override
        void dot8Packed(MemorySegment w, long off, long rowBytes, int rows, float[] xp, int xpOff, int n, float[] out, int outOff, int outStride) {
            dot8PackedQ4_0(w, off, rowBytes, rows, xp, xpOff, n, out, outOff, outStride);
        }

        @Override
        int minGemmBatch() {
            // at 128 and 512 bits small batches take four one-row dots per group (BlockKernel's default dot4):
            // no shared unpacking, but every row's result is its one-row result, as at 256 bits
            return Q4_0_MIN_GEMM_BATCH;
        }

        @Override
        void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
            decodeQ4(w, off, dst, dstOff, n, false);
        }
    };

    static final BlockKernel Q4_1 = new BlockKernel(QK, 20) {
        @Override
        float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
            return dotQ4_1(w, off, x, xOff, n);
        }

        @Override
        void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
            decodeQ4(w, off, dst, dstOff, n, true);
        }
    };

    // Hot loops are written out in one method: a helper returning a vector that C2 declines to inline
    // (it does so once the helper is "already compiled into a big method") boxes that vector.
    // The part index of convertShape must be a constant when C2 parses the call, hence no loop over parts.

    static float dotQ4_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F);
        if (L == 8) {
            // addressing as in PanamaQ8.dot: a long block offset from 0 and a running x index, so that C2
            // keeps the addresses in registers
            long end = (long) nb * 18;
            int xo = xOff;
            for (long b = 0; b < end; b += 18, xo += QK) {
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, w, off + b + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, w, off + b + 10, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                // one product chain over elements 0-7, 8-15, 16-23, 24-31 (two chains joined by an add cost one more op)
                FloatVector s = ((FloatVector) q0.and(0x0F).sub(8).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xo));
                s = ((FloatVector) q1.and(0x0F).sub(8).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 8), s);
                s = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + HALF), s);
                s = ((FloatVector) q1.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + HALF + 8), s);
                acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, off + b))), acc);
            }
            {
                FloatVector t = acc;
                if (L == 16) t = t.add(t.rearrange(ROT8));
                if (L >= 8) t = t.add(t.rearrange(ROT4));
                t = t.add(t.rearrange(ROT2));
                return t.add(t.rearrange(ROT1)).lane(0);
            }
        }
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * 18;
            int xo = xOff + i * QK;
            FloatVector s0 = FloatVector.zero(F), s1 = s0;
            for (int c = 0; c < HALF; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 2 + c, LE);
                IntVector qi = (IntVector) q.convertShape(VectorOperators.B2I, I, 0);
                FloatVector lo = (FloatVector) qi.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
                FloatVector hi = (FloatVector) qi.lanewise(VectorOperators.LSHR, 4).and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
                s0 = lo.fma(FloatVector.fromArray(F, x, xo + c), s0);
                s1 = hi.fma(FloatVector.fromArray(F, x, xo + c + HALF), s1);
                if (B_PARTS == 2) {
                    qi = (IntVector) q.convertShape(VectorOperators.B2I, I, 1);
                    lo = (FloatVector) qi.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
                    hi = (FloatVector) qi.lanewise(VectorOperators.LSHR, 4).and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
                    s0 = lo.fma(FloatVector.fromArray(F, x, xo + c + L), s0);
                    s1 = hi.fma(FloatVector.fromArray(F, x, xo + c + L + HALF), s1);
                }
            }
            acc = s0.add(s1).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b))), acc);
        }
        {
            FloatVector t = acc;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            return t.add(t.rearrange(ROT1)).lane(0);
        }
    }

    /**
     * Q4_0 batches below this go through {@link #dot8PackedQ4_0} / {@link #dot4Q4_0} (each weight block unpacked
     * once for eight or four activation rows, every result bit-identical to {@link #dotQ4_0}) instead of
     * the GEMM, which decodes every weight to a float panel: at 8 rows the GEMM took 3.7-4.4 ms for a
     * 2048x2048 matrix (`MatmulProbe Q4_0 2048x2048 8`).
     */
    static final int Q4_0_MIN_GEMM_BATCH = Integer.getInteger("kvserve.gemm.q4MinBatch", 32);

    /** {@link #dotQ4_0} for eight activation rows over {@code rows} weight rows, packed as for {@code PanamaQ8.dot8Packed}; each result equals {@link #dotQ4_0}'s. 256-bit only. */
    static void dot8PackedQ4_0(MemorySegment w, long off, long rowBytes, int rows, float[] xp, int xpOff, int n, float[] out, int outOff, int outStride) {
        for (int row = 0; row < rows; row++) dot8PackedQ4_0Row(w, off + row * rowBytes, xp, xpOff, n, out, outOff + row, outStride);
    }

    // one call per weight row: with the row loop in the same method, C2 kept range checks in the block
    // loop and spilled the accumulators
    private static void dot8PackedQ4_0Row(MemorySegment w, long off, float[] xp, int xpOff, int n, float[] out, int outOff, int outStride) {
        int nb = n / QK;
        FloatVector z = FloatVector.zero(F);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * 18;
            int p = xpOff + i * 8 * QK;
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, w, b + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, w, b + 10, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector lo0 = (FloatVector) q0.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector hi0 = (FloatVector) q0.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector lo1 = (FloatVector) q1.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector hi1 = (FloatVector) q1.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            a0 = hi1.fma(FloatVector.fromArray(F, xp, p + 192), hi0.fma(FloatVector.fromArray(F, xp, p + 128), lo1.fma(FloatVector.fromArray(F, xp, p + 64), lo0.mul(FloatVector.fromArray(F, xp, p + 0))))).fma(d, a0);
            a1 = hi1.fma(FloatVector.fromArray(F, xp, p + 200), hi0.fma(FloatVector.fromArray(F, xp, p + 136), lo1.fma(FloatVector.fromArray(F, xp, p + 72), lo0.mul(FloatVector.fromArray(F, xp, p + 8))))).fma(d, a1);
            a2 = hi1.fma(FloatVector.fromArray(F, xp, p + 208), hi0.fma(FloatVector.fromArray(F, xp, p + 144), lo1.fma(FloatVector.fromArray(F, xp, p + 80), lo0.mul(FloatVector.fromArray(F, xp, p + 16))))).fma(d, a2);
            a3 = hi1.fma(FloatVector.fromArray(F, xp, p + 216), hi0.fma(FloatVector.fromArray(F, xp, p + 152), lo1.fma(FloatVector.fromArray(F, xp, p + 88), lo0.mul(FloatVector.fromArray(F, xp, p + 24))))).fma(d, a3);
            a4 = hi1.fma(FloatVector.fromArray(F, xp, p + 224), hi0.fma(FloatVector.fromArray(F, xp, p + 160), lo1.fma(FloatVector.fromArray(F, xp, p + 96), lo0.mul(FloatVector.fromArray(F, xp, p + 32))))).fma(d, a4);
            a5 = hi1.fma(FloatVector.fromArray(F, xp, p + 232), hi0.fma(FloatVector.fromArray(F, xp, p + 168), lo1.fma(FloatVector.fromArray(F, xp, p + 104), lo0.mul(FloatVector.fromArray(F, xp, p + 40))))).fma(d, a5);
            a6 = hi1.fma(FloatVector.fromArray(F, xp, p + 240), hi0.fma(FloatVector.fromArray(F, xp, p + 176), lo1.fma(FloatVector.fromArray(F, xp, p + 112), lo0.mul(FloatVector.fromArray(F, xp, p + 48))))).fma(d, a6);
            a7 = hi1.fma(FloatVector.fromArray(F, xp, p + 248), hi0.fma(FloatVector.fromArray(F, xp, p + 184), lo1.fma(FloatVector.fromArray(F, xp, p + 120), lo0.mul(FloatVector.fromArray(F, xp, p + 56))))).fma(d, a7);
        }
        out[outOff] = (((a0.lane(0) + a0.lane(4)) + (a0.lane(2) + a0.lane(6))) + ((a0.lane(1) + a0.lane(5)) + (a0.lane(3) + a0.lane(7))));
        out[outOff + outStride] = (((a1.lane(0) + a1.lane(4)) + (a1.lane(2) + a1.lane(6))) + ((a1.lane(1) + a1.lane(5)) + (a1.lane(3) + a1.lane(7))));
        out[outOff + 2 * outStride] = (((a2.lane(0) + a2.lane(4)) + (a2.lane(2) + a2.lane(6))) + ((a2.lane(1) + a2.lane(5)) + (a2.lane(3) + a2.lane(7))));
        out[outOff + 3 * outStride] = (((a3.lane(0) + a3.lane(4)) + (a3.lane(2) + a3.lane(6))) + ((a3.lane(1) + a3.lane(5)) + (a3.lane(3) + a3.lane(7))));
        out[outOff + 4 * outStride] = (((a4.lane(0) + a4.lane(4)) + (a4.lane(2) + a4.lane(6))) + ((a4.lane(1) + a4.lane(5)) + (a4.lane(3) + a4.lane(7))));
        out[outOff + 5 * outStride] = (((a5.lane(0) + a5.lane(4)) + (a5.lane(2) + a5.lane(6))) + ((a5.lane(1) + a5.lane(5)) + (a5.lane(3) + a5.lane(7))));
        out[outOff + 6 * outStride] = (((a6.lane(0) + a6.lane(4)) + (a6.lane(2) + a6.lane(6))) + ((a6.lane(1) + a6.lane(5)) + (a6.lane(3) + a6.lane(7))));
        out[outOff + 7 * outStride] = (((a7.lane(0) + a7.lane(4)) + (a7.lane(2) + a7.lane(6))) + ((a7.lane(1) + a7.lane(5)) + (a7.lane(3) + a7.lane(7))));
    }

    /** {@link #dot8PackedQ4_0} for four activation rows (not packed). */
    static void dot4Q4_0(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
        int nb = n / QK;
        FloatVector z = FloatVector.zero(F);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * 18;
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, w, b + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, w, b + 10, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector lo0 = (FloatVector) q0.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector hi0 = (FloatVector) q0.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector lo1 = (FloatVector) q1.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector hi1 = (FloatVector) q1.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            // each row runs dotQ4_0's exact sequence: one product chain over elements 0-31, then one scaled FMA
            int r = xOff + i * QK;
            a0 = hi1.fma(FloatVector.fromArray(F, x, r + HALF + 8), hi0.fma(FloatVector.fromArray(F, x, r + HALF), lo1.fma(FloatVector.fromArray(F, x, r + 8), lo0.mul(FloatVector.fromArray(F, x, r))))).fma(d, a0);
            r += xStride;
            a1 = hi1.fma(FloatVector.fromArray(F, x, r + HALF + 8), hi0.fma(FloatVector.fromArray(F, x, r + HALF), lo1.fma(FloatVector.fromArray(F, x, r + 8), lo0.mul(FloatVector.fromArray(F, x, r))))).fma(d, a1);
            r += xStride;
            a2 = hi1.fma(FloatVector.fromArray(F, x, r + HALF + 8), hi0.fma(FloatVector.fromArray(F, x, r + HALF), lo1.fma(FloatVector.fromArray(F, x, r + 8), lo0.mul(FloatVector.fromArray(F, x, r))))).fma(d, a2);
            r += xStride;
            a3 = hi1.fma(FloatVector.fromArray(F, x, r + HALF + 8), hi0.fma(FloatVector.fromArray(F, x, r + HALF), lo1.fma(FloatVector.fromArray(F, x, r + 8), lo0.mul(FloatVector.fromArray(F, x, r))))).fma(d, a3);
        }
        out[outOff] = (((a0.lane(0) + a0.lane(4)) + (a0.lane(2) + a0.lane(6))) + ((a0.lane(1) + a0.lane(5)) + (a0.lane(3) + a0.lane(7))));
        out[outOff + outStride] = (((a1.lane(0) + a1.lane(4)) + (a1.lane(2) + a1.lane(6))) + ((a1.lane(1) + a1.lane(5)) + (a1.lane(3) + a1.lane(7))));
        out[outOff + 2 * outStride] = (((a2.lane(0) + a2.lane(4)) + (a2.lane(2) + a2.lane(6))) + ((a2.lane(1) + a2.lane(5)) + (a2.lane(3) + a2.lane(7))));
        out[outOff + 3 * outStride] = (((a3.lane(0) + a3.lane(4)) + (a3.lane(2) + a3.lane(6))) + ((a3.lane(1) + a3.lane(5)) + (a3.lane(3) + a3.lane(7))));
    }

    /** sum (q*d + m) * x = d * sum q*x + m * sum x, per block. */
    static float dotQ4_1(MemorySegment w, long off, float[] x, int xOff, int n) {
        int nb = n / QK;
        FloatVector accQ = FloatVector.zero(F), accM = accQ;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * 20;
            int xo = xOff + i * QK;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, sx = s0;
            for (int c = 0; c < HALF; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 4 + c, LE);
                IntVector qi = (IntVector) q.convertShape(VectorOperators.B2I, I, 0);
                FloatVector lo = (FloatVector) qi.and(0x0F).convert(VectorOperators.I2F, 0);
                FloatVector hi = (FloatVector) qi.lanewise(VectorOperators.LSHR, 4).and(0x0F).convert(VectorOperators.I2F, 0);
                FloatVector x0 = FloatVector.fromArray(F, x, xo + c), x1 = FloatVector.fromArray(F, x, xo + c + HALF);
                s0 = lo.fma(x0, s0);
                s1 = hi.fma(x1, s1);
                sx = sx.add(x0).add(x1);
                if (B_PARTS == 2) {
                    qi = (IntVector) q.convertShape(VectorOperators.B2I, I, 1);
                    lo = (FloatVector) qi.and(0x0F).convert(VectorOperators.I2F, 0);
                    hi = (FloatVector) qi.lanewise(VectorOperators.LSHR, 4).and(0x0F).convert(VectorOperators.I2F, 0);
                    x0 = FloatVector.fromArray(F, x, xo + c + L);
                    x1 = FloatVector.fromArray(F, x, xo + c + L + HALF);
                    s0 = lo.fma(x0, s0);
                    s1 = hi.fma(x1, s1);
                    sx = sx.add(x0).add(x1);
                }
            }
            accQ = s0.add(s1).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b))), accQ);
            accM = sx.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b + 2))), accM);
        }
        return accQ.add(accM).reduceLanes(VectorOperators.ADD);
    }

    /** Q4_0: ((q & 15) - 8) * d; Q4_1: (q & 15) * d + m, multiply then add as the scalar decoder does. */
    static void decodeQ4(MemorySegment w, long off, float[] dst, int dstOff, int n, boolean q41) {
        int nb = n / QK;
        int bytes = q41 ? 20 : 18;
        int head = q41 ? 4 : 2;
        int bias = q41 ? 0 : 8;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * bytes;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            FloatVector m = FloatVector.broadcast(F, q41 ? Float.float16ToFloat(w.get(I16, b + 2)) : 0f);
            int o = dstOff + i * QK;
            for (int c = 0; c < HALF; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + head + c, LE);
                IntVector qi = (IntVector) q.convertShape(VectorOperators.B2I, I, 0);
                FloatVector lo = ((FloatVector) qi.and(0x0F).sub(bias).convert(VectorOperators.I2F, 0)).mul(d);
                FloatVector hi = ((FloatVector) qi.lanewise(VectorOperators.LSHR, 4).and(0x0F).sub(bias).convert(VectorOperators.I2F, 0)).mul(d);
                if (q41) {
                    lo = lo.add(m);
                    hi = hi.add(m);
                }
                lo.intoArray(dst, o + c);
                hi.intoArray(dst, o + c + HALF);
                if (B_PARTS == 2) {
                    qi = (IntVector) q.convertShape(VectorOperators.B2I, I, 1);
                    lo = ((FloatVector) qi.and(0x0F).sub(bias).convert(VectorOperators.I2F, 0)).mul(d);
                    hi = ((FloatVector) qi.lanewise(VectorOperators.LSHR, 4).and(0x0F).sub(bias).convert(VectorOperators.I2F, 0)).mul(d);
                    if (q41) {
                        lo = lo.add(m);
                        hi = hi.add(m);
                    }
                    lo.intoArray(dst, o + c + L);
                    hi.intoArray(dst, o + c + L + HALF);
                }
            }
        }
    }
}
