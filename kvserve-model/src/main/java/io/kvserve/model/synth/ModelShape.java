package io.kvserve.model.synth;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The hyper-parameters of a decoder-only transformer in the llama family, enough to lay out its
 * GGUF tensors and metadata. Named shapes copy the published configs of real models.
 *
 * @param name         a label, e.g. {@code llama-3.2-1b}
 * @param arch         llama.cpp architecture: {@code llama}, {@code qwen2} or {@code qwen3}
 * @param dim          embedding length
 * @param layers       transformer blocks
 * @param heads        query heads
 * @param kvHeads      key/value heads (divides {@code heads})
 * @param ffn          feed-forward hidden size
 * @param headDim      per-head size; usually {@code dim / heads}, 128 for Qwen3
 * @param context      context length written to the metadata
 * @param ropeTheta    RoPE base frequency
 * @param rmsEps       RMSNorm epsilon
 * @param tied         output projection shares the token embedding (no {@code output.weight})
 * @param qkvBias      q/k/v projections have biases (Qwen2)
 * @param qkNorm       per-head RMSNorm on q and k (Qwen3)
 * @param ropeScaling  Llama 3 RoPE scaling, or {@code null}
 */
public record ModelShape(String name, String arch, int dim, int layers, int heads, int kvHeads, int ffn, int headDim,
                         int context, double ropeTheta, float rmsEps, boolean tied, boolean qkvBias, boolean qkNorm,
                         RopeScaling ropeScaling) {
    public static final List<String> ARCHS = List.of("llama", "qwen2", "qwen3");

    public ModelShape {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("shape name must not be empty");
        if (!ARCHS.contains(arch)) throw new IllegalArgumentException("architecture '" + arch + "' is not one of " + ARCHS);
        positive("dim", dim);
        positive("layers", layers);
        positive("heads", heads);
        positive("kv heads", kvHeads);
        positive("ffn", ffn);
        positive("head dim", headDim);
        positive("context", context);
        if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " is not a multiple of kv heads " + kvHeads);
        if (headDim % 2 != 0) throw new IllegalArgumentException("head dim " + headDim + " must be even for RoPE");
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("rope theta must be positive, got " + ropeTheta);
        if (!(rmsEps > 0)) throw new IllegalArgumentException("rms epsilon must be positive, got " + rmsEps);
        if (qkvBias && !arch.equals("qwen2")) throw new IllegalArgumentException("q/k/v biases are a qwen2 feature, not " + arch);
        if (qkNorm != arch.equals("qwen3")) throw new IllegalArgumentException("q/k norms go with qwen3 exactly, not " + arch);
    }

    private static void positive(String what, int v) {
        if (v <= 0) throw new IllegalArgumentException(what + " must be positive, got " + v);
    }

    private static final Map<String, ModelShape> NAMED = new LinkedHashMap<>();

    static {
        add(new ModelShape("llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 64, 131072, 500000, 1e-5f, true, false, false,
                new RopeScaling(32, 1, 4, 8192)));
        add(new ModelShape("smollm2-135m", "llama", 576, 30, 9, 3, 1536, 64, 8192, 100000, 1e-5f, true, false, false, null));
        add(new ModelShape("qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 64, 32768, 1e6, 1e-6f, true, true, false, null));
        add(new ModelShape("qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 3072, 128, 40960, 1e6, 1e-6f, true, false, true, null));
        add(new ModelShape("tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 64, 2048, 10000, 1e-5f, false, false, false, null));
        add(new ModelShape("mistral-7b", "llama", 4096, 32, 32, 8, 14336, 128, 32768, 1e6, 1e-5f, false, false, false, null));
    }

    private static void add(ModelShape s) {
        NAMED.put(s.name, s);
    }

    /** Names accepted by {@link #named}. */
    public static List<String> names() {
        return List.copyOf(NAMED.keySet());
    }

    /** The named shape; the message lists the known names. */
    public static ModelShape named(String name) {
        ModelShape s = NAMED.get(name.toLowerCase(Locale.ROOT));
        if (s == null) throw new IllegalArgumentException("unknown model shape '" + name + "'; known shapes: " + String.join(", ", names()));
        return s;
    }

    /**
     * A shape with the family defaults of {@code arch}: biases for qwen2, q/k norms for qwen3, rope
     * theta 1e6 and epsilon 1e-6 for the Qwen families, 10000 and 1e-5 for llama. A {@code headDim} of
     * 0 means {@code dim / heads}.
     */
    public static ModelShape custom(String arch, int dim, int layers, int heads, int kvHeads, int ffn, int headDim, int context, boolean tied) {
        if (headDim == 0) {
            if (heads <= 0 || dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " is not a multiple of heads " + heads + "; give the head dim explicitly");
            headDim = dim / heads;
        }
        boolean qwen = !arch.equals("llama");
        return new ModelShape("custom-" + arch, arch, dim, layers, heads, kvHeads, ffn, headDim, context,
                qwen ? 1e6 : 10000, qwen ? 1e-6f : 1e-5f, tied, arch.equals("qwen2"), arch.equals("qwen3"), null);
    }

    public ModelShape withLayers(int n) {
        return new ModelShape(name, arch, dim, n, heads, kvHeads, ffn, headDim, context, ropeTheta, rmsEps, tied, qkvBias, qkNorm, ropeScaling);
    }

    public ModelShape withTied(boolean t) {
        return new ModelShape(name, arch, dim, layers, heads, kvHeads, ffn, headDim, context, ropeTheta, rmsEps, t, qkvBias, qkNorm, ropeScaling);
    }

    public ModelShape withContext(int n) {
        return new ModelShape(name, arch, dim, layers, heads, kvHeads, ffn, headDim, n, ropeTheta, rmsEps, tied, qkvBias, qkNorm, ropeScaling);
    }

    /** Width of the concatenated query heads, {@code heads * headDim}. */
    public int qDim() {
        return heads * headDim;
    }

    /** Width of the concatenated key (or value) heads, {@code kvHeads * headDim}. */
    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Parameters for a vocabulary of {@code vocab} tokens. */
    public long parameterCount(int vocab) {
        long perLayer = 2L * dim + (long) dim * qDim() + 2L * dim * kvDim() + (long) qDim() * dim + 3L * dim * ffn;
        if (qkvBias) perLayer += qDim() + 2L * kvDim();
        if (qkNorm) perLayer += 2L * headDim;
        long p = (long) layers * perLayer + (long) vocab * dim * (tied ? 1 : 2) + dim;
        if (ropeScaling != null) p += headDim / 2;
        return p;
    }
}
