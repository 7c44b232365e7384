package io.kvserve.kernels.panama;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.UnsupportedTensorTypeException;
import io.kvserve.kernels.quant.KQuants;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorMask;
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
 * <p><b>Decode (batch below {@link #MIN_GEMM_BATCH}).</b> Each weight row is streamed through a
 * fused unpack-and-FMA loop, for one activation row or for {@link #RB} at once (each weight vector
 * unpacked once, multiplied into four accumulators). The sub-block minimum (Q4_K, Q5_K) and the
 * {@code -32} offset (Q6_K) are applied through precomputed sub-block sums of x, not per element.
 *
 * <p><b>Prefill.</b> Weights are cut into panels of {@link #MR} rows by {@code kc} columns; each
 * super-block is decoded to floats once into a per-thread scratch, then register tiles of
 * {@link #MR} weight rows by {@link #NB} activation rows (12 accumulators) sweep it for every
 * activation row. {@code kc} keeps the activation slice in L2 across all row panels.
 *
 * <p>Vector width: that of {@code kvserve.vector.bits} (or the preferred one), clamped to 128..256
 * bits: a 512-bit int load would span two Q4_K/Q5_K chunks with different scales, and below 128
 * bits a vector would cover less than one Q6_K scale group. Arguments are
 * trusted (checked by {@code Kernels}).
 */
public final class PanamaKQuant {
    private PanamaKQuant() {}

    /** The species of this file family, fixed once from {@code kvserve.vector.bits} so the JIT folds them. */
    static final class KShapes {
        private KShapes() {}

        /** 128 or 256: the lane layout needs 4 or 8 int lanes (a 32-byte chunk is 1 or 2 vectors). */
        static final int BITS = Math.max(128, Math.min(256, VectorShapes.BITS));
        static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(BITS)).check(float.class);
        static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(BITS)).check(int.class);
        /** Float (and int) lanes per vector: 4 or 8. */
        static final int L = F.length();
        /** Int vectors per 32-byte quant chunk. */
        static final int VPC = 8 / L;
        /** Lanes 4-7 at 8 lanes (Q6_K vectors there span two 16-element scale groups). */
        static final VectorMask<Float> UPPER_HALF = VectorMask.fromLong(F, 0xF0L);
        static final VectorMask<Integer> UPPER_HALF_I = VectorMask.fromLong(I, 0xF0L);
        /** Shift that brings byte (lane & 3) of an int to the bottom (8 lanes). */
        static final IntVector BYTE_SHIFTS = IntVector.fromArray(I, new int[]{0, 8, 16, 24, 0, 8, 16, 24}, 0);
        /** Shift that brings byte (lane & 3) of an int to the top, for sign extension (8 lanes). */
        static final IntVector BYTE_TOP = IntVector.fromArray(I, new int[]{24, 16, 8, 0, 24, 16, 8, 0}, 0);
        /** Lane rotations of the fixed-order lane sum (see VectorShapes.ROT1): by 4 (8 lanes only), 2 and 1. */
        static final VectorShuffle<Float> ROT4 = VectorShuffle.iota(F, 4 % L, 1, true);
        static final VectorShuffle<Float> ROT2 = VectorShuffle.iota(F, 2, 1, true);
        static final VectorShuffle<Float> ROT1 = VectorShuffle.iota(F, 1, 1, true);
    }

    private static final VectorSpecies<Float> F = KShapes.F;
    private static final VectorSpecies<Integer> I = KShapes.I;
    private static final int L = KShapes.L;
    private static final int VPC = KShapes.VPC;

    /** Activation rows per pass of the small-batch kernels, which unpack each weight once for all of them. */
    static final int RB = 4;
    /** Weight rows per register tile and panel. */
    static final int MR = 4;
    /** Activation rows per register tile. */
    static final int NB = 3;
    /**
     * Whether decode batches give every activation row exactly its one-row result
     * ({@code -Dkvserve.kquant.batchInvariant=true}; default false). The four-row kernels and the GEMM sum in
     * another order than the one-row kernel, so the last bits of a stream's logits depend on its batch (its
     * greedy tokens only at near-ties). Invariant batches run each row through the one-row kernel and start
     * the GEMM at 32 rows, as Q8_0 and Q4_0 do, but a K-quant row then re-reads its weights for every
     * stream instead of unpacking them once for four: `MatmulProbe Q4_K 2048x2048 8` 2.4 -> 7.0-7.3 ms, too
     * much to be the default for the files most users serve (Q4_K_M).
     */
    static final boolean BATCH_INVARIANT = Boolean.getBoolean("kvserve.kquant.batchInvariant");
    /** From this batch on, decode-once-to-scratch beats the fused kernels (measured crossover 8 to 16 on Zen3). */
    static final int MIN_GEMM_BATCH = Integer.getInteger("kvserve.kquant.minGemmBatch", BATCH_INVARIANT ? 32 : 8);
    /** Activation floats per column chunk (batch * kc), sized for L2. */
    private static final int X_CHUNK_FLOATS = 64 * 1024;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    /** Per-thread scratch, grown on demand and then reused. */
    private static final class Scratch {
        float[] xp = new float[0];      // permuted activations, (batchPadded, cols)
        float[] xs = new float[0];      // sums of x per scale group (16 or 32 elements)
        float[] panel = new float[0];   // decoded weights, (MR, kc)
        final float[] sd = new float[16];  // one block's scales (and minimums)
        final float[] res = new float[RB];   // results of the RB-row kernels
        final float[] offs = new float[RB];  // their minimum (Q4_K, Q5_K) or -32 (Q6_K) terms
    }

    /** Stand-in x sums for the scale helpers when only the scales are wanted. */
    private static final float[] ZEROS = new float[16];  // never written

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** The vector shape in use, for logs and benchmark reports, e.g. "kquant-256x8". */
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
        int group = type == GgmlType.Q6_K ? 16 : 32;              // elements per scale: Q6_K 16, Q4_K/Q5_K 32
        int ng = cols / group;
        if (s.xp.length < RB * cols) s.xp = new float[RB * cols];
        if (s.xs.length < RB * ng) s.xs = new float[RB * ng];
        float[] xp = s.xp, xs = s.xs, sd = s.sd, res = s.res;
        long rowBytes = type.bytesFor(cols);
        int nsb = cols / QK_K;
        for (int b0 = 0; b0 < batch; ) {
            // a lone row takes the 1-row kernel, and so does every row of a batch-invariant batch
            int nb = BATCH_INVARIANT || batch - b0 == 1 ? 1 : Math.min(RB, batch - b0);
            for (int i = 0; i < (nb == 1 ? 1 : RB); i++) {
                if (i < nb) {
                    int xo = (b0 + i) * cols;
                    permute(x, xo, xp, i * cols, cols);
                    for (int g = 0; g < ng; g++) {
                        float sum = 0;
                        for (int k = 0; k < group; k++) sum += x[xo + group * g + k];
                        xs[i * ng + g] = sum;
                    }
                } else {                                            // padding rows of the RB-row kernel
                    Arrays.fill(xp, i * cols, (i + 1) * cols, 0f);
                    Arrays.fill(xs, i * ng, (i + 1) * ng, 0f);
                }
            }
            int oo = b0 * outStride;
            for (int r = row0; r < row1; r++) {
                long ro = wOff + r * rowBytes;
                if (nb == 1) {
                    out[oo + r] = switch (type) {
                        case Q4_K -> dotQ4K(w, ro, nsb, xp, xs, sd);
                        case Q5_K -> dotQ5K(w, ro, nsb, xp, xs, sd);
                        default -> dotQ6K(w, ro, nsb, xp, xs, sd);
                    };
                } else {
                    if (type == GgmlType.Q6_K) {
                        dotQ6Kx4(w, ro, nsb, xp, cols, xs, ng, sd, res, s.offs);
                    } else {
                        dotQ45Kx4(w, ro, nsb, xp, cols, xs, ng, sd, res, s.offs, type == GgmlType.Q5_K);
                    }
                    for (int i = 0; i < nb; i++) out[oo + i * outStride + r] = res[i];
                }
            }
            b0 += nb;
        }
    }

    /*
     * C2 inlines the Vector API only while a compiled method stays under its node budget; a vector
     * passed to a method that was not inlined, or merged from two branches, is boxed on the heap.
     * So: scalar work (scales, minimum sums) lives in small helpers that fill a float[] scratch,
     * each vector loop body has at most two dot4 call sites, and per-iteration differences are
     * shift counts and addresses, never a choice between two vectors.
     */

    /**
     * Q4_K/Q5_K scales of the block at b: sd[j] = d * scale_j, sd[8 + j] = dmin * min_j. Returns
     * {@code sum_j sd[8 + j] * xs32[g + j]}, xs32 holding the sums of x per sub-block of 32.
     * The 12 packed bytes are rearranged with ggml's SWAR trick into 8 scale bytes and 8 minimum
     * bytes; at 8 lanes those become two float vectors directly.
     */
    private static float unpackScaleMin(MemorySegment w, long b, float[] sd, float[] xs32, int g) {
        float d = Float.float16ToFloat(w.get(I16, b));
        float dmin = Float.float16ToFloat(w.get(I16, b + 2));
        int u0 = w.get(I32, b + 4), u1 = w.get(I32, b + 8), u2 = w.get(I32, b + 12);
        int sc0 = u0 & 0x3f3f3f3f;                                              // scales 0-3
        int sc1 = (u2 & 0x0f0f0f0f) | (((u0 >>> 6) & 0x03030303) << 4);        // scales 4-7
        int mn0 = u1 & 0x3f3f3f3f;                                              // mins 0-3
        int mn1 = ((u2 >>> 4) & 0x0f0f0f0f) | (((u1 >>> 6) & 0x03030303) << 4); // mins 4-7
        if (L == 8) {
            // lane j takes byte j & 3 of the low word (j < 4) or the high word
            FloatVector sv = (FloatVector) IntVector.broadcast(I, sc0).blend(sc1, KShapes.UPPER_HALF_I)
                    .lanewise(VectorOperators.LSHR, KShapes.BYTE_SHIFTS).and(0xFF).convert(VectorOperators.I2F, 0);
            FloatVector mv = (FloatVector) IntVector.broadcast(I, mn0).blend(mn1, KShapes.UPPER_HALF_I)
                    .lanewise(VectorOperators.LSHR, KShapes.BYTE_SHIFTS).and(0xFF).convert(VectorOperators.I2F, 0);
            sv.mul(d).intoArray(sd, 0);
            FloatVector dm = mv.mul(dmin);
            dm.intoArray(sd, 8);
            return laneSum(dm.mul(FloatVector.fromArray(F, xs32, g)));
        }
        float m = 0;
        for (int j = 0; j < 8; j++) {
            int sc = ((j < 4 ? sc0 : sc1) >>> (8 * (j & 3))) & 0xFF;
            int mn = ((j < 4 ? mn0 : mn1) >>> (8 * (j & 3))) & 0xFF;
            sd[j] = d * sc;
            sd[8 + j] = dmin * mn;
            m += mn * xs32[g + j];
        }
        return dmin * m;
    }

    /** The 8 signed bytes of lo (lanes 0-3) and hi (lanes 4-7) as floats; 8 lanes only. */
    private static FloatVector int8Lanes(int lo, int hi) {
        return (FloatVector) IntVector.broadcast(I, lo).blend(hi, KShapes.UPPER_HALF_I)
                .lanewise(VectorOperators.LSHL, KShapes.BYTE_TOP).lanewise(VectorOperators.ASHR, 24)
                .convert(VectorOperators.I2F, 0);
    }

    /** Q6_K scales of the block at b: sd[i] = d * scale_i. Returns {@code sum_i sd[i] * xs16[g + i]}. */
    private static float unpackQ6Scales(MemorySegment w, long b, float[] sd, float[] xs16, int g) {
        float d = Float.float16ToFloat(w.get(I16, b + KQuants.Q6_K_D));
        if (L == 8) {
            FloatVector bias = FloatVector.zero(F);
            for (int k = 0; k < 2; k++) {
                long sc = b + KQuants.Q6_K_SCALES + 8 * k;
                FloatVector sv = int8Lanes(w.get(I32, sc), w.get(I32, sc + 4)).mul(d);
                sv.intoArray(sd, 8 * k);
                bias = sv.fma(FloatVector.fromArray(F, xs16, g + 8 * k), bias);
            }
            return laneSum(bias);
        }
        float sum = 0;
        for (int i = 0; i < 16; i++) {
            sd[i] = d * w.get(ValueLayout.JAVA_BYTE, b + KQuants.Q6_K_SCALES + i);
            sum += sd[i] * xs16[g + i];
        }
        return sum;
    }

    /**
     * t + sum over the 4 byte positions of q (values 0..255 per byte) times the matching x vectors.
     * A loop rather than four copies: it keeps the callers under C2's inlining node budget, and C2
     * unrolls it anyway.
     */
    private static FloatVector dot4(IntVector q, float[] xp, int xo, FloatVector t) {
        for (int i = 0; i < 4; i++) {
            FloatVector f = (FloatVector) q.lanewise(VectorOperators.LSHR, 8 * i).and(0xFF).convert(VectorOperators.I2F, 0);
            t = f.fma(FloatVector.fromArray(F, xp, xo + i * L), t);
        }
        return t;
    }

    /** Q4_K: sub-block j is nibble j & 1 of qs bytes [32 (j >> 1), +32). */
    private static float dotQ4K(MemorySegment w, long row, int nsb, float[] xp, float[] xs, float[] sd) {
        FloatVector acc = FloatVector.zero(F);
        float minSum = 0;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + (long) sb * KQuants.Q4_K_BYTES;
            int xo = sb * QK_K;
            minSum += unpackScaleMin(w, b, sd, xs, xo >> 5);
            for (int j = 0; j < 8; j++) {
                FloatVector t = FloatVector.zero(F);
                for (int v = 0; v < VPC; v++) {
                    IntVector q = IntVector.fromMemorySegment(I, w, b + KQuants.Q4_K_QS + 32 * (j >> 1) + 4 * L * v, LE);
                    t = dot4(q.lanewise(VectorOperators.LSHR, 4 * (j & 1)).and(0x0F0F0F0F), xp, xo + 32 * j + 4 * L * v, t);
                }
                acc = t.fma(FloatVector.broadcast(F, sd[j]), acc);
            }
        }
        return laneSum(acc) - minSum;
    }

    /**
     * The lanes of {@code t} summed. Batch-invariant decode needs one lane order in every JIT tier
     * ({@code reduceLanes} sums as a tree in C2 but in sequence in C1), so it rotates and adds; the rotations
     * cost about 12% of a one-row Q4_K dot, so only then.
     */
    private static float laneSum(FloatVector t) {
        if (!BATCH_INVARIANT) return t.reduceLanes(VectorOperators.ADD);
        if (KShapes.L == 8) t = t.add(t.rearrange(KShapes.ROT4));
        t = t.add(t.rearrange(KShapes.ROT2));
        return t.add(t.rearrange(KShapes.ROT1)).lane(0);
    }

    /** Q5_K values of sub-block j: its Q4_K nibble plus bit j of each qh byte as 16. */
    private static IntVector q5Values(IntVector q, IntVector qh, int j) {
        IntVector nibble = q.lanewise(VectorOperators.LSHR, 4 * (j & 1)).and(0x0F0F0F0F);
        return nibble.or(qh.lanewise(VectorOperators.LSHR, j).lanewise(VectorOperators.LSHL, 4).and(0x10101010));
    }

    private static float dotQ5K(MemorySegment w, long row, int nsb, float[] xp, float[] xs, float[] sd) {
        FloatVector acc = FloatVector.zero(F);
        float minSum = 0;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + (long) sb * KQuants.Q5_K_BYTES;
            int xo = sb * QK_K;
            minSum += unpackScaleMin(w, b, sd, xs, xo >> 5);
            for (int j = 0; j < 8; j++) {
                FloatVector t = FloatVector.zero(F);
                for (int v = 0; v < VPC; v++) {
                    IntVector q = IntVector.fromMemorySegment(I, w, b + KQuants.Q5_K_QS + 32 * (j >> 1) + 4 * L * v, LE);
                    IntVector qh = IntVector.fromMemorySegment(I, w, b + KQuants.Q5_K_QH + 4 * L * v, LE);
                    t = dot4(q5Values(q, qh, j), xp, xo + 32 * j + 4 * L * v, t);
                }
                acc = t.fma(FloatVector.broadcast(F, sd[j]), acc);
            }
        }
        return laneSum(acc) - minSum;
    }

    /**
     * Q6_K values (0..63) of family f (elements 32f..32f+31 of a 128-element half): nibble f >> 1 of
     * ql bytes [32 (f & 1), +32), and bits 2f, 2f+1 of qh, one value per byte.
     */
    private static IntVector q6Values(IntVector ql, IntVector qh, int f) {
        IntVector low = ql.lanewise(VectorOperators.LSHR, 4 * (f >> 1)).and(0x0F0F0F0F);
        return low.or(qh.lanewise(VectorOperators.LSHR, 2 * f).lanewise(VectorOperators.LSHL, 4).and(0x30303030));
    }

    /** d * scale for the lanes of a Q6_K vector: at 8 lanes, lanes 0-3 take sd[i] and lanes 4-7 sd[i + 1]. */
    private static FloatVector q6Scale(float[] sd, int i) {
        FloatVector s = FloatVector.broadcast(F, sd[i]);
        return L == 8 ? s.blend(sd[i + 1], KShapes.UPPER_HALF) : s;
    }

    private static float dotQ6K(MemorySegment w, long row, int nsb, float[] xp, float[] xs, float[] sd) {
        FloatVector acc = FloatVector.zero(F);
        float bias = 0;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + (long) sb * KQuants.Q6_K_BYTES;
            int xo = sb * QK_K;
            bias += unpackQ6Scales(w, b, sd, xs, xo >> 4);
            for (int hf = 0; hf < 8; hf++) {           // half h = hf >> 2 of the block, family f = hf & 3
                int h = hf >> 2, f = hf & 3;
                for (int v = 0; v < VPC; v++) {
                    long part = 4L * L * v;
                    IntVector ql = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QL + 64 * h + 32 * (f & 1) + part, LE);
                    IntVector qh = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QH + 32 * h + part, LE);
                    FloatVector t = dot4(q6Values(ql, qh, f), xp, xo + 128 * h + 32 * f + 4 * L * v, FloatVector.zero(F));
                    acc = t.fma(q6Scale(sd, 8 * h + 2 * f + (L == 8 ? 0 : v)), acc);
                }
            }
        }
        return laneSum(acc) - 32 * bias;
    }

    /**
     * offs[i] += sum_k sd[sdOff + k] * xs[i * ng + g + k] for the RB activation rows: the per
     * sub-block offsets of the RB-row kernels, kept out of them to stay within the inlining budget.
     */
    private static void addOffsets(float[] sd, int sdOff, int n, float[] xs, int g, int ng, float[] offs) {
        for (int i = 0; i < RB; i++) {
            float sum = 0;
            for (int k = 0; k < n; k++) sum += sd[sdOff + k] * xs[i * ng + g + k];
            offs[i] += sum;
        }
    }

    /**
     * Q4_K (or Q5_K with {@code q5}) row r against RB activation rows at xp[i * cols ..]: each
     * weight vector is unpacked once and multiplied into RB accumulators. Q4_K runs the Q5_K code
     * with the high-bit mask 0, so both share one vector path without a vector-valued branch.
     */
    private static void dotQ45Kx4(MemorySegment w, long row, int nsb, float[] xp, int cols, float[] xs, int ng,
                                  float[] sd, float[] res, float[] offs, boolean q5) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        Arrays.fill(offs, 0f);
        long typeSize = q5 ? KQuants.Q5_K_BYTES : KQuants.Q4_K_BYTES;
        long qsOff = q5 ? KQuants.Q5_K_QS : KQuants.Q4_K_QS;
        int highMask = q5 ? 0x10101010 : 0;                  // Q4_K: whatever is loaded as qh is masked off
        int x1 = cols, x2 = 2 * cols, x3 = 3 * cols;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + sb * typeSize;
            int xo = sb * QK_K;
            unpackScaleMin(w, b, sd, ZEROS, 0);
            int g = xo >> 5;
            addOffsets(sd, 8, 8, xs, g, ng, offs);
            for (int j = 0; j < 8; j++) {
                FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
                for (int v = 0; v < VPC; v++) {
                    IntVector q = IntVector.fromMemorySegment(I, w, b + qsOff + 32 * (j >> 1) + 4 * L * v, LE);
                    IntVector h = IntVector.fromMemorySegment(I, w, b + KQuants.Q5_K_QH + 4 * L * v, LE);
                    IntVector vals = q.lanewise(VectorOperators.LSHR, 4 * (j & 1)).and(0x0F0F0F0F)
                            .or(h.lanewise(VectorOperators.LSHR, j).lanewise(VectorOperators.LSHL, 4).and(highMask));
                    int xv = xo + 32 * j + 4 * L * v;
                    for (int i = 0; i < 4; i++) {
                        FloatVector f = (FloatVector) vals.lanewise(VectorOperators.LSHR, 8 * i).and(0xFF).convert(VectorOperators.I2F, 0);
                        int o = xv + i * L;
                        t0 = f.fma(FloatVector.fromArray(F, xp, o), t0);
                        t1 = f.fma(FloatVector.fromArray(F, xp, x1 + o), t1);
                        t2 = f.fma(FloatVector.fromArray(F, xp, x2 + o), t2);
                        t3 = f.fma(FloatVector.fromArray(F, xp, x3 + o), t3);
                    }
                }
                FloatVector sc = FloatVector.broadcast(F, sd[j]);
                a0 = t0.fma(sc, a0);
                a1 = t1.fma(sc, a1);
                a2 = t2.fma(sc, a2);
                a3 = t3.fma(sc, a3);
            }
        }
        res[0] = a0.reduceLanes(VectorOperators.ADD) - offs[0];
        res[1] = a1.reduceLanes(VectorOperators.ADD) - offs[1];
        res[2] = a2.reduceLanes(VectorOperators.ADD) - offs[2];
        res[3] = a3.reduceLanes(VectorOperators.ADD) - offs[3];
    }

    /** Q6_K row r against RB activation rows, as {@link #dotQ45Kx4}. */
    private static void dotQ6Kx4(MemorySegment w, long row, int nsb, float[] xp, int cols, float[] xs, int ng,
                                 float[] sd, float[] res, float[] offs) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        Arrays.fill(offs, 0f);
        int x1 = cols, x2 = 2 * cols, x3 = 3 * cols;
        for (int sb = 0; sb < nsb; sb++) {
            long b = row + (long) sb * KQuants.Q6_K_BYTES;
            int xo = sb * QK_K;
            unpackQ6Scales(w, b, sd, ZEROS, 0);
            int g = xo >> 4;
            addOffsets(sd, 0, 16, xs, g, ng, offs);           // the -32 offset, through sums of x per 16
            for (int hf = 0; hf < 8; hf++) {
                int h = hf >> 2, f = hf & 3;
                for (int v = 0; v < VPC; v++) {
                    long part = 4L * L * v;
                    IntVector ql = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QL + 64 * h + 32 * (f & 1) + part, LE);
                    IntVector qh = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QH + 32 * h + part, LE);
                    IntVector vals = q6Values(ql, qh, f);
                    int xv = xo + 128 * h + 32 * f + 4 * L * v;
                    FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
                    for (int i = 0; i < 4; i++) {
                        FloatVector fv = (FloatVector) vals.lanewise(VectorOperators.LSHR, 8 * i).and(0xFF).convert(VectorOperators.I2F, 0);
                        int o = xv + i * L;
                        t0 = fv.fma(FloatVector.fromArray(F, xp, o), t0);
                        t1 = fv.fma(FloatVector.fromArray(F, xp, x1 + o), t1);
                        t2 = fv.fma(FloatVector.fromArray(F, xp, x2 + o), t2);
                        t3 = fv.fma(FloatVector.fromArray(F, xp, x3 + o), t3);
                    }
                    FloatVector sc = q6Scale(sd, 8 * h + 2 * f + (L == 8 ? 0 : v));
                    a0 = t0.fma(sc, a0);
                    a1 = t1.fma(sc, a1);
                    a2 = t2.fma(sc, a2);
                    a3 = t3.fma(sc, a3);
                }
            }
        }
        res[0] = a0.reduceLanes(VectorOperators.ADD) - 32 * offs[0];
        res[1] = a1.reduceLanes(VectorOperators.ADD) - 32 * offs[1];
        res[2] = a2.reduceLanes(VectorOperators.ADD) - 32 * offs[2];
        res[3] = a3.reduceLanes(VectorOperators.ADD) - 32 * offs[3];
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
                            case Q4_K -> decodeQ4K(w, blk, panel, po, s.sd, ZEROS, false);
                            case Q5_K -> decodeQ4K(w, blk, panel, po, s.sd, ZEROS, true);
                            default -> decodeQ6K(w, blk, panel, po, s.sd, ZEROS);
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
    private static void decodeQ4K(MemorySegment w, long b, float[] panel, int po, float[] sd, float[] zeros, boolean q5) {
        unpackScaleMin(w, b, sd, zeros, 0);
        long qs = b + (q5 ? KQuants.Q5_K_QS : KQuants.Q4_K_QS);
        for (int j = 0; j < 8; j++) {
            FloatVector scale = FloatVector.broadcast(F, sd[j]);
            FloatVector offset = FloatVector.broadcast(F, -sd[8 + j]);
            for (int v = 0; v < VPC; v++) {
                IntVector q = IntVector.fromMemorySegment(I, w, qs + 32 * (j >> 1) + 4 * L * v, LE);
                IntVector values;
                if (q5) {
                    values = q5Values(q, IntVector.fromMemorySegment(I, w, b + KQuants.Q5_K_QH + 4 * L * v, LE), j);
                } else {
                    values = q.lanewise(VectorOperators.LSHR, 4 * (j & 1)).and(0x0F0F0F0F);
                }
                store4(values, scale, offset, panel, po + 32 * j + 4 * L * v);
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

    private static void decodeQ6K(MemorySegment w, long b, float[] panel, int po, float[] sd, float[] zeros) {
        unpackQ6Scales(w, b, sd, zeros, 0);
        for (int hf = 0; hf < 8; hf++) {
            int h = hf >> 2, f = hf & 3;
            for (int v = 0; v < VPC; v++) {
                long part = 4L * L * v;
                IntVector ql = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QL + 64 * h + 32 * (f & 1) + part, LE);
                IntVector qh = IntVector.fromMemorySegment(I, w, b + KQuants.Q6_K_QH + 32 * h + part, LE);
                FloatVector scale = q6Scale(sd, 8 * h + 2 * f + (L == 8 ? 0 : v));
                store4(q6Values(ql, qh, f), scale, scale.mul(-32f), panel, po + 128 * h + 32 * f + 4 * L * v);
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
