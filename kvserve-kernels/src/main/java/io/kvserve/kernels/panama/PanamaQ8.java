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

    // Hot loops are written out in one method: a helper returning a vector that C2 declines to inline
    // (it does so once the helper is "already compiled into a big method") boxes that vector.

    static float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * BYTES;
            int xo = xOff + i * QK;
            FloatVector s = FloatVector.zero(F);
            for (int c = 0; c < QK; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 2 + c, LE);
                // the part index must be a constant when C2 parses the call, hence no loop over parts
                s = ((FloatVector) q.convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + c), s);
                if (B_PARTS == 2) s = ((FloatVector) q.convertShape(VectorOperators.B2F, F, 1)).fma(FloatVector.fromArray(F, x, xo + c + L), s);
            }
            // a block's partial sum is independent of the previous block's: only this FMA chains
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b))), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static void decode(MemorySegment w, long off, float[] dst, int dstOff, int n) {
        int nb = n / QK;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * BYTES;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            int o = dstOff + i * QK;
            for (int c = 0; c < QK; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 2 + c, LE);
                ((FloatVector) q.convertShape(VectorOperators.B2F, F, 0)).mul(d).intoArray(dst, o + c);
                if (B_PARTS == 2) ((FloatVector) q.convertShape(VectorOperators.B2F, F, 1)).mul(d).intoArray(dst, o + c + L);
            }
        }
    }
}
