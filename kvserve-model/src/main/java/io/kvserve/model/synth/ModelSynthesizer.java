package io.kvserve.model.synth;

import io.kvserve.kernels.GgmlType;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufFormatException;
import io.kvserve.model.gguf.GgufWriter;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Lays out a llama.cpp-compatible GGUF model with random weights: metadata under the names
 * llama.cpp's loader reads, tensors under its names and in ggml shape order ({@code [cols, rows]}),
 * and the tokenizer copied from a vocab-only GGUF. Weights are N(0, 0.02) as in an initialised
 * network and norms are 1, so activations stay finite; each row is drawn from its own stream
 * seeded by (seed, tensor name, row), so the file does not depend on the thread count.
 */
public final class ModelSynthesizer {
    /** Standard deviation of every random weight and bias. */
    public static final double WEIGHT_STD = 0.02;

    private ModelSynthesizer() {}

    /** A writer holding the whole model; nothing is generated until {@link GgufWriter#write} runs. */
    public static GgufWriter writer(ModelShape s, QuantRecipe recipe, GgufFile vocab, long seed) {
        String[] tokens = vocab.getStringArray("tokenizer.ggml.tokens");
        if (tokens == null || tokens.length == 0) {
            throw new GgufFormatException(vocab.path() + " has no tokenizer.ggml.tokens: give a vocab GGUF (for example ../shared/models/vocab/ggml-vocab-llama3.gguf)");
        }
        int vocabSize = tokens.length;
        String a = s.arch();
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", a)
                .putString("general.type", "model")
                .putString("general.name", s.name() + " (random weights)")
                .putString("general.description", "Random weights from kvserve synth (seed " + seed + ", N(0, " + WEIGHT_STD + ")): a format and speed fixture, not a trained model")
                .putUInt32(a + ".block_count", s.layers())
                .putUInt32(a + ".context_length", s.context())
                .putUInt32(a + ".embedding_length", s.dim())
                .putUInt32(a + ".feed_forward_length", s.ffn())
                .putUInt32(a + ".attention.head_count", s.heads())
                .putUInt32(a + ".attention.head_count_kv", s.kvHeads())
                .putFloat32(a + ".rope.freq_base", (float) s.ropeTheta())
                .putFloat32(a + ".attention.layer_norm_rms_epsilon", s.rmsEps());
        if (s.headDim() * s.heads() != s.dim()) {
            w.putUInt32(a + ".attention.key_length", s.headDim()).putUInt32(a + ".attention.value_length", s.headDim());
        }
        w.putUInt32("general.file_type", recipe.fileType.id)
                .putUInt32(a + ".vocab_size", vocabSize)
                .putUInt32(a + ".rope.dimension_count", s.headDim())
                .putUInt32("general.quantization_version", 2);
        for (String key : vocab.metadata().keySet()) {
            if (key.startsWith("tokenizer.")) w.copy(vocab, key);
        }

        Tensors t = new Tensors(w, s, recipe, seed);
        if (s.ropeScaling() != null) {
            float[] factors = s.ropeScaling().ropeFactors(s.headDim(), s.ropeTheta());
            w.addTensor("rope_freqs.weight", GgmlType.F32, new long[]{factors.length}, (r, dst) -> System.arraycopy(factors, 0, dst, 0, factors.length));
        }
        t.random("token_embd.weight", -1, s.dim(), vocabSize);
        for (int l = 0; l < s.layers(); l++) {
            String b = "blk." + l + ".";
            t.ones(b + "attn_norm.weight", s.dim());
            t.random(b + "attn_q.weight", l, s.dim(), s.qDim());
            t.random(b + "attn_k.weight", l, s.dim(), s.kvDim());
            t.random(b + "attn_v.weight", l, s.dim(), s.kvDim());
            if (s.qkvBias()) {
                t.random(b + "attn_q.bias", l, s.qDim());
                t.random(b + "attn_k.bias", l, s.kvDim());
                t.random(b + "attn_v.bias", l, s.kvDim());
            }
            if (s.qkNorm()) {
                t.ones(b + "attn_q_norm.weight", s.headDim());
                t.ones(b + "attn_k_norm.weight", s.headDim());
            }
            t.random(b + "attn_output.weight", l, s.qDim(), s.dim());
            t.ones(b + "ffn_norm.weight", s.dim());
            t.random(b + "ffn_gate.weight", l, s.dim(), s.ffn());
            t.random(b + "ffn_up.weight", l, s.dim(), s.ffn());
            t.random(b + "ffn_down.weight", l, s.ffn(), s.dim());
        }
        t.ones("output_norm.weight", s.dim());
        if (!s.tied()) t.random("output.weight", -1, s.dim(), vocabSize);
        return w;
    }

    private record Tensors(GgufWriter w, ModelShape s, QuantRecipe recipe, long seed) {
        void ones(String name, int n) {
            w.addTensor(name, GgmlType.F32, new long[]{n}, (r, dst) -> Arrays.fill(dst, 1f));
        }

        void random(String name, int layer, long... shape) {
            GgmlType type = recipe.typeFor(name, shape, layer, s.layers(), s.tied());
            long stream = mix(seed ^ mix(fnv(name)));
            w.addTensor(name, type, shape, (r, dst) -> {
                SplittableRandom rnd = new SplittableRandom(stream + r);
                for (int i = 0; i < dst.length; i++) dst[i] = (float) (rnd.nextGaussian() * WEIGHT_STD);
            });
        }
    }

    private static long fnv(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) h = (h ^ s.charAt(i)) * 0x100000001b3L;
        return h;
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
