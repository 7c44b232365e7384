package io.kvserve.kernels.panama;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.UnsupportedTensorTypeException;
import io.kvserve.kernels.quant.KQuants;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

import static io.kvserve.kernels.quant.KQuants.QK_K;

/**
 * Matrix products with Q4_K, Q5_K and Q6_K weights: {@code out[b * outStride + r] = dot(W row r,
 * x[b * cols ..])} for {@code b < batch}, {@code r} in {@code [row0, row1)}.
 *
 * <p><b>Lane layout.</b> The quants are unpacked 4 bytes per int lane: an {@code IntVector} of
 * {@code L} lanes loaded from {@code 4L} consecutive quant bytes yields, after a shift and a mask,
 * the elements {@code 4k + i} (lane {@code k}) for one byte position {@code i}. Rather than
 * shuffling the weights back into order, each activation row is permuted once per call into the
 * same order: within every aligned group of {@code 4L} elements, element {@code 4k + i} moves to
 * {@code i * L + k}. The groups never straddle a sub-block, so sub-block sums of x are unchanged and
 * one permutation serves all three formats.
 *
 * <p><b>Decode (batch below {@link #MIN_GEMM_BATCH}).</b> Each weight row is streamed once per
 * activation row through a fused unpack-and-FMA loop; the sub-block minimum (Q4_K, Q5_K) and the
 * {@code -32} offset (Q6_K) are applied through precomputed sub-block sums of x, not per element.
 *
 * <p><b>Prefill.</b> Weights are cut into panels of {@link #MR} rows by {@code kc} columns; each
 * super-block is decoded to floats once into a per-thread scratch, then register tiles of
 * {@link #MR} weight rows by {@link #NB} activation rows (12 accumulators) sweep it for every
 * activation row. {@code kc} keeps the activation slice in L2 across all row panels.
 *
 * <p>Vector width: that of {@code kvserve.vector.bits} (or the preferred one), capped at 256 bits
 * because a 512-bit int load would span two Q4_K/Q5_K chunks with different scales. Arguments are
 * trusted (checked by {@code Kernels}).
 */
public final class PanamaKQuant {
    private PanamaKQuant() {}

    /** The species of this file family, fixed once from {@code kvserve.vector.bits} so the JIT folds them. */
    static final class KShapes {
        private KShapes() {}

