package io.kvserve.model;

import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.synth.ModelShape;
import io.kvserve.model.synth.ModelSynthesizer;
import io.kvserve.model.synth.QuantRecipe;
import io.kvserve.model.synth.RopeScaling;
import io.kvserve.model.transformer.ForwardPass;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The engine against the naive reference forward pass on synthesized models of every architecture
 * (Llama with llama3 RoPE factors and a separate output, Qwen2 with biases, Qwen3 with q/k norms and a
 * head dim that differs from dim/heads) and every tensor type: logits within 1e-4, through a batched
 * prefill followed by single-token decode steps.
 */
class SynthesizedModelsTest {
    @TempDir
    static Path dir;

    static Stream<Arguments> cases() {
        List<ModelShape> shapes = List.of(
                new ModelShape("tiny-llama3", "llama", 256, 2, 4, 2, 512, 64, 256, 500000, 1e-5f, false, false, false,
                        new RopeScaling(8, 1, 4, 64)),
                ModelShape.custom("qwen2", 256, 2, 4, 2, 512, 64, 256, true),
                ModelShape.custom("qwen3", 256, 2, 4, 2, 512, 128, 256, true));
        List<Arguments> all = new ArrayList<>();
        for (ModelShape s : shapes) for (QuantRecipe r : QuantRecipe.values()) all.add(Arguments.of(s, r));
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void engineMatchesNaiveReference(ModelShape shape, QuantRecipe recipe) throws Exception {
        Path file = dir.resolve(shape.name() + "-" + recipe.cliName() + ".gguf");
        try (GgufFile vocab = GgufFile.open(TestAssets.require("models/stories260K.gguf"))) {
            ModelSynthesizer.writer(shape, recipe, vocab, 7).write(file);
        }
        int[] tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315};
        int prefill = 8;
        try (Model m = Model.load(file, null)) {
            assertThat(m.config().architecture()).isEqualTo(shape.arch());
            assertThat(m.config().headDim()).isEqualTo(shape.headDim());
            assertThat(m.config().ropeFreqFactors() != null).isEqualTo(shape.ropeScaling() != null);
            NaiveTransformer naive = new NaiveTransformer(m);
            ForwardPass fp = m.newForwardPass(prefill, WorkerPool.shared());
            int vocabSize = m.config().vocabSize();
            try (KvCache cache = m.newContiguousCache(64)) {
                int seq = cache.open();
                float[] logits = fp.forward(Batch.ofSequence(seq, tokens, 0, prefill, 0, true), cache).clone();
                for (int p = 0; p < tokens.length; p++) {
                    float[] expected = naive.step(tokens[p]);
                    float[] actual;
                    int off;
                    if (p < prefill) {
                        actual = logits;
                        off = p * vocabSize;
                    } else {
                        actual = fp.forward(Batch.ofSequence(seq, tokens, p, 1, p, false), cache);
                        off = 0;
                    }
                    for (int i = 0; i < vocabSize; i++) {
                        assertThat((double) actual[off + i]).as("%s %s logit %d at position %d", shape.name(), recipe, i, p)
                                .isCloseTo(expected[i], within(1e-4));
                    }
                }
            }
        }
    }
}
