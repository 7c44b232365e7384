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
import static io.kvserve.kernels.panama.VectorShapes.ROT1;
import static io.kvserve.kernels.panama.VectorShapes.ROT2;
import static io.kvserve.kernels.panama.VectorShapes.ROT4;
import static io.kvserve.kernels.panama.VectorShapes.ROT8;

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

        @Override
        void dot4(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
            PanamaQ8.dot4(w, off, x, xOff, xStride, n, out, outOff, outStride);
        }

        @Override
        boolean hasPackedDot8() {
            return L == 8;
        }

        @Override
        void dot8Packed(MemorySegment w, long off, long rowBytes, int rows, float[] xp, int xpOff, int n, float[] out, int outOff, int outStride) {
            PanamaQ8.dot8Packed(w, off, rowBytes, rows, xp, xpOff, n, out, outOff, outStride);
        }

        @Override
        void dot2(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
            PanamaQ8.dot2(w, off, x, xOff, xStride, n, out, outOff, outStride);
        }

        @Override
        int minGemmBatch() {
            return MIN_GEMM_BATCH;
        }
    };

    /**
     * Batches below this size convert each weight block once and FMA it into eight (four, two) rows'
     * sums ({@link #dot8}) instead of going through the GEMM, whose float panel and 2L-lane tiles cost
     * more than they save at decode sizes: `bench serve` on the SmolLM2 shape gave 62 tok/s at 16
     * streams through the GEMM and 86 through two {@link #dot8} per weight row (same machine, back to back).
     */
    static final int MIN_GEMM_BATCH = Integer.getInteger("kvserve.gemm.q8MinBatch", 32);

    // Hot loops are written out in one method: a helper returning a vector that C2 declines to inline
    // (it does so once the helper is "already compiled into a big method") boxes that vector.

    static float dot(MemorySegment w, long off, float[] x, int xOff, int n) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        if (L == 8) {
            // a long block offset from 0 (plus the row's offset) and a running x index: C2 then keeps every
            // address in a register (the general loop below spilled its index arithmetic to the stack). No
            // row slice: C2 does not scalar-replace a slice of a mapped segment, so on a model's weights each
            // row allocated one (350 MB/s at 35 tok/s on the SmolLM2 shape)
            long end = (long) nb * BYTES;
            int xo = xOff;
            for (long b = 0; b < end; b += BYTES, xo += QK) {
                FloatVector s = ((FloatVector) ByteVector.fromMemorySegment(B, w, off + b + 2, LE).convertShape(VectorOperators.B2F, F, 0)).mul(FloatVector.fromArray(F, x, xo));
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, off + b + 10, LE).convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 8), s);
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, off + b + 18, LE).convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 16), s);
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, off + b + 26, LE).convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 24), s);
                acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, off + b))), acc);
            }
            i = nb;
        }
        for (; i < nb; i++) {
            long b = off + (long) i * BYTES;
            int xo = xOff + i * QK;
            // the block's first product is a multiply, not an FMA into zero: one instruction fewer per block,
            // and every multi-row variant below starts its rows the same way, so results stay bit-identical
            ByteVector q0 = ByteVector.fromMemorySegment(B, w, b + 2, LE);
            FloatVector s = ((FloatVector) q0.convertShape(VectorOperators.B2F, F, 0)).mul(FloatVector.fromArray(F, x, xo));
            if (B_PARTS == 2) s = ((FloatVector) q0.convertShape(VectorOperators.B2F, F, 1)).fma(FloatVector.fromArray(F, x, xo + L), s);
            for (int c = B.length(); c < QK; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 2 + c, LE);
                // the part index must be a constant when C2 parses the call, hence no loop over parts
                s = ((FloatVector) q.convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + c), s);
                if (B_PARTS == 2) s = ((FloatVector) q.convertShape(VectorOperators.B2F, F, 1)).fma(FloatVector.fromArray(F, x, xo + c + L), s);
            }
            // a block's partial sum is independent of the previous block's: only this FMA chains
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b))), acc);
        }
        {
            FloatVector t = acc;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            return t.add(t.rearrange(ROT1)).lane(0);
        }
    }

    /** {@link #dot} for four activation rows at once, each weight vector converted once; every result equals {@link #dot}'s. */
    static void dot4(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
        int nb = n / QK;
        int x0 = xOff, x1 = xOff + xStride, x2 = xOff + 2 * xStride, x3 = xOff + 3 * xStride;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * BYTES;
            int xo = i * QK;
            ByteVector q0 = ByteVector.fromMemorySegment(B, w, b + 2, LE);
            FloatVector w0 = (FloatVector) q0.convertShape(VectorOperators.B2F, F, 0);
            FloatVector s0 = w0.mul(FloatVector.fromArray(F, x, x0 + xo));
            FloatVector s1 = w0.mul(FloatVector.fromArray(F, x, x1 + xo));
            FloatVector s2 = w0.mul(FloatVector.fromArray(F, x, x2 + xo));
            FloatVector s3 = w0.mul(FloatVector.fromArray(F, x, x3 + xo));
            if (B_PARTS == 2) {
                FloatVector w1 = (FloatVector) q0.convertShape(VectorOperators.B2F, F, 1);
                s0 = w1.fma(FloatVector.fromArray(F, x, x0 + xo + L), s0);
                s1 = w1.fma(FloatVector.fromArray(F, x, x1 + xo + L), s1);
                s2 = w1.fma(FloatVector.fromArray(F, x, x2 + xo + L), s2);
                s3 = w1.fma(FloatVector.fromArray(F, x, x3 + xo + L), s3);
            }
            for (int c = B.length(); c < QK; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 2 + c, LE);
                FloatVector wv = (FloatVector) q.convertShape(VectorOperators.B2F, F, 0);
                s0 = wv.fma(FloatVector.fromArray(F, x, x0 + xo + c), s0);
                s1 = wv.fma(FloatVector.fromArray(F, x, x1 + xo + c), s1);
                s2 = wv.fma(FloatVector.fromArray(F, x, x2 + xo + c), s2);
                s3 = wv.fma(FloatVector.fromArray(F, x, x3 + xo + c), s3);
                if (B_PARTS == 2) {
                    FloatVector wv1 = (FloatVector) q.convertShape(VectorOperators.B2F, F, 1);
                    s0 = wv1.fma(FloatVector.fromArray(F, x, x0 + xo + c + L), s0);
                    s1 = wv1.fma(FloatVector.fromArray(F, x, x1 + xo + c + L), s1);
                    s2 = wv1.fma(FloatVector.fromArray(F, x, x2 + xo + c + L), s2);
                    s3 = wv1.fma(FloatVector.fromArray(F, x, x3 + xo + c + L), s3);
                }
            }
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            a0 = s0.fma(d, a0);
            a1 = s1.fma(d, a1);
            a2 = s2.fma(d, a2);
            a3 = s3.fma(d, a3);
        }
        {
            FloatVector t = a0;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            out[outOff] = t.add(t.rearrange(ROT1)).lane(0);
        }
        {
            FloatVector t = a1;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            out[outOff + outStride] = t.add(t.rearrange(ROT1)).lane(0);
        }
        {
            FloatVector t = a2;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            out[outOff + 2 * outStride] = t.add(t.rearrange(ROT1)).lane(0);
        }
        {
            FloatVector t = a3;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            out[outOff + 3 * outStride] = t.add(t.rearrange(ROT1)).lane(0);
        }
    }

    /** {@link #dot} for two activation rows at once; every result equals {@link #dot}'s. */
    static void dot2(MemorySegment w, long off, float[] x, int xOff, int xStride, int n, float[] out, int outOff, int outStride) {
        int nb = n / QK;
        int x0 = xOff, x1 = xOff + xStride;
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * BYTES;
            int xo = i * QK;
            ByteVector q0 = ByteVector.fromMemorySegment(B, w, b + 2, LE);
            FloatVector w0 = (FloatVector) q0.convertShape(VectorOperators.B2F, F, 0);
            FloatVector s0 = w0.mul(FloatVector.fromArray(F, x, x0 + xo));
            FloatVector s1 = w0.mul(FloatVector.fromArray(F, x, x1 + xo));
            if (B_PARTS == 2) {
                FloatVector w1 = (FloatVector) q0.convertShape(VectorOperators.B2F, F, 1);
                s0 = w1.fma(FloatVector.fromArray(F, x, x0 + xo + L), s0);
                s1 = w1.fma(FloatVector.fromArray(F, x, x1 + xo + L), s1);
            }
            for (int c = B.length(); c < QK; c += B.length()) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, b + 2 + c, LE);
                FloatVector wv = (FloatVector) q.convertShape(VectorOperators.B2F, F, 0);
                s0 = wv.fma(FloatVector.fromArray(F, x, x0 + xo + c), s0);
                s1 = wv.fma(FloatVector.fromArray(F, x, x1 + xo + c), s1);
                if (B_PARTS == 2) {
                    FloatVector wv1 = (FloatVector) q.convertShape(VectorOperators.B2F, F, 1);
                    s0 = wv1.fma(FloatVector.fromArray(F, x, x0 + xo + c + L), s0);
                    s1 = wv1.fma(FloatVector.fromArray(F, x, x1 + xo + c + L), s1);
                }
            }
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            a0 = s0.fma(d, a0);
            a1 = s1.fma(d, a1);
        }
        {
            FloatVector t = a0;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            out[outOff] = t.add(t.rearrange(ROT1)).lane(0);
        }
        {
            FloatVector t = a1;
            if (L == 16) t = t.add(t.rearrange(ROT8));
            if (L >= 8) t = t.add(t.rearrange(ROT4));
            t = t.add(t.rearrange(ROT2));
            out[outOff + outStride] = t.add(t.rearrange(ROT1)).lane(0);
        }
    }

    /**
     * {@link #dot} for eight activation rows over {@code rows} weight rows, the activations packed by {@code PanamaMatmul.pack8}:
     * block i's chunk c (elements 8c..8c+7) of activation row j sits at {@code xp[xpOff + 256 i + 64 c + 8 j]}.
     * Every activation access is one running index plus a constant, so C2 checks one range per loop where
     * the strided form checked 32 and spilled eight row pointers (about 290 cycles per weight row at n = 576).
     * Each weight block is converted once into four vectors, and each activation row then runs {@link #dot}'s
     * exact sequence of FMAs on it (and its lane sum), so every result equals {@link #dot}'s. 256-bit only.
     */
    static void dot8Packed(MemorySegment w, long off, long rowBytes, int rows, float[] xp, int xpOff, int n, float[] out, int outOff, int outStride) {
        for (int row = 0; row < rows; row++) dot8PackedRow(w, off + row * rowBytes, xp, xpOff, n, out, outOff + row, outStride);
    }

    // one call per weight row: with the row loop in the same method, C2 kept range checks in the block
    // loop and spilled the accumulators
    private static void dot8PackedRow(MemorySegment w, long off, float[] xp, int xpOff, int n, float[] out, int outOff, int outStride) {
        int nb = n / QK;
        FloatVector z = FloatVector.zero(F);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        for (int i = 0; i < nb; i++) {
            long b = off + (long) i * BYTES;
            int p = xpOff + i * 8 * QK;
            FloatVector w0 = (FloatVector) ByteVector.fromMemorySegment(B, w, b + 2, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w1 = (FloatVector) ByteVector.fromMemorySegment(B, w, b + 10, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w2 = (FloatVector) ByteVector.fromMemorySegment(B, w, b + 18, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w3 = (FloatVector) ByteVector.fromMemorySegment(B, w, b + 26, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(I16, b)));
            a0 = w3.fma(FloatVector.fromArray(F, xp, p + 192), w2.fma(FloatVector.fromArray(F, xp, p + 128), w1.fma(FloatVector.fromArray(F, xp, p + 64), w0.mul(FloatVector.fromArray(F, xp, p + 0))))).fma(d, a0);
            a1 = w3.fma(FloatVector.fromArray(F, xp, p + 200), w2.fma(FloatVector.fromArray(F, xp, p + 136), w1.fma(FloatVector.fromArray(F, xp, p + 72), w0.mul(FloatVector.fromArray(F, xp, p + 8))))).fma(d, a1);
            a2 = w3.fma(FloatVector.fromArray(F, xp, p + 208), w2.fma(FloatVector.fromArray(F, xp, p + 144), w1.fma(FloatVector.fromArray(F, xp, p + 80), w0.mul(FloatVector.fromArray(F, xp, p + 16))))).fma(d, a2);
            a3 = w3.fma(FloatVector.fromArray(F, xp, p + 216), w2.fma(FloatVector.fromArray(F, xp, p + 152), w1.fma(FloatVector.fromArray(F, xp, p + 88), w0.mul(FloatVector.fromArray(F, xp, p + 24))))).fma(d, a3);
            a4 = w3.fma(FloatVector.fromArray(F, xp, p + 224), w2.fma(FloatVector.fromArray(F, xp, p + 160), w1.fma(FloatVector.fromArray(F, xp, p + 96), w0.mul(FloatVector.fromArray(F, xp, p + 32))))).fma(d, a4);
            a5 = w3.fma(FloatVector.fromArray(F, xp, p + 232), w2.fma(FloatVector.fromArray(F, xp, p + 168), w1.fma(FloatVector.fromArray(F, xp, p + 104), w0.mul(FloatVector.fromArray(F, xp, p + 40))))).fma(d, a5);
            a6 = w3.fma(FloatVector.fromArray(F, xp, p + 240), w2.fma(FloatVector.fromArray(F, xp, p + 176), w1.fma(FloatVector.fromArray(F, xp, p + 112), w0.mul(FloatVector.fromArray(F, xp, p + 48))))).fma(d, a6);
            a7 = w3.fma(FloatVector.fromArray(F, xp, p + 248), w2.fma(FloatVector.fromArray(F, xp, p + 184), w1.fma(FloatVector.fromArray(F, xp, p + 120), w0.mul(FloatVector.fromArray(F, xp, p + 56))))).fma(d, a7);
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
