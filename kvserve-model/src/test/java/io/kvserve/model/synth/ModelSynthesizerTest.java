package io.kvserve.model.synth;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.Kernels;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufTensor;
import io.kvserve.model.gguf.GgufValueType;
import io.kvserve.model.gguf.GgufWriter;
import io.kvserve.model.gguf.LlamaFileType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModelSynthesizerTest {
    @TempDir
    static Path dir;
    static Path vocabPath;
    static final int VOCAB = 96;

    @BeforeAll
    static void writeVocab() throws IOException {
        String[] tokens = new String[VOCAB];
        float[] scores = new float[VOCAB];
        int[] types = new int[VOCAB];
        for (int i = 0; i < VOCAB; i++) {
            tokens[i] = i < 3 ? new String[]{"<unk>", "<s>", "</s>"}[i] : "▁t" + i;
            scores[i] = -i;
            types[i] = i < 3 ? 3 : 1;
        }
        vocabPath = dir.resolve("vocab.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("tokenizer.ggml.model", "llama")
                .putStringArray("tokenizer.ggml.tokens", tokens)
                .putFloat32Array("tokenizer.ggml.scores", scores)
                .putInt32Array("tokenizer.ggml.token_type", types)
                .putUInt32("tokenizer.ggml.bos_token_id", 1)
                .putUInt32("tokenizer.ggml.eos_token_id", 2)
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putString("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}")
                .putUInt32("llama.context_length", 4096)
                .write(vocabPath);
    }

    static Path synth(ModelShape s, QuantRecipe r, String file, int threads) throws IOException {
        Path out = dir.resolve(file);
        try (GgufFile v = GgufFile.open(vocabPath)) {
            ModelSynthesizer.writer(s, r, v, 7).threads(threads).write(out);
        }
        return out;
    }

    static ModelShape tiny(String arch) {
        return switch (arch) {
            case "llama" -> ModelShape.custom("llama", 64, 2, 4, 2, 96, 0, 256, false);
            case "qwen2" -> ModelShape.custom("qwen2", 64, 2, 4, 1, 128, 0, 256, true);
            case "qwen3" -> ModelShape.custom("qwen3", 64, 2, 4, 2, 96, 32, 256, true);
            case "llama3" -> new ModelShape("tiny-llama3", "llama", 64, 2, 4, 2, 96, 16, 1024, 500000, 1e-5f, true, false, false,
                    new RopeScaling(32, 1, 4, 64));
            default -> throw new IllegalArgumentException(arch);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3", "llama3"})
    void tinyModelOfEachArchReopensWithLlamaCppNamesAndShapes(String which) throws IOException {
        ModelShape s = tiny(which);
        Path p = synth(s, QuantRecipe.F16, which + ".gguf", 2);
        String a = s.arch();
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.getString("general.architecture")).isEqualTo(a);
            assertThat(f.getLong(a + ".block_count")).isEqualTo(2);
            assertThat(f.getLong(a + ".embedding_length")).isEqualTo(64);
            assertThat(f.getLong(a + ".feed_forward_length")).isEqualTo(s.ffn());
            assertThat(f.getLong(a + ".attention.head_count")).isEqualTo(4);
            assertThat(f.getLong(a + ".attention.head_count_kv")).isEqualTo(s.kvHeads());
            assertThat(f.getLong(a + ".context_length")).isEqualTo(s.context());
            assertThat(f.getLong(a + ".rope.dimension_count")).isEqualTo(s.headDim());
            assertThat(f.getLong(a + ".vocab_size")).isEqualTo(VOCAB);
            assertThat(f.getFloat(a + ".rope.freq_base", 0)).isEqualTo((float) s.ropeTheta());
            assertThat(f.getFloat(a + ".attention.layer_norm_rms_epsilon", 0)).isEqualTo(s.rmsEps());
            assertThat(f.getLong("general.file_type")).isEqualTo(LlamaFileType.MOSTLY_F16.id);
            // llama.cpp checks metadata types strictly: counts are uint32, rope base and epsilon float32
            for (String k : List.of(a + ".block_count", a + ".context_length", a + ".embedding_length", a + ".attention.head_count", "general.file_type")) {
                assertThat(f.valueType(k)).as(k).isEqualTo(GgufValueType.UINT32);
            }
            assertThat(f.valueType(a + ".rope.freq_base")).isEqualTo(GgufValueType.FLOAT32);
            boolean customHeadDim = s.headDim() * s.heads() != s.dim();
            assertThat(f.has(a + ".attention.key_length")).isEqualTo(customHeadDim);
            if (customHeadDim) assertThat(f.getLong(a + ".attention.value_length")).isEqualTo(s.headDim());

            // tokenizer copied with its types; nothing else from the vocab file
            assertThat(f.getStringArray("tokenizer.ggml.tokens")).hasSize(VOCAB).startsWith("<unk>", "<s>", "</s>");
            assertThat(f.valueType("tokenizer.ggml.bos_token_id")).isEqualTo(GgufValueType.UINT32);
            assertThat(f.arrayElementType("tokenizer.ggml.token_type")).isEqualTo(GgufValueType.INT32);
            assertThat(f.getString("tokenizer.chat_template")).contains("messages");
            assertThat(f.getBool("tokenizer.ggml.add_bos_token", false)).isTrue();
            if (!a.equals("llama")) assertThat(f.has("llama.context_length")).isFalse();

            List<String> expected = new ArrayList<>();
            if (s.ropeScaling() != null) expected.add("rope_freqs.weight");
            expected.add("token_embd.weight");
            for (int l = 0; l < 2; l++) {
                String b = "blk." + l + ".";
                expected.addAll(List.of(b + "attn_norm.weight", b + "attn_q.weight", b + "attn_k.weight", b + "attn_v.weight"));
                if (s.qkvBias()) expected.addAll(List.of(b + "attn_q.bias", b + "attn_k.bias", b + "attn_v.bias"));
                if (s.qkNorm()) expected.addAll(List.of(b + "attn_q_norm.weight", b + "attn_k_norm.weight"));
                expected.addAll(List.of(b + "attn_output.weight", b + "ffn_norm.weight", b + "ffn_gate.weight", b + "ffn_up.weight", b + "ffn_down.weight"));
            }
            expected.add("output_norm.weight");
            if (!s.tied()) expected.add("output.weight");
            assertThat(f.tensors().keySet()).containsExactlyElementsOf(expected);

            int q = s.qDim(), kv = s.kvDim();
            assertShape(f, "token_embd.weight", GgmlType.F16, 64, VOCAB);
            assertShape(f, "blk.1.attn_q.weight", GgmlType.F16, 64, q);
            assertShape(f, "blk.1.attn_k.weight", GgmlType.F16, 64, kv);
            assertShape(f, "blk.1.attn_v.weight", GgmlType.F16, 64, kv);
            assertShape(f, "blk.1.attn_output.weight", GgmlType.F16, q, 64);
            assertShape(f, "blk.1.ffn_gate.weight", GgmlType.F16, 64, s.ffn());
            assertShape(f, "blk.1.ffn_up.weight", GgmlType.F16, 64, s.ffn());
            assertShape(f, "blk.1.ffn_down.weight", GgmlType.F16, s.ffn(), 64);
            assertShape(f, "blk.0.attn_norm.weight", GgmlType.F32, 64);
            assertShape(f, "output_norm.weight", GgmlType.F32, 64);
            if (!s.tied()) assertShape(f, "output.weight", GgmlType.F16, 64, VOCAB);
            if (s.qkvBias()) {
                assertShape(f, "blk.0.attn_q.bias", GgmlType.F32, q);
                assertShape(f, "blk.0.attn_k.bias", GgmlType.F32, kv);
            }
            if (s.qkNorm()) assertShape(f, "blk.0.attn_k_norm.weight", GgmlType.F32, s.headDim());
            if (s.ropeScaling() != null) assertShape(f, "rope_freqs.weight", GgmlType.F32, s.headDim() / 2);

            // values: norms exactly 1, weights about N(0, 0.02)
            float[] norm = new float[64];
            Kernels.dequantizeRow(GgmlType.F32, f.requireTensor("blk.1.ffn_norm.weight").data(), 0, norm, 0, 64);
            for (float x : norm) assertThat(x).isEqualTo(1f);
            GgufTensor up = f.requireTensor("blk.0.ffn_up.weight");
            int n = (int) up.elementCount();
            float[] w = new float[n];
            Kernels.dequantizeRow(GgmlType.F16, up.data(), 0, w, 0, n);
            double sum = 0, sq = 0;
            for (float x : w) { sum += x; sq += x * x; }
            assertThat(sum / n).isCloseTo(0, within(0.002));
            assertThat(Math.sqrt(sq / n)).isCloseTo(0.02, within(0.002));
        }
    }

    static void assertShape(GgufFile f, String name, GgmlType type, long... shape) {
        GgufTensor t = f.requireTensor(name);
        assertThat(t.type()).as(name).isEqualTo(type);
        assertThat(t.shape()).as(name).containsExactly(shape);
    }

    @ParameterizedTest
    @ValueSource(strings = {"q8_0", "q4_0", "q4_1", "q4_k", "q5_k", "q6_k", "bf16"})
    void quantisedModelsGetTheRecipesTypesAndDecodeNearTheRandomWeights(String type) throws IOException {
        QuantRecipe r = QuantRecipe.parse(type);
        // rows of 256 so that K-quants fit; untied, so token_embd and output differ in the K recipes
        ModelShape s = ModelShape.custom("llama", 256, 2, 2, 1, 256, 0, 256, false);
        Path p = synth(s, r, "q-" + type + ".gguf", 2);
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.getLong("general.file_type")).isEqualTo(r.fileType.id);
            for (GgufTensor t : f.tensors().values()) {
                int layer = t.name().startsWith("blk.") ? Integer.parseInt(t.name().split("\\.")[1]) : -1;
                assertThat(t.type()).as(t.name()).isEqualTo(r.typeFor(t.name(), t.shape(), layer, 2, false));
            }
            GgmlType v1 = f.requireTensor("blk.1.attn_v.weight").type();
            assertThat(f.requireTensor("blk.0.attn_norm.weight").type()).isEqualTo(GgmlType.F32);
            switch (r) {
                case Q4_K_M, Q5_K_M -> {
                    assertThat(f.requireTensor("blk.0.attn_v.weight").type()).isEqualTo(r.base);
                    assertThat(v1).isEqualTo(GgmlType.Q6_K);
                    assertThat(f.requireTensor("token_embd.weight").type()).isEqualTo(r.base);
                    assertThat(f.requireTensor("output.weight").type()).isEqualTo(GgmlType.Q6_K);
                }
                case Q8_0, Q4_0, Q4_1 -> assertThat(f.requireTensor("output.weight").type()).isEqualTo(r.base);
                default -> assertThat(v1).isEqualTo(r.base);
            }
            GgufTensor up = f.requireTensor("blk.0.ffn_up.weight");
            int cols = up.dim(0), rows = up.dim(1);
            float[] w = new float[cols];
            double sq = 0;
            long rowBytes = up.type().bytesFor(cols);
            for (int row = 0; row < rows; row++) {
                Kernels.dequantizeRow(up.type(), up.data(), row * rowBytes, w, 0, cols);
                for (float x : w) sq += x * x;
            }
            assertThat(Math.sqrt(sq / ((double) cols * rows))).isCloseTo(0.02, within(0.003));
        }
    }

    @Test
    void outputDoesNotDependOnThreadCountAndSeedMatters() throws IOException {
        Path one = synth(tiny("qwen2"), QuantRecipe.F32, "t1.gguf", 1);
        Path two = synth(tiny("qwen2"), QuantRecipe.F32, "t2.gguf", 2);
        assertThat(Files.mismatch(one, two)).isEqualTo(-1);
        Path other = dir.resolve("seed8.gguf");
        try (GgufFile v = GgufFile.open(vocabPath)) {
            ModelSynthesizer.writer(tiny("qwen2"), QuantRecipe.F32, v, 8).write(other);
        }
        assertThat(Files.mismatch(one, other)).isNotEqualTo(-1);
    }

    @Test
    void llama3RopeFactorsFollowConvertHfToGguf() {
        float[] f = ModelShape.named("llama-3.2-1b").ropeScaling().ropeFactors(64, 500000);
        assertThat(f).hasSize(32);
        assertThat(f[0]).isEqualTo(1f);
        assertThat(f[31]).isEqualTo(32f);
        for (int i = 1; i < f.length; i++) assertThat(f[i]).isGreaterThanOrEqualTo(f[i - 1]);
        // wavelength 2*pi*500000^(2i/64) crosses 8192/4 = 2048 between i = 14 and 15 and 8192 between i = 17 and 18
        assertThat(f[14]).isEqualTo(1f);
        assertThat(f[15]).isGreaterThan(1f).isLessThan(32f);
        assertThat(f[17]).isLessThan(32f);
        assertThat(f[18]).isEqualTo(32f);
        // smooth interpolation: 1 / ((1 - s) / 32 + s) with s = (8192 / wavelen - 1) / 3
        double wavelen = 2 * Math.PI * Math.pow(500000, 30.0 / 64);
        double smooth = (8192 / wavelen - 1) / 3;
        assertThat((double) f[15]).isCloseTo(1 / ((1 - smooth) / 32 + smooth), within(1e-3));
    }

    @Test
    void namedShapesHaveTheirPublishedSizes() {
        assertThat(ModelShape.named("llama-3.2-1b").parameterCount(128256)).isBetween(1_230_000_000L, 1_240_000_000L);
        assertThat(ModelShape.named("tinyllama-1.1b").parameterCount(32000)).isBetween(1_090_000_000L, 1_110_000_000L);
        assertThat(ModelShape.named("qwen2.5-0.5b").parameterCount(151936)).isBetween(490_000_000L, 500_000_000L);
        assertThat(ModelShape.named("qwen3-0.6b").parameterCount(151936)).isBetween(590_000_000L, 600_000_000L);
        assertThat(ModelShape.named("smollm2-135m").parameterCount(49152)).isBetween(134_000_000L, 136_000_000L);
        assertThat(ModelShape.named("mistral-7b").parameterCount(32768)).isBetween(7_200_000_000L, 7_300_000_000L);
        assertThatThrownBy(() -> ModelShape.named("gpt-5")).hasMessageContaining("known shapes: llama-3.2-1b");
        assertThatThrownBy(() -> ModelShape.custom("llama", 64, 2, 4, 3, 96, 0, 256, true)).hasMessageContaining("not a multiple of kv heads");
        assertThatThrownBy(() -> ModelShape.custom("gpt2", 64, 2, 4, 4, 96, 0, 256, true)).hasMessageContaining("architecture");
    }

    @Test
    void recipesPickTensorTypesLikeLlamaCpp() {
        QuantRecipe m = QuantRecipe.parse("q4_k");
        assertThat(m).isEqualTo(QuantRecipe.Q4_K_M);
        assertThat(QuantRecipe.parse("Q4_K_M")).isEqualTo(QuantRecipe.Q4_K_M);
        long[] sq = {2048, 2048}, v = {2048, 512}, down = {8192, 2048}, embd = {2048, 128256};
        List<Integer> moreBits = new ArrayList<>();
        for (int l = 0; l < 16; l++) {
            GgmlType tv = m.typeFor("blk." + l + ".attn_v.weight", v, l, 16, true);
            assertThat(m.typeFor("blk." + l + ".ffn_down.weight", down, l, 16, true)).isEqualTo(tv);
            assertThat(m.typeFor("blk." + l + ".attn_q.weight", sq, l, 16, true)).isEqualTo(GgmlType.Q4_K);
            if (tv == GgmlType.Q6_K) moreBits.add(l);
            else assertThat(tv).isEqualTo(GgmlType.Q4_K);
        }
        assertThat(moreBits).containsExactly(0, 1, 4, 7, 10, 13, 14, 15);
        assertThat(m.typeFor("token_embd.weight", embd, -1, 16, true)).isEqualTo(GgmlType.Q6_K);
        assertThat(m.typeFor("token_embd.weight", embd, -1, 16, false)).isEqualTo(GgmlType.Q4_K);
        assertThat(m.typeFor("output.weight", embd, -1, 16, false)).isEqualTo(GgmlType.Q6_K);
        assertThat(m.typeFor("blk.0.attn_norm.weight", new long[]{2048}, 0, 16, true)).isEqualTo(GgmlType.F32);
        // Qwen2.5-0.5B rows of 896 are not a multiple of 256: Q5_0 in llama.cpp, Q8_0 here
        assertThat(m.typeFor("blk.3.attn_q.weight", new long[]{896, 896}, 3, 24, true)).isEqualTo(GgmlType.Q8_0);
        assertThat(QuantRecipe.Q8_0.typeFor("token_embd.weight", embd, -1, 16, true)).isEqualTo(GgmlType.Q8_0);
        assertThat(QuantRecipe.Q4_0.typeFor("token_embd.weight", embd, -1, 16, true)).isEqualTo(GgmlType.Q4_0);
        assertThat(QuantRecipe.Q4_0.typeFor("blk.0.attn_q.weight", new long[]{48, 48}, 0, 2, true)).isEqualTo(GgmlType.F16);
        assertThat(QuantRecipe.Q6_K.typeFor("blk.0.attn_v.weight", v, 0, 16, true)).isEqualTo(GgmlType.Q6_K);
        assertThat(QuantRecipe.parse("q5_k").typeFor("blk.0.attn_q.weight", sq, 0, 16, true)).isEqualTo(GgmlType.Q5_K);
        assertThat(QuantRecipe.F16.typeFor("token_embd.weight", embd, -1, 16, true)).isEqualTo(GgmlType.F16);
        assertThatThrownBy(() -> QuantRecipe.parse("q3_k")).hasMessageContaining("unknown type 'q3_k'");
    }

    @Test
    void vocabWithoutTokensIsRejected() throws IOException {
        Path p = dir.resolve("novocab.gguf");
        new GgufWriter().putString("general.architecture", "llama").write(p);
        try (GgufFile v = GgufFile.open(p)) {
            assertThatThrownBy(() -> ModelSynthesizer.writer(tiny("llama"), QuantRecipe.F16, v, 1))
                    .hasMessageContaining("has no tokenizer.ggml.tokens");
        }
    }
}
