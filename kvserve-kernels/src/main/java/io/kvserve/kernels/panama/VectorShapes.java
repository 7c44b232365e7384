package io.kvserve.kernels.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one holder of Vector API species. They are {@code static final} and fixed in the static
 * initializer from system property {@code kvserve.vector.bits} (128, 256 or 512; missing, -1, 0 or
 * anything else means the platform's preferred width), so that the JIT constant-folds them into every
 * kernel. A JVM therefore runs one width only; tests cover the others in forked JVMs.
 */
final class VectorShapes {
    private VectorShapes() {}

    /** The vector width in bits, as chosen from {@code kvserve.vector.bits}. */
    static final int BITS = chooseBits(System.getProperty("kvserve.vector.bits"));

    /** Floats, {@code BITS} wide: every kernel computes in this species. */
    static final VectorSpecies<Float> F = VectorSpecies.of(float.class, VectorShape.forBitSize(BITS));
    /** Float lanes per vector. */
    static final int L = F.length();
    /** Ints with as many lanes as {@link #F} (nibble unpacking, half-float bit tricks). */
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorShape.forBitSize(BITS));
    /** Shorts with as many lanes as {@link #F} (F16 and BF16 loads). */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(BITS / 2));
    /** Bytes with max(8, L) lanes: the narrowest byte load that covers one float vector (64 bits is the smallest shape). */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, L * 8)));
    /** Float vectors per byte vector of {@link #B}: 2 at 128 bits, 1 from 256 bits on. */
    static final int B_PARTS = B.length() / L;

    /**
     * Lane rotations by L/2, L/4, ..., 1 (ROT8 only at 16 lanes, ROT4 from 8 lanes on) for summing a vector's
     * lanes in one fixed order: rotate, add, and so on, then lane 0. Kernels whose results must be
     * bit-identical to each other sum this way rather than with {@code reduceLanes(ADD)}: C2 sums a float
     * reduction as a tree while the interpreter and C1 sum lanes in sequence, so two kernels running at
     * different tiers (a cold one-row dot, a hot eight-row dot) rounded differently. The kernels write the
     * tree out inline: C2 would not inline a helper for it into them, and a vector passed to a call is boxed.
     */
    static final VectorShuffle<Float> ROT8 = VectorShuffle.iota(F, 8 % L, 1, true);
    static final VectorShuffle<Float> ROT4 = VectorShuffle.iota(F, 4 % L, 1, true);
    static final VectorShuffle<Float> ROT2 = VectorShuffle.iota(F, 2, 1, true);
    static final VectorShuffle<Float> ROT1 = VectorShuffle.iota(F, 1, 1, true);

    static int chooseBits(String prop) {
        int preferred = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        if (prop == null || prop.isBlank()) return preferred;
        try {
            int bits = Integer.parseInt(prop.trim());
            return bits == 128 || bits == 256 || bits == 512 ? bits : preferred;
        } catch (NumberFormatException e) {
            return preferred;
        }
    }
}
