package io.kvserve.model.transformer;

import io.kvserve.kernels.Kernels;
import io.kvserve.model.LayerWeights;
import io.kvserve.model.Matrix;
import io.kvserve.model.Model;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.ModelFamily;
import io.kvserve.model.ModelFileException;
import io.kvserve.model.ModelWeights;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufTensor;
import io.kvserve.model.llama.LlamaFamily;
import io.kvserve.model.qwen2.Qwen2Family;
import io.kvserve.model.qwen3.Qwen3Family;
import io.kvserve.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Builds a {@link Model} from a GGUF file of a supported architecture, checking every shape. */
public final class GgufModelLoader {
    private static final Map<String, ModelFamily> FAMILIES = Map.of(
            "llama", new LlamaFamily(),
            "mistral", new LlamaFamily(),
            "qwen2", new Qwen2Family(),
            "qwen3", new Qwen3Family());

    private GgufModelLoader() {}

    public static Model load(Path path) throws IOException {
        GgufFile f = GgufFile.open(path);
        try {
            return build(f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    static Model build(GgufFile f) {
        if (f.tensors().isEmpty()) throw new ModelFileException(f.path() + ": the file has no tensors (a vocabulary-only GGUF?): it cannot be run");
        String arch = f.getString("general.architecture", null);
        if (arch == null) throw new ModelFileException(f.path() + ": metadata 'general.architecture' is missing: this GGUF holds no model (a vocabulary-only file?)");
        ModelFamily family = FAMILIES.get(arch);
        if (family == null) throw new ModelFileException(f.path() + ": architecture '" + arch + "' is not supported (supported: llama, mistral, qwen2, qwen3)");

        int dim = f.getInt(arch + ".embedding_length");
        int nLayers = f.getInt(arch + ".block_count");
        int nHeads = headCount(f, arch + ".attention.head_count");
        int nKvHeads = f.has(arch + ".attention.head_count_kv") ? headCount(f, arch + ".attention.head_count_kv") : nHeads;
        int headDim = f.getInt(arch + ".attention.key_length", dim / nHeads);
        int valueDim = f.getInt(arch + ".attention.value_length", headDim);
        if (valueDim != headDim) throw new ModelFileException(f.path() + ": value length " + valueDim + " differs from key length " + headDim + ", which kvserve does not support");
        int ffn = f.getInt(arch + ".feed_forward_length");
        int ctx = f.getInt(arch + ".context_length", 2048);
        float eps = f.getFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
        float theta = f.getFloat(arch + ".rope.freq_base", 10000f);
        int ropeDim = f.getInt(arch + ".rope.dimension_count", headDim);
        float linear = 1f;
        String scaling = f.getString(arch + ".rope.scaling.type", "none");
        if (scaling.equals("linear")) linear = f.getFloat(arch + ".rope.scaling.factor", 1f);
        else if (!scaling.equals("none") && !scaling.equals("llama3")) {
            throw new ModelFileException(f.path() + ": RoPE scaling '" + scaling + "' is not supported (supported: none, linear, llama3 via rope_freqs)");
        }
        GgufTensor emb = f.requireTensor("token_embd.weight");
        int vocab = emb.dim(1);
        float[] freqFactors = null;
        GgufTensor rf = f.tensor("rope_freqs.weight");
        if (rf != null) {
            freqFactors = vector(rf, ropeDim / 2);
        }
        ModelConfig config = new ModelConfig(arch, dim, nLayers, nHeads, nKvHeads, headDim, ffn, vocab, ctx, eps, theta,
                ropeDim, family.ropeLayout(), freqFactors, linear);

        Matrix embedding = matrix(f, "token_embd.weight", vocab, dim);
        List<LayerWeights> layers = new ArrayList<>(nLayers);
        for (int l = 0; l < nLayers; l++) {
            String p = "blk." + l + ".";
            layers.add(new LayerWeights(
                    vector(f.requireTensor(p + "attn_norm.weight"), dim),
                    matrix(f, p + "attn_q.weight", config.qDim(), dim),
                    matrix(f, p + "attn_k.weight", config.kvDim(), dim),
                    matrix(f, p + "attn_v.weight", config.kvDim(), dim),
                    matrix(f, p + "attn_output.weight", dim, config.qDim()),
                    family.attentionBiases() ? vector(f.requireTensor(p + "attn_q.bias"), config.qDim()) : optionalVector(f, p + "attn_q.bias", config.qDim()),
                    family.attentionBiases() ? vector(f.requireTensor(p + "attn_k.bias"), config.kvDim()) : optionalVector(f, p + "attn_k.bias", config.kvDim()),
                    family.attentionBiases() ? vector(f.requireTensor(p + "attn_v.bias"), config.kvDim()) : optionalVector(f, p + "attn_v.bias", config.kvDim()),
                    family.perHeadQkNorm() ? vector(f.requireTensor(p + "attn_q_norm.weight"), headDim) : null,
                    family.perHeadQkNorm() ? vector(f.requireTensor(p + "attn_k_norm.weight"), headDim) : null,
                    vector(f.requireTensor(p + "ffn_norm.weight"), dim),
                    matrix(f, p + "ffn_gate.weight", ffn, dim),
                    matrix(f, p + "ffn_up.weight", ffn, dim),
                    matrix(f, p + "ffn_down.weight", dim, ffn)));
        }
        float[] outNorm = vector(f.requireTensor("output_norm.weight"), dim);
        Matrix output = f.tensor("output.weight") != null ? matrix(f, "output.weight", vocab, dim) : embedding;
        Tokenizer tok = Tokenizer.fromGguf(f);
        if (tok != null && tok.vocabSize() > vocab) {
            throw new ModelFileException(f.path() + ": the tokenizer has " + tok.vocabSize() + " tokens but the embedding only " + vocab + " rows");
        }
        String name = f.path().getFileName().toString().replaceFirst("\\.gguf$", "");
        return new Model(name, f.path(), config, new ModelWeights(embedding, List.copyOf(layers), outNorm, output), tok,
                f.getString("tokenizer.chat_template", null), f, f);
    }

    private static int headCount(GgufFile f, String key) {
        Object v = f.metadata().get(key);
        if (v instanceof int[] || v instanceof long[]) {
            int[] a = f.getIntArray(key);
            for (int x : a) if (x != a[0]) throw new ModelFileException(f.path() + ": per-layer head counts in '" + key + "' vary (" + Arrays.toString(a) + "), which kvserve does not support");
            return a[0];
        }
        return f.getInt(key);
    }

    private static Matrix matrix(GgufFile f, String name, int rows, int cols) {
        GgufTensor t = f.requireTensor(name);
        if (t.shape().length != 2 || t.shape()[0] != cols || t.shape()[1] != rows) {
            throw new ModelFileException(f.path() + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape()) + ", expected [" + cols + ", " + rows + "]");
        }
        if (!t.type().supported) {
            throw new ModelFileException(f.path() + ": tensor '" + name + "' has type " + t.type() + ", which kvserve does not support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K)");
        }
        return new Matrix(name, t.type(), t.data(), rows, cols);
    }

    private static float[] optionalVector(GgufFile f, String name, int n) {
        GgufTensor t = f.tensor(name);
        return t == null ? null : vector(t, n);
    }

    private static float[] vector(GgufTensor t, int n) {
        if (t.elementCount() != n) {
            throw new ModelFileException("tensor '" + t.name() + "' has " + t.elementCount() + " elements, expected " + n);
        }
        if (!t.type().supported || t.type().isQuantized() && n % t.type().blockSize != 0) {
            throw new ModelFileException("tensor '" + t.name() + "' has type " + t.type() + ", which kvserve does not support here");
        }
        float[] out = new float[n];
        Kernels.dequantizeRow(t.type(), t.data(), 0, out, 0, n);
        return out;
    }

}
