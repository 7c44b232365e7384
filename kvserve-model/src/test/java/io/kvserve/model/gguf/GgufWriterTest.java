package io.kvserve.model.gguf;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.Kernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GgufWriterTest {
    @TempDir
    Path dir;

    /** A deterministic value of element (row, col) of the tensor with this salt. */
    static float value(int salt, long row, int col) {
        return (float) Math.sin(salt * 0.37 + row * 1.3 + col * 0.071) * (1 + salt);
    }

    @Test
    void roundTripsEveryMetadataTypeAndTensorData() throws IOException {
        Path p = dir.resolve("all.gguf");
        GgufWriter w = new GgufWriter().threads(2)
                .putString("general.architecture", "llama")
                .putString("s.unicode", "héllo ▁wörld ✓ 😀")
                .putString("s.empty", "")
                .putBool("b.true", true)
                .putBool("b.false", false)
                .putUInt8("u8", 255)
                .putInt8("i8", -128)
                .putUInt16("u16", 65535)
                .putInt16("i16", -32768)
                .putUInt32("u32", 4_000_000_000L)
                .putInt32("i32", -7)
                .putUInt64("u64", -1L)
                .putInt64("i64", Long.MIN_VALUE)
                .putFloat32("f32", 1e-5f)
                .putFloat64("f64", Math.PI)
                .putStringArray("a.str", "<unk>", "", "▁the", "日本")
                .putInt32Array("a.i32", 1, -2, 3)
                .putFloat32Array("a.f32", 0.5f, -0f, Float.NaN)
                .putArray("a.u32", GgufValueType.UINT32, new int[]{-1, 0})
                .putArray("a.i64", GgufValueType.INT64, new long[]{Long.MAX_VALUE, -5})
                .putArray("a.f64", GgufValueType.FLOAT64, new double[]{1.5, -2.25})
                .putArray("a.u8", GgufValueType.UINT8, new byte[]{(byte) 200, 1})
                .putArray("a.bool", GgufValueType.BOOL, new byte[]{1, 0, 1})
                .putArray("a.i16", GgufValueType.INT16, new short[]{-300, 300})
                .putArray("a.empty", GgufValueType.INT32, new int[0]);
        // 64 x 40000 F16 is 5 MiB: more than one chunk, so chunking and the thread split are exercised
        w.addTensor("big", GgmlType.F16, new long[]{64, 40_000}, (r, dst) -> { for (int i = 0; i < dst.length; i++) dst[i] = value(1, r, i); });
        w.addTensor("vec", GgmlType.F32, new long[]{7}, (r, dst) -> { for (int i = 0; i < dst.length; i++) dst[i] = value(2, r, i); });
        w.addTensor("cube", GgmlType.BF16, new long[]{5, 3, 2}, (r, dst) -> { for (int i = 0; i < dst.length; i++) dst[i] = value(3, r, i); });
        w.addRawTensor("raw", GgmlType.F32, new long[]{3, 2}, (r, seg) -> { for (int i = 0; i < 3; i++) seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, r * 10 + i); });
        w.write(p);

        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.alignment()).isEqualTo(32);
            assertThat(f.dataStart() % 32).isZero();
            assertThat(f.getString("s.unicode")).isEqualTo("héllo ▁wörld ✓ 😀");
            assertThat(f.getString("s.empty")).isEmpty();
            assertThat(f.getBool("b.true", false)).isTrue();
            assertThat(f.getBool("b.false", true)).isFalse();
            assertThat(f.getLong("u8")).isEqualTo(255);
            assertThat(f.getLong("i8")).isEqualTo(-128);
            assertThat(f.getLong("u16")).isEqualTo(65535);
            assertThat(f.getLong("i16")).isEqualTo(-32768);
            assertThat(f.getLong("u32")).isEqualTo(4_000_000_000L);
            assertThat(f.getInt("i32")).isEqualTo(-7);
            assertThat(f.getLong("u64")).isEqualTo(-1L);
            assertThat(f.getLong("i64")).isEqualTo(Long.MIN_VALUE);
            assertThat(f.getFloat("f32", 0)).isEqualTo(1e-5f);
            assertThat(f.metadata().get("f64")).isEqualTo(Math.PI);
            assertThat(f.getStringArray("a.str")).containsExactly("<unk>", "", "▁the", "日本");
            assertThat(f.getIntArray("a.i32")).containsExactly(1, -2, 3);
            assertThat(f.getFloatArray("a.f32")).containsExactly(0.5f, -0f, Float.NaN);
            assertThat((int[]) f.metadata().get("a.u32")).containsExactly(-1, 0);
            assertThat((long[]) f.metadata().get("a.i64")).containsExactly(Long.MAX_VALUE, -5);
            assertThat((double[]) f.metadata().get("a.f64")).containsExactly(1.5, -2.25);
            assertThat((byte[]) f.metadata().get("a.u8")).containsExactly((byte) 200, (byte) 1);
            assertThat((byte[]) f.metadata().get("a.bool")).containsExactly(1, 0, 1);
            assertThat((short[]) f.metadata().get("a.i16")).containsExactly((short) -300, (short) 300);
            assertThat(f.getIntArray("a.empty")).isEmpty();
            assertThat(f.valueType("u32")).isEqualTo(GgufValueType.UINT32);
            assertThat(f.valueType("a.u32")).isEqualTo(GgufValueType.ARRAY);
            assertThat(f.arrayElementType("a.u32")).isEqualTo(GgufValueType.UINT32);
            assertThat(f.arrayElementType("a.bool")).isEqualTo(GgufValueType.BOOL);
            assertThat(f.arrayElementType("u32")).isNull();

            assertThat(f.tensors().keySet()).containsExactly("big", "vec", "cube", "raw");
            // packed in order, each padded to the alignment, as llama.cpp's loader requires
            long expectedOffset = f.dataStart();
            for (GgufTensor t : f.tensors().values()) {
                assertThat(t.fileOffset()).as(t.name()).isEqualTo(expectedOffset);
                expectedOffset = GgufFile.alignUp(expectedOffset + t.byteSize(), 32);
            }
            GgufTensor big = f.requireTensor("big");
            assertThat(big.type()).isEqualTo(GgmlType.F16);
            assertThat(big.shape()).containsExactly(64, 40_000);
            float[] row = new float[64];
            for (int r : new int[]{0, 1, 12_345, 39_999}) {
                Kernels.dequantizeRow(GgmlType.F16, big.data(), r * 128L, row, 0, 64);
                for (int i = 0; i < 64; i++) assertThat(row[i]).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(value(1, r, i))));
            }
            GgufTensor vec = f.requireTensor("vec");
            float[] v = new float[7];
            Kernels.dequantizeRow(GgmlType.F32, vec.data(), 0, v, 0, 7);
            for (int i = 0; i < 7; i++) assertThat(v[i]).isEqualTo(value(2, 0, i));
            GgufTensor cube = f.requireTensor("cube");
            assertThat(cube.shape()).containsExactly(5, 3, 2);
            assertThat(cube.byteSize()).isEqualTo(60);
            float[] c = new float[5];
            Kernels.dequantizeRow(GgmlType.BF16, cube.data(), 5 * 10L, c, 0, 5);
            for (int i = 0; i < 5; i++) assertThat(c[i]).isCloseTo(value(3, 5, i), org.assertj.core.data.Offset.offset(0.02f));
            float[] raw = new float[6];
            Kernels.dequantizeRow(GgmlType.F32, f.requireTensor("raw").data(), 0, raw, 0, 6);
            assertThat(raw).containsExactly(0, 1, 2, 10, 11, 12);
            // the last tensor is padded to the alignment, as llama.cpp writes it
            assertThat(f.fileSize() % 32).isZero();
        }
        assertThat(Files.exists(dir.resolve("all.gguf.part"))).isFalse();
    }

    @Test
    void honoursAlignmentAndWritesNoPaddingWithoutTensors() throws IOException {
        Path p = dir.resolve("a.gguf");
        new GgufWriter().putUInt32("general.alignment", 256)
                .addTensor("x", GgmlType.F32, new long[]{3}, (r, d) -> d[0] = 1)
                .addTensor("y", GgmlType.F32, new long[]{3}, (r, d) -> d[0] = 2)
                .write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.alignment()).isEqualTo(256);
            assertThat(f.dataStart() % 256).isZero();
            assertThat(f.requireTensor("y").fileOffset() - f.dataStart()).isEqualTo(256);
        }
        Path v = dir.resolve("vocab.gguf");
        new GgufWriter().putStringArray("tokenizer.ggml.tokens", "a", "b").write(v);
        try (GgufFile f = GgufFile.open(v)) {
            assertThat(f.tensors()).isEmpty();
            assertThat(f.fileSize() % 32).isNotZero(); // ends right after the metadata
        }
    }

    @Test
    void copiesMetadataWithItsOnDiskType() throws IOException {
        Path a = dir.resolve("a.gguf"), b = dir.resolve("b.gguf");
        new GgufWriter().putUInt32("u", 7).putArray("arr", GgufValueType.UINT8, new byte[]{1, 2}).putInt16("s", -2).write(a);
        try (GgufFile f = GgufFile.open(a)) {
            new GgufWriter().copy(f, "u").copy(f, "arr").copy(f, "s").write(b);
        }
        try (GgufFile f = GgufFile.open(b)) {
            assertThat(f.valueType("u")).isEqualTo(GgufValueType.UINT32);
            assertThat(f.arrayElementType("arr")).isEqualTo(GgufValueType.UINT8);
            assertThat(f.valueType("s")).isEqualTo(GgufValueType.INT16);
            assertThat(f.getLong("s")).isEqualTo(-2);
        }
    }

    @Test
    void rejectsInvalidInputAndLeavesNoFileOnFailure() {
        GgufWriter w = new GgufWriter();
        assertThatThrownBy(() -> w.putUInt8("x", 256)).hasMessageContaining("out of range");
        assertThatThrownBy(() -> w.put("x", GgufValueType.UINT32, "7")).hasMessageContaining("cannot hold a String");
        assertThatThrownBy(() -> w.putArray("x", GgufValueType.UINT32, new long[1])).hasMessageContaining("int[]");
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.F32, new long[]{0}, (r, d) -> {})).hasMessageContaining("at least 1");
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.F32, new long[]{1, 1, 1, 1, 1}, (r, d) -> {})).hasMessageContaining("dimensions");
        assertThatThrownBy(() -> w.addRawTensor("t", GgmlType.Q8_0, new long[]{33}, (r, d) -> {})).hasMessageContaining("block size 32");
        w.addTensor("t", GgmlType.F32, new long[]{4}, (r, d) -> {});
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.F32, new long[]{4}, (r, d) -> {})).hasMessageContaining("duplicate");

        Path p = dir.resolve("fail.gguf");
        GgufWriter bad = new GgufWriter().addTensor("t", GgmlType.F32, new long[]{4, 4}, (r, d) -> {
            if (r == 3) throw new IllegalStateException("boom");
        });
        assertThatThrownBy(() -> bad.write(p)).hasMessage("boom");
        assertThat(Files.exists(p)).isFalse();
        assertThat(Files.exists(dir.resolve("fail.gguf.part"))).isFalse();
    }
}
