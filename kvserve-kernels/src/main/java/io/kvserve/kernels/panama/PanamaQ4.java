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

    /** Sum over one block of q[j] * x[j], with q the raw nibble minus {@code bias} (8 for Q4_0, 0 for Q4_1). */
    private static FloatVector blockDot(MemorySegment w, long qs, float[] x, int xo, int bias) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        for (int c = 0; c < HALF; c += B.length()) {
            ByteVector q = ByteVector.fromMemorySegment(B, w, qs + c, LE);
            for (int p = 0; p < B_PARTS; p++) {
                IntVector qi = (IntVector) q.convertShape(VectorOperators.B2I, I, p);
                FloatVector lo = (FloatVector) qi.and(0x0F).sub(bias).convert(VectorOperators.I2F, 0);
                FloatVector hi = (FloatVector) qi.lanewise(VectorOperators.ASHR, 4).and(0x0F).sub(bias).convert(VectorOperators.I2F, 0);
                int j = xo + c + p * L;
                s0 = lo.fma(FloatVector.fromArray(F, x, j), s0);
                s1 = hi.fma(FloatVector.fromArray(F, x, j + HALF), s1);
            }
        }
        return s0.add(s1);
    }

    /** Sum of x over one block (for Q4_1's minimum term). */
    private static FloatVector blockSum(float[] x, int xo) {
        FloatVector s = FloatVector.fromArray(F, x, xo);
        for (int j = L; j < QK; j += L) s = s.add(FloatVector.fromArray(F, x, xo + j));
        return s;
    }

    static float dotQ4_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        int nb = n / QK;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        int i = 0;
        for (; i + 1 < nb; i += 2) {
            long b0 = off + (long) i * 18;
            long b1 = b0 + 18;
            float d0 = Float.float16ToFloat(w.get(I16, b0));
            float d1 = Float.float16ToFloat(w.get(I16, b1));
            acc0 = blockDot(w, b0 + 2, x, xOff + i * QK, 8).fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = blockDot(w, b1 + 2, x, xOff + (i + 1) * QK, 8).fma(FloatVector.broadcast(F, d1), acc1);
        }
        if (i < nb) {
            long b0 = off + (long) i * 18;
            acc0 = blockDot(w, b0 + 2, x, xOff + i * QK, 8).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b0))), acc0);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** sum (q*d + m) * x = d * sum q*x + m * sum x, per block. */
    static float dotQ4_1(MemorySegment w, long off, float[] x, int xOff, int n) {
        int nb = n / QK;
        FloatVector accQ = FloatVector.zero(F), accM = accQ;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * 20;
            float d = Float.float16ToFloat(w.get(I16, b));
            float m = Float.float16ToFloat(w.get(I16, b + 2));
            int xo = xOff + i * QK;
            accQ = blockDot(w, b + 4, x, xo, 0).fma(FloatVector.broadcast(F, d), accQ);
            accM = blockSum(x, xo).fma(FloatVector.broadcast(F, m), accM);
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
                for (int p = 0; p < B_PARTS; p++) {
                    IntVector qi = (IntVector) q.convertShape(VectorOperators.B2I, I, p);
                    FloatVector lo = ((FloatVector) qi.and(0x0F).sub(bias).convert(VectorOperators.I2F, 0)).mul(d);
                    FloatVector hi = ((FloatVector) qi.lanewise(VectorOperators.ASHR, 4).and(0x0F).sub(bias).convert(VectorOperators.I2F, 0)).mul(d);
                    if (q41) {
                        lo = lo.add(m);
                        hi = hi.add(m);
                    }
                    lo.intoArray(dst, o + c + p * L);
                    hi.intoArray(dst, o + c + p * L + HALF);
                }
            }
        }
    }
}
