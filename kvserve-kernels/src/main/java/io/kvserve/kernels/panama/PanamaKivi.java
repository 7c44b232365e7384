package io.kvserve.kernels.panama;

import io.kvserve.kernels.kv.KvFormats;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static io.kvserve.kernels.panama.VectorShapes.B;
import static io.kvserve.kernels.panama.VectorShapes.B_PARTS;
import static io.kvserve.kernels.panama.VectorShapes.F;
import static io.kvserve.kernels.panama.VectorShapes.I;
import static io.kvserve.kernels.panama.VectorShapes.L;

/**
 * KIVI key scores with fused dequantisation, tokens in lanes: for each channel, one byte load holds
 * the codes of consecutive tokens of one bit plane ({@link KvFormats} packs them so), which are
 * shifted, masked, converted and multiplied into the running scores by {@code q[c] * scale[c]}.
 * Groups whose bit planes are narrower than a byte vector use the scalar specification.
 */
final class PanamaKivi {
    private PanamaKivi() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static void keyScores(MemorySegment s, long off, int n, int g, int bits, int meta, float[] q, int qOff, float scale,
                          float[] out, int outOff, int count) {
        int plane = g * bits / 8;
        if (count != g || plane % B.length() != 0) {
            KvFormats.keyGroupScores(s, off, n, g, bits, meta, q, qOff, scale, out, outOff, count);
            return;
        }
        int rec = KvFormats.keyChannelBytes(g, bits, meta), planes = 8 / bits, mask = (1 << bits) - 1;
        java.util.Arrays.fill(out, outOff, outOff + g, 0f);
        float bias = 0f;
        for (int c = 0; c < n; c++) {
            long r = off + (long) c * rec;
            float sc = KvFormats.scale(s, r, meta), m = KvFormats.minimum(s, r, bits, meta);
            FloatVector qs = FloatVector.broadcast(F, q[qOff + c] * sc);
            bias += q[qOff + c] * m;
            for (int b = 0; b < plane; b += B.length()) {
                ByteVector codes = ByteVector.fromMemorySegment(B, s, r + 2L * meta + b, LE);
                for (int part = 0; part < B_PARTS; part++) {
                    IntVector ci = (IntVector) codes.convertShape(VectorOperators.B2I, I, part);
                    for (int p = 0; p < planes; p++) {
                        int o = outOff + p * plane + b + part * L;
                        FloatVector code = (FloatVector) ci.lanewise(VectorOperators.ASHR, bits * p).and(mask)
                                .convert(VectorOperators.I2F, 0);
                        code.fma(qs, FloatVector.fromArray(F, out, o)).intoArray(out, o);
                    }
                }
            }
        }
        FloatVector bv = FloatVector.broadcast(F, bias), sv = FloatVector.broadcast(F, scale);
        int t = 0;
        for (; t + L <= g; t += L) FloatVector.fromArray(F, out, outOff + t).add(bv).mul(sv).intoArray(out, outOff + t);
        for (; t < g; t++) out[outOff + t] = (out[outOff + t] + bias) * scale;
    }

    /** One KIVI value row: per group of channels, codes of one bit plane per byte load, times scale plus minimum. */
    static void decodeValue(MemorySegment s, long off, int n, int bits, int meta, float[] y, int yOff) {
        int gv = KvFormats.valueGroup(n), plane = gv * bits / 8;
        if (plane % B.length() != 0) {
            KvFormats.decodeValue(s, off, n, bits, meta, y, yOff);
            return;
        }
        int rec = 2 * meta + plane, planes = 8 / bits, mask = (1 << bits) - 1;
        for (int c = 0; c < n; c += gv, off += rec) {
            FloatVector sc = FloatVector.broadcast(F, KvFormats.scale(s, off, meta));
            FloatVector m = FloatVector.broadcast(F, KvFormats.minimum(s, off, bits, meta));
            for (int b = 0; b < plane; b += B.length()) {
                ByteVector codes = ByteVector.fromMemorySegment(B, s, off + 2L * meta + b, LE);
                for (int part = 0; part < B_PARTS; part++) {
                    IntVector ci = (IntVector) codes.convertShape(VectorOperators.B2I, I, part);
                    for (int p = 0; p < planes; p++) {
                        FloatVector code = (FloatVector) ci.lanewise(VectorOperators.ASHR, bits * p).and(mask).convert(VectorOperators.I2F, 0);
                        code.fma(sc, m).intoArray(y, yOff + c + p * plane + b + part * L);
                    }
                }
            }
        }
    }
}
