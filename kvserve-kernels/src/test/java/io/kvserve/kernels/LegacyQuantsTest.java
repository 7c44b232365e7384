package io.kvserve.kernels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The scalar specification of Q8_0, Q4_0, Q4_1, F16 and BF16: layouts, ggml-exact quantisers, error bounds. */
class LegacyQuantsTest {
    final ScalarKernels scalar = new ScalarKernels();

    private static MemorySegment bytes(Arena arena, int... b) {
        MemorySegment s = arena.allocate(b.length);
        for (int i = 0; i < b.length; i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) b[i]);
        return s;
    }

    private static int[] block(int headerLen, int fill, int n, int... header) {
        int[] b = new int[headerLen + n];
        System.arraycopy(header, 0, b, 0, header.length);
        for (int i = headerLen; i < b.length; i++) b[i] = fill;
        return b;
    }

    private float[] decode(GgmlType t, MemorySegment s, int n) {
        float[] out = new float[n];
        scalar.dequantizeRow(t, s, 0, out, 0, n);
        return out;
    }

    private byte[] encode(GgmlType t, float[] x) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(t.bytesFor(x.length));
            scalar.quantizeRow(t, x, 0, s, 0, x.length);
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @Test
    void q8_0KnownBytes() {
        try (Arena arena = Arena.ofConfined()) {
            int[] b = block(2, 0, 32, 0x00, 0x38); // d = 0.5 (f16 0x3800, little endian)
            b[2] = 1; b[3] = 0xFE; b[4] = 127; b[5] = 0x80; b[33] = 3;
            float[] y = decode(GgmlType.Q8_0, bytes(arena, b), 32);
            assertThat(y[0]).isEqualTo(0.5f);
            assertThat(y[1]).isEqualTo(-1f);
            assertThat(y[2]).isEqualTo(63.5f);
            assertThat(y[3]).isEqualTo(-64f);
            assertThat(y[4]).isEqualTo(0f);
            assertThat(y[31]).isEqualTo(1.5f);
        }
    }

    @Test
    void q4_0KnownBytes() {
        try (Arena arena = Arena.ofConfined()) {
            int[] b = block(2, 0x88, 16, 0x00, 0x40); // d = 2.0
            b[2] = 0x1F; // element 0: low nibble 15, element 16: high nibble 1
            b[3] = 0x80; // element 1: 0, element 17: 8
            b[17] = 0xC3; // element 15: 3, element 31: 12
            float[] y = decode(GgmlType.Q4_0, bytes(arena, b), 32);
            assertThat(y[0]).isEqualTo(14f);
            assertThat(y[16]).isEqualTo(-14f);
            assertThat(y[1]).isEqualTo(-16f);
            assertThat(y[17]).isEqualTo(0f);
            assertThat(y[15]).isEqualTo(-10f);
            assertThat(y[31]).isEqualTo(8f);
            assertThat(y[2]).isEqualTo(0f);
        }
    }

    @Test
    void q4_1KnownBytes() {
        try (Arena arena = Arena.ofConfined()) {
            int[] b = block(4, 0x00, 16, 0x00, 0x3C, 0x00, 0xC0); // d = 1.0, m = -2.0
            b[4] = 0x5A; // element 0: 10, element 16: 5
            b[19] = 0xF0; // element 15: 0, element 31: 15
            float[] y = decode(GgmlType.Q4_1, bytes(arena, b), 32);
            assertThat(y[0]).isEqualTo(8f);
            assertThat(y[16]).isEqualTo(3f);
            assertThat(y[15]).isEqualTo(-2f);
            assertThat(y[31]).isEqualTo(13f);
            assertThat(y[1]).isEqualTo(-2f);
        }
    }

    @Test
    void q8_0QuantisesWithRoundHalfAwayFromZero() {
        float[] x = new float[32];
        x[3] = 127f; x[5] = -63.5f; x[7] = 0.5f; x[8] = -0.5f; x[9] = 2.5f; x[10] = -2.5f;
        byte[] q = encode(GgmlType.Q8_0, x);
        assertThat(q[0]).isEqualTo((byte) 0x00);
        assertThat(q[1]).isEqualTo((byte) 0x3C); // d = 1.0
        assertThat(q[2 + 3]).isEqualTo((byte) 127);
        assertThat(q[2 + 5]).isEqualTo((byte) -64);
        assertThat(q[2 + 7]).isEqualTo((byte) 1);
        assertThat(q[2 + 8]).isEqualTo((byte) -1);
        assertThat(q[2 + 9]).isEqualTo((byte) 3);
        assertThat(q[2 + 10]).isEqualTo((byte) -3);
    }

    @Test
    void q4_0QuantisesFromTheSignedMaximum() {
        float[] x = new float[32];
        x[0] = -8f; x[1] = 7f; x[2] = 0.5f; x[3] = -0.5f; x[16] = 8f; // |8| ties |-8|: the first one wins
        byte[] q = encode(GgmlType.Q4_0, x);
        assertThat(HexFormat.of().formatHex(q)).isEqualTo("003c" + "f0" + "8f" + "89" + "88" + "88".repeat(12));
    }

    @Test
    void q4_1QuantisesFromMinAndMax() {
        float[] x = new float[32];
        x[0] = -1f; x[1] = 14f;
        byte[] q = encode(GgmlType.Q4_1, x);
        assertThat(HexFormat.of().formatHex(q)).isEqualTo("003c" + "00bc" + "10" + "1f" + "11".repeat(14));
    }

    /** Bytes produced by gguf-py's numpy ports of ggml's reference quantisers (see golden/make_legacy_golden.py). */
    @Test
    void quantisersMatchGgmlGolden() throws IOException {
        Map<String, byte[]> golden = new LinkedHashMap<>();
        try (InputStream in = getClass().getResourceAsStream("/golden/legacy_quants_golden.txt")) {
            assertThat(in).as("golden resource").isNotNull();
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) continue;
                String[] kv = line.trim().split(" ");
                golden.put(kv[0], HexFormat.of().parseHex(kv[1]));
            }
        }
        ByteBuffer fb = ByteBuffer.wrap(golden.get("F32")).order(ByteOrder.LITTLE_ENDIAN);
        float[] x = new float[fb.remaining() / 4];
        fb.asFloatBuffer().get(x);
        for (String t : new String[] {"Q8_0", "Q4_0", "Q4_1"}) {
            byte[] actual = encode(GgmlType.valueOf(t), x);
            byte[] expected = golden.get(t);
            GgmlType type = GgmlType.valueOf(t);
            for (int blk = 0; blk < x.length / 32; blk++) {
                int o = blk * type.typeSize;
                assertThat(HexFormat.of().formatHex(actual, o, o + type.typeSize)).as("%s block %d", t, blk)
                        .isEqualTo(HexFormat.of().formatHex(expected, o, o + type.typeSize));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1"})
    void roundTripWithinBounds(GgmlType type) {
        var rnd = new SplittableRandom(type.id);
        int n = 32 * 64;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * Math.pow(10, (i / 32) % 7 - 3));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(type.bytesFor(n));
            scalar.quantizeRow(type, x, 0, s, 0, n);
            float[] y = new float[n];
            scalar.dequantizeRow(type, s, 0, y, 0, n);
            for (int b = 0; b < n / 32; b++) {
                float amax = 0, min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
                for (int j = 0; j < 32; j++) {
                    float v = x[b * 32 + j];
                    amax = Math.max(amax, Math.abs(v)); min = Math.min(min, v); max = Math.max(max, v);
                }
                for (int j = 0; j < 32; j++) {
                    int i = b * 32 + j;
                    double bound = switch (type) {
                        case F32 -> 0;
                        case F16 -> Math.abs(x[i]) * 0x1p-11 + 0x1p-25;
                        case BF16 -> Math.abs(x[i]) * 0x1p-8;
                        // half a step, plus the f16 rounding of the scale times the largest code
                        case Q8_0 -> amax / 127.0 * 0.5 + amax * 0x1p-11 * 1.01 + 128 * 0x1p-25; // last: subnormal f16 scale
                        // one step: the code range is [-8, 7] so the far end of the range clamps by up to d
                        case Q4_0 -> amax / 8.0 * (1 + 8 * 0x1p-11) * 1.01 + 16 * 0x1p-25;
                        case Q4_1 -> (max - min) / 15.0 * 0.5 * 1.01 + (max - min) * 0x1p-11 + Math.abs(min) * 0x1p-11 + 17 * 0x1p-25;
                        default -> throw new AssertionError();
                    };
                    assertThat((double) Math.abs(y[i] - x[i])).as("%s element %d (x=%s, y=%s)", type, i, x[i], y[i]).isLessThanOrEqualTo(bound);
                }
            }
        }
    }

    @Test
    void zeroBlocksStayZero() {
        for (GgmlType t : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1}) {
            byte[] q = encode(t, new float[64]);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment s = arena.allocate(q.length);
                MemorySegment.copy(MemorySegment.ofArray(q), 0, s, 0, q.length);
                // Q4_0 stores d = 0 / -8 = -0.0 as ggml does, so zeros may come back negative
                for (float v : decode(t, s, 64)) assertThat(v == 0f).as("%s decodes %s", t, v).isTrue();
            }
        }
    }
}
