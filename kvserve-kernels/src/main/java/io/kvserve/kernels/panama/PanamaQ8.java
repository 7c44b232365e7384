package io.kvserve.kernels.panama;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.kvserve.kernels.panama.VectorShapes.B;
import static io.kvserve.kernels.panama.VectorShapes.B_PARTS;
import static io.kvserve.kernels.panama.VectorShapes.F;
import static io.kvserve.kernels.panama.VectorShapes.L;

/**
 * Q8_0 kernels (34-byte blocks: f16 scale, 32 signed bytes). Bytes are sign-extended straight to
 * floats ({@code B2F}: vpmovsxbd + vcvtdq2ps on AVX2); a block's partial sum is scaled once by its d.
 */
final class PanamaQ8 {
    private PanamaQ8() {}

    private static final int QK = 32;
    private static final int BYTES = 34;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    static final BlockKernel Q8_0 = new BlockKernel(QK, BYTES) {
        @Override
        float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
            return PanamaQ8.dot(w, off, x, xOff, n);
        }

        @Override
        void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
            PanamaQ8.decode(w, off, dst, dstOff, n);
        }
    };

    /** Sum over one block of q[j] * x[j] (unscaled). */
    private static FloatVector blockDot(MemorySegment w, long qs, float[] x, int xo) {
        FloatVector s = FloatVector.zero(F);
        for (int c = 0; c < QK; c += B.length()) {
            ByteVector q = ByteVector.fromMemorySegment(B, w, qs + c, LE);
            for (int p = 0; p < B_PARTS; p++) {
                FloatVector qf = (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
                s = qf.fma(FloatVector.fromArray(F, x, xo + c + p * L), s);
            }
        }
        return s;
    }

    static float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
        int nb = n / QK;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        int i = 0;
        // two blocks per iteration: their partial sums are independent, only the scaling FMA chains
        for (; i + 1 < nb; i += 2) {
            long b0 = off + (long) i * BYTES;
            long b1 = b0 + BYTES;
            float d0 = Float.float16ToFloat(w.get(I16, b0));
            float d1 = Float.float16ToFloat(w.get(I16, b1));
            acc0 = blockDot(w, b0 + 2, x, xOff + i * QK).fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = blockDot(w, b1 + 2, x, xOff + (i + 1) * QK).fma(FloatVector.broadcast(F, d1), acc1);
        }
        if (i < nb) {
            long b0 = off + (long) i * BYTES;
            acc0 = blockDot(w, b0 + 2, x, xOff + i * QK).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b0))), acc0);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    static void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
        int nb = n / QK;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * BYTES;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            int o = dstOff + i * QK;
            for (int c = 0; c < QK; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 2 + c, LE);
                for (int p = 0; p < B_PARTS; p++) {
                    ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(d).intoArray(dst, o + c + p * L);
                }
            }
        }
    }
}
