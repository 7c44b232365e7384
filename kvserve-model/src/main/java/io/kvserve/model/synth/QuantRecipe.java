package io.kvserve.model.synth;

import io.kvserve.kernels.GgmlType;
import io.kvserve.model.gguf.LlamaFileType;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which tensor type each weight of a file gets, following llama.cpp's {@code llama_tensor_get_type}
 * for the recipes kvserve can encode. 1-D tensors (norms, biases, rope factors) stay F32. In the
 * K-quant recipes the output projection (the token embedding when tied) is Q6_K, and the _M mixes
 * give Q6_K to {@code attn_v} and {@code ffn_down} in about half the layers. The legacy recipes
 * (Q8_0, Q4_0, Q4_1) use their type for every 2-D weight, embedding and output included.
 *
 * <p>A row length that is not a multiple of the type's block (896 in Qwen2.5-0.5B for K-quants)
 * falls back as llama.cpp does (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0); kvserve cannot encode
 * Q5_0/Q5_1, so those become Q8_0, and a row that fits no 32-block becomes F16.
 */
public enum QuantRecipe {
    F32(LlamaFileType.ALL_F32, GgmlType.F32, false),
    F16(LlamaFileType.MOSTLY_F16, GgmlType.F16, false),
    BF16(LlamaFileType.MOSTLY_BF16, GgmlType.BF16, false),
    Q8_0(LlamaFileType.MOSTLY_Q8_0, GgmlType.Q8_0, false),
    Q4_0(LlamaFileType.MOSTLY_Q4_0, GgmlType.Q4_0, false),
    Q4_1(LlamaFileType.MOSTLY_Q4_1, GgmlType.Q4_1, false),
    Q4_K_M(LlamaFileType.MOSTLY_Q4_K_M, GgmlType.Q4_K, true),
    Q5_K_M(LlamaFileType.MOSTLY_Q5_K_M, GgmlType.Q5_K, true),
    Q6_K(LlamaFileType.MOSTLY_Q6_K, GgmlType.Q6_K, false);

    /** The value written to {@code general.file_type}. */
    public final LlamaFileType fileType;
    /** The type of most 2-D weights. */
    public final GgmlType base;
    private final boolean mixed;

    QuantRecipe(LlamaFileType fileType, GgmlType base, boolean mixed) {
        this.fileType = fileType;
        this.base = base;
        this.mixed = mixed;
    }

    /** Parses a type name as the CLI takes it: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k (q4_k_m), q5_k (q5_k_m), q6_k. */
    public static QuantRecipe parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT).replace('-', '_')) {
            case "f32" -> F32;
            case "f16" -> F16;
            case "bf16" -> BF16;
            case "q8_0" -> Q8_0;
            case "q4_0" -> Q4_0;
            case "q4_1" -> Q4_1;
            case "q4_k", "q4_k_m" -> Q4_K_M;
            case "q5_k", "q5_k_m" -> Q5_K_M;
            case "q6_k" -> Q6_K;
            default -> throw new IllegalArgumentException("unknown type '" + s + "'; use one of f32, f16, bf16, q8_0, q4_0, q4_1, q4_k (q4_k_m), q5_k (q5_k_m), q6_k");
        };
    }

    private boolean kQuant() {
        return base.blockSize == 256;
    }

    /**
     * The type of tensor {@code name}.
     *
     * @param shape   ggml shape, {@code shape[0]} the row length
     * @param layer   block index, or -1 outside the blocks
     * @param layers  number of blocks
     * @param tied    the token embedding doubles as the output projection
     */
    public GgmlType typeFor(String name, long[] shape, int layer, int layers, boolean tied) {
        if (shape.length < 2) return GgmlType.F32;
        GgmlType t = base;
        boolean output = name.equals("output.weight") || (tied && name.equals("token_embd.weight"));
        if (kQuant() && output) t = GgmlType.Q6_K;
        if (mixed && layer >= 0 && (name.endsWith(".attn_v.weight") || name.endsWith(".ffn_down.weight")) && useMoreBits(layer, layers)) {
            t = GgmlType.Q6_K;
        }
        return fitRow(t, shape[0]);
    }

    /** llama.cpp's {@code use_more_bits}: the first and last eighth of the layers and every third in between. */
    static boolean useMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    private static GgmlType fitRow(GgmlType t, long cols) {
        if (cols % t.blockSize == 0) return t;
        GgmlType fallback = switch (t) {
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            default -> GgmlType.Q8_0;
        };
        if (!fallback.supported) fallback = GgmlType.Q8_0;
        return cols % fallback.blockSize == 0 ? fallback : GgmlType.F16;
    }

    /** The CLI name, e.g. {@code q4_k_m}. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static String cliNames() {
        return String.join(", ", Arrays.stream(values()).map(QuantRecipe::cliName).toList());
    }
}