        static final int BITS = Math.min(256, VectorShapesBits.bits());
        static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(BITS)).check(float.class);
        static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(BITS)).check(int.class);
        /** Float (and int) lanes per vector: 4 or 8. */
        static final int L = F.length();
        /** Int vectors per 32-byte quant chunk. */
        static final int VPC = 8 / L;
        /** Q6_K scale spreaders (8 lanes only): lanes 0-3 take scale 2e, lanes 4-7 scale 2e+1. */
        static final VectorShuffle<Float>[] Q6_SPREAD = q6Spread();
        static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;

        @SuppressWarnings("unchecked")
        private static VectorShuffle<Float>[] q6Spread() {
            VectorShuffle<Float>[] s = new VectorShuffle[4];
            if (L != 8) return s;
            for (int e = 0; e < 4; e++) s[e] = VectorShuffle.fromValues(F, 2 * e, 2 * e, 2 * e, 2 * e, 2 * e + 1, 2 * e + 1, 2 * e + 1, 2 * e + 1);
            return s;
        }
    }

    /** Reads {@code kvserve.vector.bits} like VectorShapes does (missing or invalid: the preferred width). */
    static final class VectorShapesBits {
        private VectorShapesBits() {}

        static int bits() {
            int preferred = FloatVector.SPECIES_PREFERRED.vectorBitSize();
            String p = System.getProperty("kvserve.vector.bits");
            if (p == null || p.isBlank()) return preferred;
            try {
                int b = Integer.parseInt(p.trim());
                return b == 128 || b == 256 || b == 512 ? b : preferred;
            } catch (NumberFormatException e) {
                return preferred;
            }
        }
    }

    private static final VectorSpecies<Float> F = KShapes.F;
    private static final VectorSpecies<Integer> I = KShapes.I;
    private static final int L = KShapes.L;
    private static final int VPC = KShapes.VPC;

    /** Weight rows per register tile and panel. */
    static final int MR = 4;
    /** Activation rows per register tile. */
    static final int NB = 3;
    /** From this batch on, decode-once-to-scratch beats per-row fused dot products. */
    static final int MIN_GEMM_BATCH = Integer.getInteger("kvserve.kquant.minGemmBatch", 4);
    /** Activation floats per column chunk (batch * kc), sized for L2. */
    private static final int X_CHUNK_FLOATS = 64 * 1024;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** Per-thread scratch, grown on demand and then reused. */
    private static final class Scratch {
        float[] xp = new float[0];      // permuted activations, (batchPadded, cols)
        float[] xs = new float[0];      // sums of x per 16 elements, (cols / 16)
        float[] panel = new float[0];   // decoded weights, (MR, kc)
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    public static String describe() {
        return "kquant-" + KShapes.BITS + "x" + L;
    }

    public static void matmul(GgmlType type, MemorySegment w, long wOff, int cols,
                              float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        if (type != GgmlType.Q4_K && type != GgmlType.Q5_K && type != GgmlType.Q6_K) throw new UnsupportedTensorTypeException(type);
        Scratch s = SCRATCH.get();
        if (batch < MIN_GEMM_BATCH) {
            decodeMatmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1, s);
        } else {
            gemm(type, w, wOff, cols, x, batch, out, outStride, row0, row1, s);
        }
    }

    /** Puts x[from, from+cols) into the lane layout at dst[to..]. */
    static void permute(float[] x, int from, float[] dst, int to, int cols) {
        int g = 4 * L;
        for (int base = 0; base < cols; base += g) {
            for (int k = 0; k < L; k++) {
                int src = from + base + 4 * k;
                int d = to + base + k;
                dst[d] = x[src];
                dst[d + L] = x[src + 1];
                dst[d + 2 * L] = x[src + 2];
                dst[d + 3 * L] = x[src + 3];
            }
        }
    }

    // ------------------------------------------------------------------ decode: fused per row

    private static void decodeMatmul(GgmlType type, MemorySegment w, long wOff, int cols, float[] x, int batch,
                                     float[] out, int outStride, int row0, int row1, Scratch s) {
        if (s.xp.length < cols) s.xp = new float[cols];
        if (s.xs.length < cols / 16) s.xs = new float[cols / 16];
        float[] xp = s.xp, xs = s.xs;
        long rowBytes = type.bytesFor(cols);
        int nsb = cols / QK_K;
        for (int b = 0; b < batch; b++) {
            int xo = b * cols;
            permute(x, xo, xp, 0, cols);
            for (int g = 0; g < cols / 16; g++) {
                float sum = 0;
                for (int i = 0; i < 16; i++) sum += x[xo + 16 * g + i];
                xs[g] = sum;
            }
            int oo = b * outStride;
            switch (type) {
                case Q4_K -> { for (int r = row0; r < row1; r++) out[oo + r] = dotQ4K(w, wOff + r * rowBytes, nsb, xp, xs); }
                case Q5_K -> { for (int r = row0; r < row1; r++) out[oo + r] = dotQ5K(w, wOff + r * rowBytes, nsb, xp, xs); }
                default -> { for (int r = row0; r < row1; r++) out[oo + r] = dotQ6K(w, wOff + r * rowBytes, nsb, xp, xs); }
            }
        }
    }

    /** The 6-bit scale of sub-block j from the 12 scale bytes held as lo (bytes 0-7) and hi (bytes 8-11). */
    private static int scaleOf(long lo, int hi, int j) {
        return j < 4
                ? (int) (lo >>> (8 * j)) & 63
                : ((hi >>> (8 * (j - 4))) & 0xF) | ((int) (lo >>> (8 * (j - 4) + 6)) & 3) << 4;
    }

    /** The 6-bit minimum of sub-block j, see {@link #scaleOf}. */
    private static int minOf(long lo, int hi, int j) {
        return j < 4
                ? (int) (lo >>> (8 * (j + 4))) & 63
                : ((hi >>> (8 * (j - 4) + 4)) & 0xF) | ((int) (lo >>> (8 * j + 6)) & 3) << 4;
    }

    /** t + sum over the 4 byte positions of q (values 0..255 per byte) times the matching x vectors. */
    private static FloatVector dot4(IntVector q, float[] xp, int xo, FloatVector t) {
        FloatVector f0 = (FloatVector) q.and(0xFF).convert(VectorOperators.I2F, 0);
        FloatVector f1 = (FloatVector) q.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0);
        FloatVector f2 = (FloatVector) q.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0);
        FloatVector f3 = (FloatVector) q.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0);
        FloatVector a = f0.fma(FloatVector.fromArray(F, xp, xo), t);
        FloatVector c = f1.mul(FloatVector.fromArray(F, xp, xo + L));
        a = f2.fma(FloatVector.fromArray(F, xp, xo + 2 * L), a);
        c = f3.fma(FloatVector.fromArray(F, xp, xo + 3 * L), c);
        return a.add(c);
    }

    private static float dotQ4K(MemorySegment w, long row, int nsb, float[] xp, float[] xs) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float minSum = 0;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + (long) sb * KQuants.Q4_K_BYTES;
            float d = Float.float16ToFloat(w.get(I16, b));
            float dmin = Float.float16ToFloat(w.get(I16, b + 2));
            long sLo = w.get(I64, b + KQuants.Q4_K_SCALES);
            int sHi = w.get(I32, b + KQuants.Q4_K_SCALES + 8);
            int xo = sb * QK_K;
            float m = 0;
            for (int c = 0; c < 4; c++) {
                int j = 2 * c;
                int gs = (xo >> 4) + 4 * c;            // first 16-sum of sub-block j
                m += minOf(sLo, sHi, j) * (xs[gs] + xs[gs + 1]) + minOf(sLo, sHi, j + 1) * (xs[gs + 2] + xs[gs + 3]);
                FloatVector t0 = FloatVector.zero(F), t1 = FloatVector.zero(F);
                for (int v = 0; v < VPC; v++) {
                    IntVector q = IntVector.fromMemorySegment(I, w, b + KQuants.Q4_K_QS + 32 * c + 4 * L * v, LE);
                    int xv = xo + 64 * c + 4 * L * v;
                    t0 = dot4(q.and(0x0F0F0F0F), xp, xv, t0);
                    t1 = dot4(q.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F), xp, xv + 32, t1);
                }
                acc0 = t0.fma(FloatVector.broadcast(F, d * scaleOf(sLo, sHi, j)), acc0);
                acc1 = t1.fma(FloatVector.broadcast(F, d * scaleOf(sLo, sHi, j + 1)), acc1);
            }
            minSum += dmin * m;
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - minSum;
    }

    private static float dotQ5K(MemorySegment w, long row, int nsb, float[] xp, float[] xs) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float minSum = 0;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + (long) sb * KQuants.Q5_K_BYTES;
            float d = Float.float16ToFloat(w.get(I16, b));
            float dmin = Float.float16ToFloat(w.get(I16, b + 2));
            long sLo = w.get(I64, b + KQuants.Q5_K_SCALES);
            int sHi = w.get(I32, b + KQuants.Q5_K_SCALES + 8);
            int xo = sb * QK_K;
            float m = 0;
            for (int c = 0; c < 4; c++) {
                int j = 2 * c;
                int gs = (xo >> 4) + 4 * c;
                m += minOf(sLo, sHi, j) * (xs[gs] + xs[gs + 1]) + minOf(sLo, sHi, j + 1) * (xs[gs + 2] + xs[gs + 3]);
                FloatVector t0 = FloatVector.zero(F), t1 = FloatVector.zero(F);
                for (int v = 0; v < VPC; v++) {
                    IntVector q = IntVector.fromMemorySegment(I, w, b + KQuants.Q5_K_QS + 32 * c + 4 * L * v, LE);
                    IntVector h = IntVector.fromMemorySegment(I, w, b + KQuants.Q5_K_QH + 4 * L * v, LE);
                    // bit 2c (low nibbles) and 2c+1 (high nibbles) of each qh byte, moved to bit 4
                    IntVector hb = c < 2 ? h.lanewise(VectorOperators.LSHL, 4) : h;
                    int sh = c < 2 ? 2 * c : 2 * c - 4;
                    IntVector h0 = hb.lanewise(VectorOperators.LSHR, sh).and(0x10101010);
                    IntVector h1 = hb.lanewise(VectorOperators.LSHR, sh + 1).and(0x10101010);
                    int xv = xo + 64 * c + 4 * L * v;
                    t0 = dot4(q.and(0x0F0F0F0F).or(h0), xp, xv, t0);
                    t1 = dot4(q.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F).or(h1), xp, xv + 32, t1);
                }
                acc0 = t0.fma(FloatVector.broadcast(F, d * scaleOf(sLo, sHi, j)), acc0);
                acc1 = t1.fma(FloatVector.broadcast(F, d * scaleOf(sLo, sHi, j + 1)), acc1);
            }
            minSum += dmin * m;
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - minSum;
    }

    /** The four 6-bit element families of a Q6_K half: e = 0..3 covers elements l + 32e. */
    private static IntVector q6Family(IntVector qa, IntVector qb, IntVector qh, int e) {
        return switch (e) {
            case 0 -> qa.and(0x0F0F0F0F).or(qh.lanewise(VectorOperators.LSHL, 4).and(0x30303030));
            case 1 -> qb.and(0x0F0F0F0F).or(qh.lanewise(VectorOperators.LSHL, 2).and(0x30303030));
            case 2 -> qa.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F).or(qh.and(0x30303030));
            default -> qb.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F).or(qh.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
        };
    }

    /** d * scale for the lanes of family e, part v, of Q6_K half h (8 lanes: two scales per vector). */
    private static FloatVector q6Scales(MemorySegment w, long sc, FloatVector spread, int e, int v, float d) {
        if (L == 8) return spread.rearrange(KShapes.Q6_SPREAD[e]);
        return FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, sc + 2 * e + v));
    }

    private static float dotQ6K(MemorySegment w, long row, int nsb, float[] xp, float[] xs) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float bias = 0;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + (long) sb * KQuants.Q6_K_BYTES;
            float d = Float.float16ToFloat(w.get(I16, b + KQuants.Q6_K_D));
            int xo = sb * QK_K;
            float bs = 0;
            for (int h = 0; h < 2; h++) {
                long sc = b + KQuants.Q6_K_SCALES + 8 * h;
                FloatVector spread = null;
                if (L == 8) {
                    spread = ((FloatVector) ByteVector.fromMemorySegment(KShapes.B64, w, sc, LE)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(d);
                }
                int gs = (xo >> 4) + 8 * h;
                for (int g = 0; g < 8; g++) bs += w.get(ValueLayout.JAVA_BYTE, sc + g) * xs[gs + g];
                for (int v = 0; v < VPC; v++) {
                    long lq = b + KQuants.Q6_K_QL + 64 * h + 4 * L * v;
                    IntVector qa = IntVector.fromMemorySegment(I, w, lq, LE);
                    IntVector qb = IntVector.fromMemorySegment(I, w, lq + 32, LE);
                    IntVector qh = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QH + 32 * h + 4 * L * v, LE);
                    int xv = xo + 128 * h + 4 * L * v;
                    FloatVector t0 = dot4(q6Family(qa, qb, qh, 0), xp, xv, FloatVector.zero(F));
                    FloatVector t1 = dot4(q6Family(qa, qb, qh, 1), xp, xv + 32, FloatVector.zero(F));
                    FloatVector t2 = dot4(q6Family(qa, qb, qh, 2), xp, xv + 64, FloatVector.zero(F));
                    FloatVector t3 = dot4(q6Family(qa, qb, qh, 3), xp, xv + 96, FloatVector.zero(F));
                    acc0 = t0.fma(q6Scales(w, sc, spread, 0, v, d), acc0);
                    acc1 = t1.fma(q6Scales(w, sc, spread, 1, v, d), acc1);
                    acc0 = t2.fma(q6Scales(w, sc, spread, 2, v, d), acc0);
                    acc1 = t3.fma(q6Scales(w, sc, spread, 3, v, d), acc1);
                }
            }
            bias += d * bs;
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - 32 * bias;
    }

    // ------------------------------------------------------------------ prefill: decode once, tile

    private static void gemm(GgmlType type, MemorySegment w, long wOff, int cols, float[] x, int batch,
                             float[] out, int outStride, int row0, int row1, Scratch s) {
        int batchPad = (batch + NB - 1) / NB * NB;
        int kc = Math.max(QK_K, X_CHUNK_FLOATS / batchPad / QK_K * QK_K);
        if (kc >= cols) kc = cols;
        if (s.xp.length < batchPad * cols) s.xp = new float[batchPad * cols];
        if (s.panel.length < MR * kc) s.panel = new float[MR * kc];
        float[] xp = s.xp, panel = s.panel;
        for (int b = 0; b < batch; b++) permute(x, b * cols, xp, b * cols, cols);
        Arrays.fill(xp, batch * cols, batchPad * cols, 0f);
        for (int b = 0; b < batch; b++) Arrays.fill(out, b * outStride + row0, b * outStride + row1, 0f);

        long rowBytes = type.bytesFor(cols);
        int typeSize = type.typeSize;
        for (int k0 = 0; k0 < cols; k0 += kc) {
            int n = Math.min(kc, cols - k0);
            long chunk = wOff + (long) (k0 / QK_K) * typeSize;
            for (int r0 = row0; r0 < row1; r0 += MR) {
                int rows = Math.min(MR, row1 - r0);
                for (int i = 0; i < rows; i++) {
                    long ro = chunk + (r0 + i) * rowBytes;
                    for (int sb = 0; sb < n / QK_K; sb++) {
                        long blk = ro + (long) sb * typeSize;
                        int po = i * kc + sb * QK_K;
                        switch (type) {
                            case Q4_K -> decodeQ4K(w, blk, panel, po, false);
                            case Q5_K -> decodeQ4K(w, blk, panel, po, true);
                            default -> decodeQ6K(w, blk, panel, po);
                        }
                    }
                }
                if (rows < MR) Arrays.fill(panel, rows * kc, MR * kc, 0f);
                for (int b0 = 0; b0 < batch; b0 += NB) {
                    tile(panel, kc, n, xp, b0 * cols + k0, cols, out, outStride, r0, rows, b0, Math.min(NB, batch - b0));
                }
            }
        }
    }

    /** Decodes one Q4_K (or, with {@code q5}, Q5_K) super-block to floats in lane layout at panel[po..]. */
    private static void decodeQ4K(MemorySegment w, long b, float[] panel, int po, boolean q5) {
        float d = Float.float16ToFloat(w.get(I16, b));
        float dmin = Float.float16ToFloat(w.get(I16, b + 2));
        long sLo = w.get(I64, b + 4);
        int sHi = w.get(I32, b + 12);
        long qs = b + (q5 ? KQuants.Q5_K_QS : KQuants.Q4_K_QS);
        for (int c = 0; c < 4; c++) {
            int j = 2 * c;
            FloatVector d0 = FloatVector.broadcast(F, d * scaleOf(sLo, sHi, j));
            FloatVector m0 = FloatVector.broadcast(F, -(dmin * minOf(sLo, sHi, j)));
            FloatVector d1 = FloatVector.broadcast(F, d * scaleOf(sLo, sHi, j + 1));
            FloatVector m1 = FloatVector.broadcast(F, -(dmin * minOf(sLo, sHi, j + 1)));
            for (int v = 0; v < VPC; v++) {
                IntVector q = IntVector.fromMemorySegment(I, w, qs + 32 * c + 4 * L * v, LE);
                IntVector lo = q.and(0x0F0F0F0F);
                IntVector hi = q.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F);
                if (q5) {
                    IntVector h = IntVector.fromMemorySegment(I, w, b + KQuants.Q5_K_QH + 4 * L * v, LE);
                    IntVector hb = c < 2 ? h.lanewise(VectorOperators.LSHL, 4) : h;
                    int sh = c < 2 ? 2 * c : 2 * c - 4;
                    lo = lo.or(hb.lanewise(VectorOperators.LSHR, sh).and(0x10101010));
                    hi = hi.or(hb.lanewise(VectorOperators.LSHR, sh + 1).and(0x10101010));
                }
                int o = po + 64 * c + 4 * L * v;
                store4(lo, d0, m0, panel, o);
                store4(hi, d1, m1, panel, o + 32);
            }
        }
    }

    /** Writes q_i * scale + offset for the four byte positions of q to dst[o + i*L ..]. */
    private static void store4(IntVector q, FloatVector scale, FloatVector offset, float[] dst, int o) {
        ((FloatVector) q.and(0xFF).convert(VectorOperators.I2F, 0)).fma(scale, offset).intoArray(dst, o);
        ((FloatVector) q.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0)).fma(scale, offset).intoArray(dst, o + L);
        ((FloatVector) q.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0)).fma(scale, offset).intoArray(dst, o + 2 * L);
        ((FloatVector) q.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0)).fma(scale, offset).intoArray(dst, o + 3 * L);
    }

    private static void decodeQ6K(MemorySegment w, long b, float[] panel, int po) {
        float d = Float.float16ToFloat(w.get(I16, b + KQuants.Q6_K_D));
        for (int h = 0; h < 2; h++) {
            long sc = b + KQuants.Q6_K_SCALES + 8 * h;
            FloatVector spread = null;
            if (L == 8) {
                spread = ((FloatVector) ByteVector.fromMemorySegment(KShapes.B64, w, sc, LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d);
            }
            for (int v = 0; v < VPC; v++) {
                long lq = b + KQuants.Q6_K_QL + 64 * h + 4 * L * v;
                IntVector qa = IntVector.fromMemorySegment(I, w, lq, LE);
                IntVector qb = IntVector.fromMemorySegment(I, w, lq + 32, LE);
                IntVector qh = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QH + 32 * h + 4 * L * v, LE);
                int o = po + 128 * h + 4 * L * v;
                for (int e = 0; e < 4; e++) {
                    FloatVector s = q6Scales(w, sc, spread, e, v, d);
                    store4(q6Family(qa, qb, qh, e), s, s.mul(-32f), panel, o + 32 * e);
                }
            }
        }
    }

    /**
     * out[(b0 + j) * outStride + r0 + i] += dot(panel row i, xp row b0 + j) over n columns, for
     * i < rows, j < nb; the panel has MR rows (zero past {@code rows}), xp has NB rows from b0 on
     * (zero past the batch).
     */
    private static void tile(float[] panel, int kc, int n, float[] xp, int xo, int cols,
                             float[] out, int outStride, int r0, int rows, int b0, int nb) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00;
        int x1 = xo + cols, x2 = xo + 2 * cols;
        int p1 = kc, p2 = 2 * kc, p3 = 3 * kc;
        for (int k = 0; k < n; k += L) {
            FloatVector v0 = FloatVector.fromArray(F, xp, xo + k);
            FloatVector v1 = FloatVector.fromArray(F, xp, x1 + k);
            FloatVector v2 = FloatVector.fromArray(F, xp, x2 + k);
            FloatVector w0 = FloatVector.fromArray(F, panel, k);
            a00 = w0.fma(v0, a00);
            a01 = w0.fma(v1, a01);
            a02 = w0.fma(v2, a02);
            FloatVector w1 = FloatVector.fromArray(F, panel, p1 + k);
            a10 = w1.fma(v0, a10);
            a11 = w1.fma(v1, a11);
            a12 = w1.fma(v2, a12);
            FloatVector w2 = FloatVector.fromArray(F, panel, p2 + k);
            a20 = w2.fma(v0, a20);
            a21 = w2.fma(v1, a21);
            a22 = w2.fma(v2, a22);
            FloatVector w3 = FloatVector.fromArray(F, panel, p3 + k);
            a30 = w3.fma(v0, a30);
            a31 = w3.fma(v1, a31);
            a32 = w3.fma(v2, a32);
        }
        int o0 = b0 * outStride + r0, o1 = o0 + outStride, o2 = o1 + outStride;
        put(out, o0, rows, a00, a10, a20, a30);
        if (nb > 1) put(out, o1, rows, a01, a11, a21, a31);
        if (nb > 2) put(out, o2, rows, a02, a12, a22, a32);
    }

    private static void put(float[] out, int o, int rows, FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
        out[o] += a0.reduceLanes(VectorOperators.ADD);
        if (rows > 1) out[o + 1] += a1.reduceLanes(VectorOperators.ADD);
        if (rows > 2) out[o + 2] += a2.reduceLanes(VectorOperators.ADD);
        if (rows > 3) out[o + 3] += a3.reduceLanes(VectorOperators.ADD);
    }
}
