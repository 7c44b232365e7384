package io.kvserve.kernels;

import io.kvserve.kernels.panama.PanamaKQuant;
import io.kvserve.kernels.quant.BlockFormats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Q4_K, Q5_K, Q6_K: byte layouts, ggml bit-exactness, round-trip error, vector vs scalar matmul. */
class KQuantsTest {
    private static final ScalarKernels SCALAR = new ScalarKernels();

    // ------------------------------------------------------------------ hand-built blocks

    /** Packs 8 six-bit scales and mins the way ggml's get_scale_min_k4 unpacks them, byte by byte. */
    private static byte[] packScaleMin(int[] sc, int[] m) {
        byte[] p = new byte[12];
        for (int j = 0; j < 4; j++) {
            p[j] = (byte) (sc[j] | (sc[j + 4] >> 4) << 6);
            p[j + 4] = (byte) (m[j] | (m[j + 4] >> 4) << 6);
            p[j + 8] = (byte) ((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
        }
        return p;
    }

    private static float[] decode(GgmlType t, MemorySegment seg) {
        float[] y = new float[256];
        BlockFormats.dequantize(t, seg, 0, y, 0, 256);
        return y;
    }

    @Test
    void q4KHandBuiltBlock() {
        int[] sc = {1, 2, 3, 4, 33, 45, 60, 63};
        int[] m = {0, 1, 2, 3, 17, 40, 50, 63};
        MemorySegment s = MemorySegment.ofArray(new byte[144]);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0x3C00);   // d = 1.0
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) 0x3800);   // dmin = 0.5
        MemorySegment.copy(packScaleMin(sc, m), 0, s, ValueLayout.JAVA_BYTE, 4, 12);
        for (int i = 0; i < 128; i++) s.set(ValueLayout.JAVA_BYTE, 16 + i, (byte) ((i % 16) | ((15 - i % 16) << 4)));
        float[] y = decode(GgmlType.Q4_K, s);
        // qs byte 32c + l: low nibble -> element 64c + l (sub-block 2c), high nibble -> 64c + 32 + l
        assertThat(y[0]).isEqualTo(0f);                          // 1 * 0 - 0.5 * 0
        assertThat(y[5]).isEqualTo(5f);                          // sc 1, q 5
        assertThat(y[32]).isEqualTo(2 * 15 - 0.5f * 1);          // sub-block 1, q = 15 - 0
        assertThat(y[64 + 3]).isEqualTo(3 * 3 - 0.5f * 2);       // sub-block 2
        assertThat(y[128 + 7]).isEqualTo(33 * 7 - 0.5f * 17);    // sub-block 4: scale from the packed high bits
        assertThat(y[192 + 32 + 1]).isEqualTo(63 * 14 - 0.5f * 63); // sub-block 7
        for (int e = 0; e < 256; e++) {
            int c = e / 64, l = e % 32, sub = e / 32;
            int qb = (32 * c + l) % 16;
            int q = (e % 64) < 32 ? qb : 15 - qb;
            assertThat(y[e]).as("element %d", e).isEqualTo(sc[sub] * q - 0.5f * m[sub]);
        }
    }

    @Test
    void q5KHandBuiltBlock() {
        int[] sc = {5, 9, 16, 31, 32, 47, 62, 63};
        int[] m = {63, 1, 0, 7, 16, 33, 48, 2};
        MemorySegment s = MemorySegment.ofArray(new byte[176]);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0x3800);   // d = 0.5
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) 0x3400);   // dmin = 0.25
        MemorySegment.copy(packScaleMin(sc, m), 0, s, ValueLayout.JAVA_BYTE, 4, 12);
        for (int l = 0; l < 32; l++) s.set(ValueLayout.JAVA_BYTE, 16 + l, (byte) (l * 37 + 11));       // qh
        for (int i = 0; i < 128; i++) s.set(ValueLayout.JAVA_BYTE, 48 + i, (byte) (i * 29 + 3));       // qs
        float[] y = decode(GgmlType.Q5_K, s);
        // element 64c + 32h + l: nibble h of qs[32c + l], plus 16 if bit 2c + h of qh[l] is set
        int qh5 = (5 * 37 + 11) & 0xFF, qs5 = (5 * 29 + 3) & 0xFF;   // l = 5, c = 0
        assertThat(y[5]).isEqualTo(0.5f * sc[0] * ((qs5 & 0xF) + ((qh5 & 1) != 0 ? 16 : 0)) - 0.25f * m[0]);
        for (int e = 0; e < 256; e++) {
            int c = e / 64, h = (e / 32) % 2, l = e % 32, sub = e / 32;
            int qs = ((32 * c + l) * 29 + 3) & 0xFF, qh = (l * 37 + 11) & 0xFF;
            int q = (h == 0 ? qs & 0xF : qs >> 4) + ((qh >> (2 * c + h)) & 1) * 16;
            assertThat(y[e]).as("element %d", e).isEqualTo(0.5f * sc[sub] * q - 0.25f * m[sub]);
        }
    }

    @Test
    void q6KHandBuiltBlockHasItsScaleAtTheEnd() {
        MemorySegment s = MemorySegment.ofArray(new byte[210]);
        for (int i = 0; i < 128; i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 13 + 5));          // ql
        for (int i = 0; i < 64; i++) s.set(ValueLayout.JAVA_BYTE, 128 + i, (byte) (i * 71 + 1));     // qh
        byte[] sc = {1, -1, 2, -3, 127, -128, 5, 0, 9, -9, 64, -64, 3, 7, -7, 100};
        MemorySegment.copy(sc, 0, s, ValueLayout.JAVA_BYTE, 192, 16);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 208, (short) 0x3400);                               // d = 0.25, last
        float[] y = decode(GgmlType.Q6_K, s);
        // element 128n + 32e + l: ql[64n + l + 32(e&1)], nibble e>>1; bits 2e..2e+1 of qh[32n + l]; scale 8n + 2e + l/16
        int ql0 = 5, qh0 = 1;
        assertThat(y[0]).isEqualTo(0.25f * 1 * (((ql0 & 0xF) | (qh0 & 3) << 4) - 32));
        for (int e = 0; e < 256; e++) {
            int n = e / 128, f = (e % 128) / 32, l = e % 32;
            int ql = ((64 * n + l + 32 * (f & 1)) * 13 + 5) & 0xFF;
            int qh = ((32 * n + l) * 71 + 1) & 0xFF;
            int q = ((f < 2 ? ql & 0xF : ql >> 4) | ((qh >> (2 * f)) & 3) << 4) - 32;
            assertThat(y[e]).as("element %d", e).isEqualTo(0.25f * sc[8 * n + 2 * f + l / 16] * q);
        }
    }

    // ------------------------------------------------------------------ encoders

    /** Inputs of several shapes per block: gaussian, tiny, all positive, outliers, tiny negative, huge with zeros. */
    static float[] mixedInput(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int kind = (i / 256) % 6;
            double g = r.nextGaussian();
            x[i] = switch (kind) {
                case 0 -> (float) g;
                case 1 -> (float) (g * 0.02);
                case 2 -> (float) (Math.abs(g) + 0.5);
                case 3 -> (float) (r.nextDouble() < 0.05 ? g * 50 : g);
                case 4 -> (float) (-Math.abs(g) * 1e-3);
                default -> (i % 32 < 3) ? 0f : (float) (g * 1e4);
            };
        }
        return x;
    }

    /**
     * CRC32 of ggml's quantize_row_q?_K_ref output for {@code mixedInput(98304, 7)}, from ggml's C
     * compiled with gcc 12 -O2 -mf16c -ffp-contract=off (see docs/KERNELS-KQUANTS.md).
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q6_K"})
    void encoderIsBitExactWithGgml(GgmlType t) {
        long expected = switch (t) {
            case Q4_K -> 0xd331e6deL;
            case Q5_K -> 0xbb56a4ccL;
            default -> 0xadb19d71L;
        };
        int n = 98304;
        float[] x = mixedInput(n, 7);
        byte[] bytes = new byte[(int) t.bytesFor(n)];
        BlockFormats.quantize(t, x, 0, MemorySegment.ofArray(bytes), 0, n);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        assertThat(crc.getValue()).isEqualTo(expected);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q6_K"})
    void roundTripErrorIsBounded(GgmlType t) {
        int n = 256 * 256;
        Random r = new Random(11);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        MemorySegment q = MemorySegment.ofArray(new byte[(int) t.bytesFor(n)]);
        BlockFormats.quantize(t, x, 0, q, 0, n);
        float[] y = new float[n];
        BlockFormats.dequantize(t, q, 0, y, 0, n);
        double err = 0, ref = 0;
        for (int i = 0; i < n; i++) {
            err += (x[i] - y[i]) * (double) (x[i] - y[i]);
            ref += x[i] * (double) x[i];
        }
        double rel = Math.sqrt(err / ref);
        // measured with ggml's reference encoders on N(0,1): Q4_K 0.0714, Q5_K 0.0362, Q6_K 0.0177
        double bound = switch (t) {
            case Q4_K -> 0.08;
            case Q5_K -> 0.04;
            default -> 0.02;
        };
        assertThat(rel).as("relative RMS error of %s", t).isLessThan(bound);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q6_K"})
    void zerosAndConstantsRoundTrip(GgmlType t) {
        float[] x = new float[512];
        for (int i = 256; i < 512; i++) x[i] = 3.0f;
        MemorySegment q = MemorySegment.ofArray(new byte[(int) t.bytesFor(512)]);
        BlockFormats.quantize(t, x, 0, q, 0, 512);
        float[] y = new float[512];
        BlockFormats.dequantize(t, q, 0, y, 0, 512);
        for (int i = 0; i < 256; i++) assertThat(y[i]).isEqualTo(0f);
        for (int i = 256; i < 512; i++) assertThat(y[i]).isCloseTo(3.0f, within(0.02f));
    }

    // ------------------------------------------------------------------ vector vs scalar

    private static MemorySegment weights(Arena arena, GgmlType t, int rows, int cols, long seed, long pad) {
        Random r = new Random(seed);
        float[] row = new float[cols];
        long rowBytes = t.bytesFor(cols);
        MemorySegment w = arena.allocate(pad + rows * rowBytes);
        for (int i = 0; i < rows; i++) {
            double scale = Math.pow(10, r.nextInt(5) - 2);         // rows from 0.01 to 100
            for (int k = 0; k < cols; k++) row[k] = (float) (r.nextGaussian() * scale + (i % 3 == 0 ? scale : 0));
            BlockFormats.quantize(t, row, 0, w, pad + i * rowBytes, cols);
        }
        return w;
    }

    /** |vector - scalar| within a float summation error bound: relative to sum |w_k * x_k|. */
    private static void assertMatmulMatches(GgmlType t, MemorySegment w, long wOff, int rows, int cols, int batch, float[] x) {
        int row0 = rows > 2 ? 1 : 0;
        int outStride = rows + 3;
        float[] expected = new float[batch * outStride];
        float[] actual = new float[batch * outStride];
        java.util.Arrays.fill(actual, Float.NaN);
        for (int b = 0; b < batch; b++) {                          // untouched slots must stay as they were
            for (int r = 0; r < outStride; r++) if (r < row0 || r >= rows) actual[b * outStride + r] = -7f;
        }
        SCALAR.matmul(t, w, wOff, cols, x, batch, expected, outStride, row0, rows);
        PanamaKQuant.matmul(t, w, wOff, cols, x, batch, actual, outStride, row0, rows);
        float[] wr = new float[cols];
        long rowBytes = t.bytesFor(cols);
        for (int r = row0; r < rows; r++) {
            BlockFormats.dequantize(t, w, wOff + r * rowBytes, wr, 0, cols);
            for (int b = 0; b < batch; b++) {
                double mag = 0;
                for (int k = 0; k < cols; k++) mag += Math.abs(wr[k] * x[b * cols + k]);
                float tol = (float) (mag * 2e-5 + 1e-6);
                assertThat(actual[b * outStride + r]).as("%s cols %d batch %d: out[%d][%d]", t, cols, batch, b, r)
                        .isCloseTo(expected[b * outStride + r], within(tol));
            }
        }
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < outStride; r++) {
                if (r < row0 || r >= rows) assertThat(actual[b * outStride + r]).isEqualTo(-7f);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q6_K"})
    void vectorMatmulMatchesScalar(GgmlType t) {
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[]{256, 512, 2048 + 256}) {
                int rows = 11;                                     // not a multiple of the 4-row tile
                long pad = 7;                                      // unaligned weight offset
                MemorySegment w = weights(arena, t, rows, cols, cols * 31L + t.id, pad);
                for (int batch : new int[]{1, 2, 3, 5, 8, 17}) {
                    Random r = new Random(batch * 1000L + cols);
                    float[] x = new float[batch * cols];
                    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                    assertMatmulMatches(t, w, pad, rows, cols, batch, x);
                }
            }
        }
    }

    /** Every byte random (scales, high bits, 6-bit scale top bits), with large but finite f16 scales and inputs. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q6_K"})
    void vectorMatmulMatchesScalarOnRandomBytesAndExtremes(GgmlType t) {
        int rows = 6, cols = 1024;
        long rowBytes = t.bytesFor(cols);
        byte[] bytes = new byte[(int) (rows * rowBytes)];
        Random r = new Random(99 + t.id);
        r.nextBytes(bytes);
        MemorySegment w = MemorySegment.ofArray(bytes);
        for (int blk = 0; blk < rows * cols / 256; blk++) {
            long b = blk * (long) t.typeSize;
            // finite f16 scales spanning 2^-14 .. 2^10, either sign
            short d = Float.floatToFloat16((float) ((r.nextBoolean() ? 1 : -1) * Math.pow(2, r.nextInt(25) - 14)));
            short dmin = Float.floatToFloat16((float) Math.pow(2, r.nextInt(25) - 14));
            if (t == GgmlType.Q6_K) {
                w.set(ValueLayout.JAVA_SHORT_UNALIGNED, b + 208, d);
            } else {
                w.set(ValueLayout.JAVA_SHORT_UNALIGNED, b, d);
                w.set(ValueLayout.JAVA_SHORT_UNALIGNED, b + 2, dmin);
            }
        }
        for (int batch : new int[]{1, 4, 7}) {
            float[] x = new float[batch * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = switch (i % 5) {
                    case 0 -> 1e4f;
                    case 1 -> -3e3f * r.nextFloat();
                    case 2 -> 0f;
                    case 3 -> 1e-6f;
                    default -> (float) r.nextGaussian();
                };
            }
            assertMatmulMatches(t, w, 0, rows, cols, batch, x);
        }
    }

    /** The forked surefire runs (kvserve.vector.bits = 128, 512) must really exercise those shapes. */
    @Test
    void widthFollowsTheProperty() {
        String bits = System.getProperty("kvserve.vector.bits", "");
        if (bits.equals("128")) assertThat(PanamaKQuant.describe()).isEqualTo("kquant-128x4");
        if (bits.equals("512")) assertThat(PanamaKQuant.describe()).isEqualTo("kquant-256x8");   // capped
    }

    @Test
    void facadeRoutesKQuants() {
        int cols = 512, rows = 4;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = weights(arena, GgmlType.Q4_K, rows, cols, 5, 0);
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) x[i] = i % 7 - 3;
            float[] a = new float[rows], e = new float[rows];
            Kernels.matmul(GgmlType.Q4_K, w, 0, cols, x, 1, a, rows, 0, rows);
            SCALAR.matmul(GgmlType.Q4_K, w, 0, cols, x, 1, e, rows, 0, rows);
            for (int r = 0; r < rows; r++) assertThat(a[r]).isCloseTo(e[r], within(Math.abs(e[r]) * 1e-4f + 1e-3f));
        }
    }
}
