package io.kvserve.model.gguf;

import io.kvserve.kernels.GgmlType;
import io.kvserve.model.ModelFileException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Hand-made corrupt GGUF files, each derived from one small valid file: every one must fail with a
 * {@link ModelFileException} whose message names the problem, quickly, and never with an
 * OutOfMemoryError, an IndexOutOfBoundsException or a hang.
 */
class GgufCorruptFilesTest {
    @TempDir
    static Path dir;
    static byte[] valid;

    @BeforeAll
    static void writeValidFile() throws IOException {
        Path p = dir.resolve("valid.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama")
                .putUInt32("general.alignment", 32)
                .putUInt32("test.key_a", 1)
                .putUInt32("test.key_b", 2)
                .putBool("test.flag", true)
                .putStringArray("test.strings", "a", "bb", "ccc")
                .putInt32Array("test.ints", 1, 2, 3, 4)
                .addTensor("tensor_a", GgmlType.F32, new long[]{32, 2}, (r, d) -> d[0] = r)
                .addTensor("tensor_b", GgmlType.F16, new long[]{64, 3}, (r, d) -> d[1] = r)
                .addTensor("tensor_c", GgmlType.F32, new long[]{5, 3}, (r, d) -> d[2] = r)
                .write(p);
        valid = Files.readAllBytes(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.tensors()).hasSize(3);
        }
    }

    /** A view of the valid file for patching fields in place (little endian). */
    record Bytes(byte[] b) {
        Bytes copy() { return new Bytes(b.clone()); }
        ByteBuffer le() { return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN); }
        Bytes u32(int at, int v) { le().putInt(at, v); return this; }
        Bytes u64(int at, long v) { le().putLong(at, v); return this; }
        long u64(int at) { return le().getLong(at); }

        /** Position just after the GGUF string {@code s} (its u64 length prefix checked). */
        int after(String s) {
            byte[] needle = s.getBytes(StandardCharsets.UTF_8);
            outer:
            for (int i = 8; i + needle.length <= b.length; i++) {
                for (int j = 0; j < needle.length; j++) if (b[i + j] != needle[j]) continue outer;
                if (u64(i - 8) == needle.length) return i + needle.length;
            }
            throw new AssertionError("string '" + s + "' not found");
        }

        /** Position of the value type of metadata {@code key}; the value follows 4 bytes later. */
        int typeOf(String key) { return after(key); }

        /** Position of n_dims of tensor {@code name}; for 2-D tensors dims follow, then type at +20, offset at +24. */
        int infoOf(String name) { return after(name); }

        Bytes rename(String from, String to) {
            assertThat(to.length()).isEqualTo(from.length());
            int at = after(from) - from.length();
            System.arraycopy(to.getBytes(StandardCharsets.UTF_8), 0, b, at, to.length());
            return this;
        }

        Bytes cut(int n) { return new Bytes(java.util.Arrays.copyOf(b, n)); }
    }

    enum Corruption {
        BAD_MAGIC("bad magic 0x58554747") { Bytes apply(Bytes f) { f.b()[3] = 'X'; return f; } },
        FUTURE_VERSION("GGUF version 4 is not supported") { Bytes apply(Bytes f) { return f.u32(4, 4); } },
        VERSION_1("GGUF version 1 is not supported") { Bytes apply(Bytes f) { return f.u32(4, 1); } },
        VERSION_0("GGUF version 0 is not supported") { Bytes apply(Bytes f) { return f.u32(4, 0); } },
        BIG_ENDIAN("big-endian") { Bytes apply(Bytes f) { return f.u32(4, Integer.reverseBytes(3)); } },
        HUGE_TENSOR_COUNT("tensor count 1099511627776 cannot fit") { Bytes apply(Bytes f) { return f.u64(8, 1L << 40); } },
        NEGATIVE_TENSOR_COUNT("tensor count 18446744073709551615 cannot fit") { Bytes apply(Bytes f) { return f.u64(8, -1); } },
        HUGE_METADATA_COUNT("metadata count 18446744073709551615 cannot fit") { Bytes apply(Bytes f) { return f.u64(16, -1); } },
        MORE_METADATA_THAN_WRITTEN("the model is corrupted") { Bytes apply(Bytes f) { return f.u64(16, f.u64(16) + 1); } },
        HUGE_KEY_LENGTH("string length 9223372036854775807 of metadata key #0 exceeds") { Bytes apply(Bytes f) { return f.u64(24, Long.MAX_VALUE); } },
        HUGE_STRING_LENGTH("string length 18446744073709551615 of value of 'general.architecture' exceeds") {
            Bytes apply(Bytes f) { return f.u64(f.typeOf("general.architecture") + 4, -1); }
        },
        STRING_PAST_END("the file ends after") {
            Bytes apply(Bytes f) { return f.u64(f.typeOf("general.architecture") + 4, 1 << 20); }
        },
        HUGE_ARRAY_LENGTH("array 'test.strings' claims 2305843009213693952 elements") {
            Bytes apply(Bytes f) { return f.u64(f.typeOf("test.strings") + 8, 1L << 61); }
        },
        ARRAY_PAST_END("array 'test.ints' claims 100000") { Bytes apply(Bytes f) { return f.u64(f.typeOf("test.ints") + 8, 100_000); } },
        UNKNOWN_VALUE_TYPE("metadata 'test.key_a' has unknown value type 99") { Bytes apply(Bytes f) { return f.u32(f.typeOf("test.key_a"), 99); } },
        NEGATIVE_VALUE_TYPE("unknown value type 4294967295") { Bytes apply(Bytes f) { return f.u32(f.typeOf("test.key_a"), -1); } },
        UNKNOWN_ARRAY_ELEMENT_TYPE("array 'test.ints' has unknown element type 13") { Bytes apply(Bytes f) { return f.u32(f.typeOf("test.ints") + 4, 13); } },
        NESTED_ARRAY("array 'test.ints' nests arrays") { Bytes apply(Bytes f) { return f.u32(f.typeOf("test.ints") + 4, GgufValueType.ARRAY.id()); } },
        BAD_BOOL("bool 'test.flag' has value 2, expected 0 or 1") { Bytes apply(Bytes f) { f.b()[f.typeOf("test.flag") + 4] = 2; return f; } },
        DUPLICATE_METADATA_KEY("duplicate metadata key 'test.key_a'") { Bytes apply(Bytes f) { return f.rename("test.key_b", "test.key_a"); } },
        BAD_ALIGNMENT("general.alignment 33 is not a power of two") { Bytes apply(Bytes f) { return f.u32(f.typeOf("general.alignment") + 4, 33); } },
        ZERO_ALIGNMENT("general.alignment 0 is not a power of two") { Bytes apply(Bytes f) { return f.u32(f.typeOf("general.alignment") + 4, 0); } },
        HUGE_ALIGNMENT("general.alignment 2147483648 is not a power of two up to 1 MiB") { Bytes apply(Bytes f) { return f.u32(f.typeOf("general.alignment") + 4, 1 << 31); } },
        FLOAT_ALIGNMENT("general.alignment must be an integer") { Bytes apply(Bytes f) { return f.u32(f.typeOf("general.alignment"), GgufValueType.FLOAT32.id()); } },
        DUPLICATE_TENSOR_NAME("duplicate tensor name 'tensor_a'") { Bytes apply(Bytes f) { return f.rename("tensor_b", "tensor_a"); } },
        ZERO_DIMENSION_COUNT("tensor 'tensor_b' has 0 dimensions, expected 1 to 4") { Bytes apply(Bytes f) { return f.u32(f.infoOf("tensor_b"), 0); } },
        TOO_MANY_DIMENSIONS("tensor 'tensor_b' has 5 dimensions, expected 1 to 4") { Bytes apply(Bytes f) { return f.u32(f.infoOf("tensor_b"), 5); } },
        ZERO_DIMENSION("tensor 'tensor_b' has dimension 1 = 0") { Bytes apply(Bytes f) { return f.u64(f.infoOf("tensor_b") + 12, 0); } },
        NEGATIVE_DIMENSION("tensor 'tensor_b' has dimension 0 = 18446744073709551584") { Bytes apply(Bytes f) { return f.u64(f.infoOf("tensor_b") + 4, -32); } },
        ELEMENT_COUNT_OVERFLOW("element count that overflows") {
            Bytes apply(Bytes f) { int at = f.infoOf("tensor_b"); return f.u64(at + 4, 1L << 40).u64(at + 12, 1L << 40); }
        },
        UNKNOWN_TENSOR_TYPE("tensor 'tensor_b' has unknown tensor type id 77") { Bytes apply(Bytes f) { return f.u32(f.infoOf("tensor_b") + 20, 77); } },
        REMOVED_TENSOR_TYPE("unknown tensor type id 4") { Bytes apply(Bytes f) { return f.u32(f.infoOf("tensor_b") + 20, 4); } },
        ROW_NOT_MULTIPLE_OF_BLOCK("tensor 'tensor_c' of type Q8_0 has row length 5, not a multiple of the block size 32") {
            Bytes apply(Bytes f) { return f.u32(f.infoOf("tensor_c") + 20, GgmlType.Q8_0.id); }
        },
        MISALIGNED_TENSOR_OFFSET("tensor 'tensor_b' offset 260 is not a multiple of the alignment 32") {
            Bytes apply(Bytes f) { int at = f.infoOf("tensor_b") + 24; return f.u64(at, f.u64(at) + 4); }
        },
        OVERLAPPING_TENSORS("tensor 'tensor_c' [offset 256] overlaps tensor 'tensor_b' [offset 256, 384 bytes]") {
            Bytes apply(Bytes f) { return f.u64(f.infoOf("tensor_c") + 24, f.u64(f.infoOf("tensor_b") + 24)); }
        },
        TENSOR_OUT_OF_BOUNDS("tensor 'tensor_b' [offset") { Bytes apply(Bytes f) { return f.u64(f.infoOf("tensor_b") + 24, 1 << 20); } },
        TENSOR_OFFSET_BEYOND_ANY_FILE("tensor 'tensor_b' offset 18446744073709551584 lies past the end") { Bytes apply(Bytes f) { return f.u64(f.infoOf("tensor_b") + 24, -32); } },
        TENSOR_OFFSET_OVERFLOW("tensor 'tensor_b' offset overflows") { Bytes apply(Bytes f) { return f.u64(f.infoOf("tensor_b") + 24, Long.MAX_VALUE & ~31L); } },
        TENSOR_TOO_BIG_FOR_FILE("ends past the file") { Bytes apply(Bytes f) { return f.u64(f.infoOf("tensor_b") + 12, 1L << 40); } },
        TRUNCATED_TENSOR_DATA("tensor 'tensor_c' [offset") { Bytes apply(Bytes f) { return f.cut(f.b().length - 32 - 10); } },
        TRUNCATED_AFTER_METADATA("name of tensor #0 needs 8 bytes but the file ends after 0") { Bytes apply(Bytes f) { return f.cut(f.after("test.ints") + 4 + 4 + 8 + 16); } },
        EMPTY_FILE("file is 0 bytes, too short for a GGUF header") { Bytes apply(Bytes f) { return f.cut(0); } },
        THREE_BYTES("file is 3 bytes, too short") { Bytes apply(Bytes f) { return f.cut(3); } };

        final String message;

        Corruption(String message) {
            this.message = message;
        }

        abstract Bytes apply(Bytes valid);
    }

    private static void assertRejected(Path p, String fragment) {
        assertTimeoutPreemptively(Duration.ofSeconds(30), () ->
                assertThatThrownBy(() -> GgufFile.open(p).close())
                        .isInstanceOf(ModelFileException.class)
                        .hasMessageContaining(fragment));
    }

    @ParameterizedTest
    @EnumSource(Corruption.class)
    void corruptFileFailsWithAClearMessage(Corruption c) throws IOException {
        Path p = dir.resolve(c.name().toLowerCase() + ".gguf");
        Files.write(p, c.apply(new Bytes(valid).copy()).b());
        assertRejected(p, c.message);
    }

    @Test
    void truncationAtEveryByteOfTheHeaderAndAcrossTheDataFails() throws IOException {
        Path p = dir.resolve("cut.gguf");
        long dataStart, lastTensorEnd;
        try (GgufFile f = GgufFile.open(dir.resolve("valid.gguf"))) {
            dataStart = f.dataStart();
            GgufTensor last = f.requireTensor("tensor_c");
            lastTensorEnd = last.fileOffset() + last.byteSize();
        }
        List<Integer> cuts = new ArrayList<>();
        for (int n = 0; n <= dataStart; n++) cuts.add(n);
        for (long n = dataStart + 1; n < lastTensorEnd; n += 7) cuts.add((int) n);
        cuts.add((int) lastTensorEnd - 1);
        // a hang guard, generous because CI machines may be busy; unloaded this loop takes about 2 s
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            for (int n : cuts) {
                Files.write(p, java.util.Arrays.copyOf(valid, n));
                assertThatThrownBy(() -> GgufFile.open(p).close())
                        .as("file cut to %d bytes", n)
                        .isInstanceOf(ModelFileException.class)
                        .message().containsAnyOf("corrupted", "too short");
            }
        });
        // the padding after the last tensor is optional
        Files.write(p, java.util.Arrays.copyOf(valid, (int) lastTensorEnd));
        GgufFile.open(p).close();
    }

    @Test
    void directoryAndMissingFileAreRejected() {
        assertRejected(dir, "is a directory");
        assertThatThrownBy(() -> GgufFile.open(dir.resolve("missing.gguf"))).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void zeroTensorFileEndingRightAfterItsMetadataIsValid() throws IOException {
        Path p = dir.resolve("vocab-only.gguf");
        new GgufWriter().putString("tokenizer.ggml.model", "llama").putStringArray("tokenizer.ggml.tokens", "<unk>", "a", "b").write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.tensors()).isEmpty();
            assertThat(f.fileSize()).isLessThan(f.dataStart());
            assertThat(f.getStringArray("tokenizer.ggml.tokens")).containsExactly("<unk>", "a", "b");
        }
    }

    /** ../shared/models: required under CI, skipped with a message on a developer machine without it. */
    static Path sharedModels() {
        String env = System.getenv("KVSERVE_SHARED");
        Path shared = env != null ? Path.of(env) : Path.of("..", "..", "shared");
        Path models = shared.resolve("models");
        if (!Files.isDirectory(models)) {
            if ("true".equals(System.getenv("CI"))) throw new AssertionError("shared models missing under CI: " + models.toAbsolutePath());
            assumeTrue(false, "skipped: shared models not found at " + models.toAbsolutePath());
        }
        return models;
    }

    @Test
    void everySharedModelFileOpens() throws IOException {
        Path models = sharedModels();
        List<Path> files;
        try (Stream<Path> s = Stream.of(models, models.resolve("vocab"), models.resolve("random"))
                .filter(Files::isDirectory).flatMap(d -> {
                    try {
                        return Files.list(d).toList().stream();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })) {
            files = s.filter(f -> f.toString().endsWith(".gguf")).sorted().toList();
        }
        assertThat(files).extracting(f -> f.getFileName().toString()).contains(
                "stories260K.gguf", "ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf", "llama-2-tiny-random.gguf");
        for (Path p : files) {
            try (GgufFile f = GgufFile.open(p)) {
                assertThat(f.version()).as(p.toString()).isEqualTo(3);
                assertThat(f.metadata()).as(p.toString()).isNotEmpty();
                if (p.getParent().getFileName().toString().equals("vocab")) {
                    assertThat(f.tensors()).as(p.toString()).isEmpty();
                    assertThat(f.getStringArray("tokenizer.ggml.tokens")).as(p.toString()).isNotEmpty();
                }
            }
        }
        try (GgufFile f = GgufFile.open(models.resolve("stories260K.gguf"))) {
            assertThat(f.tensors()).hasSize(48);
            assertThat(f.metadata()).hasSize(19);
            assertThat(f.dataStart()).isEqualTo(14176);
            assertThat(f.getLong("llama.context_length")).isEqualTo(2048);
        }
        try (GgufFile f = GgufFile.open(models.resolve("random/llama-2-tiny-random.gguf"))) {
            assertThat(f.tensors()).hasSize(12);
            assertThat(f.metadata()).hasSize(18);
            assertThat(f.requireTensor("token_embd.weight").shape()).containsExactly(8, 32000);
            GgufTensor last = f.tensors().values().stream().reduce((a, b) -> b).orElseThrow();
            assertThat(last.fileOffset() + last.byteSize()).isLessThanOrEqualTo(f.fileSize());
        }
        try (GgufFile f = GgufFile.open(models.resolve("vocab/ggml-vocab-llama-spm.gguf"))) {
            assertThat(f.metadata()).hasSize(22);
            assertThat(f.getStringArray("tokenizer.ggml.tokens")).hasSize(32000);
        }
    }
}
