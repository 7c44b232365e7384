package io.kvserve.model.transformer;

import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.RopeLayout;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.synth.ModelShape;
import io.kvserve.model.synth.ModelSynthesizer;
import io.kvserve.model.synth.QuantRecipe;
import io.kvserve.model.synth.RopeScaling;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * KV reuse at another offset rests on this: the layer-0 keys of a segment prefilled at offset a and
 * re-rotated (Rope.rerotate a+i -> b+i) equal the layer-0 keys of the same segment prefilled at offset
 * b (after a longer prefix that ends with the same tokens), for every RoPE variant the engine has:
 * adjacent pairs (stories260K), adjacent pairs with llama3 frequency factors, NeoX halves with q/k/v
 * biases (Qwen2) and NeoX halves after a per-head key norm with a head dim unlike dim/heads (Qwen3).
 * Unrotating both must give the same position-free key as well.
 */
class RopeRerotationModelTest {
    @TempDir
    static Path dir;

    static List<ModelShape> synthesized() {
        return List.of(
                new ModelShape("tiny-llama3", "llama", 256, 2, 4, 2, 512, 64, 512, 500000, 1e-5f, false, false, false, new RopeScaling(8, 1, 4, 64)),
                ModelShape.custom("qwen2", 256, 2, 4, 2, 512, 64, 512, true),
                ModelShape.custom("qwen3", 256, 2, 4, 2, 512, 128, 512, true));
    }

    @Test
    void stories260K() throws Exception {
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            assertThat(m.config().ropeLayout()).isEqualTo(RopeLayout.ADJACENT_PAIRS);
            check(m);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("synthesized")
    void synthesizedModel(ModelShape shape) throws Exception {
        Path file = dir.resolve(shape.name() + ".gguf");
        try (GgufFile vocab = GgufFile.open(TestAssets.require("models/stories260K.gguf"))) {
            ModelSynthesizer.writer(shape, QuantRecipe.F32, vocab, 11).write(file);
        }
        try (Model m = Model.load(file, null)) {
            assertThat(m.config().ropeLayout()).isEqualTo(shape.arch().equals("llama") ? RopeLayout.ADJACENT_PAIRS : RopeLayout.NEOX_HALVES);
            assertThat(m.config().ropeFreqFactors() != null).isEqualTo(shape.ropeScaling() != null);
            check(m);
        }
    }

    /** Segment after 5 prefix tokens vs after 5 + 300 (the same 5 last): keys equal after re-rotation. */
    private static void check(Model m) {
        int vocab = m.config().vocabSize(), kvDim = m.config().kvDim(), kvHeads = m.config().nKvHeads();
        int[] segment = new int[24];
        for (int i = 0; i < segment.length; i++) segment[i] = (37 * i + 11) % vocab;
        int a = 5, b = 305;
        int[] near = new int[a + segment.length], far = new int[b + segment.length];
        for (int i = 0; i < b; i++) far[i] = (13 * i + 3) % vocab;
        System.arraycopy(far, b - a, near, 0, a);
        System.arraycopy(segment, 0, near, a, segment.length);
        System.arraycopy(segment, 0, far, b, segment.length);
        ForwardPass fp = m.newForwardPass(64, WorkerPool.shared());
        Rope rope = fp.rope();
        try (KvCache cache = m.newContiguousCache(512)) {
            int sNear = prefill(fp, cache, near), sFar = prefill(fp, cache, far);
            float[] kn = new float[kvDim], kf = new float[kvDim], v = new float[kvDim];
            double worst = 0, scale = 0, unrotated = 0;
            for (int i = 0; i < segment.length; i++) {
                cache.read(0, sNear, a + i, kn, 0, v, 0);
                cache.read(0, sFar, b + i, kf, 0, v, 0);
                rope.rerotate(kn, 0, kvHeads, a + i, b + i);
                for (int j = 0; j < kvDim; j++) {
                    worst = Math.max(worst, Math.abs(kn[j] - kf[j]));
                    scale = Math.max(scale, Math.abs(kf[j]));
                }
                rope.unrotate(kn, 0, kvHeads, b + i);
                rope.unrotate(kf, 0, kvHeads, b + i);
                for (int j = 0; j < kvDim; j++) unrotated = Math.max(unrotated, Math.abs(kn[j] - kf[j]));
            }
            assertThat(scale).isPositive();
            // float angles at positions of a few hundred: ~1e-5 relative
            assertThat(worst / scale).as("max re-rotation error relative to max |k|").isLessThan(2e-5);
            assertThat(unrotated / scale).isLessThan(2e-5);
        }
    }

    private static int prefill(ForwardPass fp, KvCache cache, int[] tokens) {
        int seq = cache.open();
        cache.reserve(seq, tokens.length);
        for (int from = 0; from < tokens.length; from += fp.maxBatch()) {
            int n = Math.min(fp.maxBatch(), tokens.length - from);
            fp.forward(Batch.ofSequence(seq, tokens, from, n, from, false), cache);
        }
        return seq;
    }
}
