package io.kvserve.kernels.panama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** The one holder of Vector API species, fixed once at start-up. */
final class VectorShapes {
    static VectorSpecies<Float> F;

    private VectorShapes() {}

    static int preferredBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }

    static synchronized void init(int bits) {
        F = FloatVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(bits)).check(Float.class);
    }
}
