package io.kvserve.router.embed;

import java.util.Locale;

/**
 * An encoder named on the command line or in a fleet config:
 * <ul>
 *   <li>{@code minilm-q:16}: the int8 all-MiniLM-L6-v2 reading a prompt's first 16 tokens, on one ONNX Runtime thread
 *       (the default: {@link #DEFAULT}; see docs/ROUTING.md section 3 for the measurements);</li>
 *   <li>{@code minilm[-q][:TOKENS[:THREADS]]}: float ({@code minilm}) or int8 ({@code minilm-q}) weights, token limit
 *       3..512 ([CLS] and [SEP] included; default 128, the bundled tokenizer's own limit), intra-op threads (default
 *       1);</li>
 *   <li>{@code minilm-langchain4j}: the float model through LangChain4j with its default ONNX Runtime session (the
 *       encoder every earlier figure was measured with);</li>
 *   <li>{@code hashing}: {@link HashingEmbedder}, 384 dimensions, a fast stand-in that is not a sentence encoder.</li>
 * </ul>
 */
public record EmbedderSpec(String family, OnnxMiniLmEmbedder.Weights weights, int maxTokens, int threads) {
    /** What {@code route eval}, {@code route latency-bench} and {@code route serve} use unless told otherwise. */
    public static final String DEFAULT = "minilm-q:16";
    static final String FORMS = "minilm[-q][:TOKENS[:THREADS]] (e.g. minilm-q:32), minilm-langchain4j or hashing";

    public static EmbedderSpec parse(String text) {
        if (text == null || text.isBlank()) throw new IllegalArgumentException("empty embedder name: use " + FORMS);
        String s = text.trim().toLowerCase(Locale.ROOT);
        if (s.equals("hashing")) return new EmbedderSpec("hashing", null, 0, 0);
        if (s.equals("minilm-langchain4j")) return new EmbedderSpec("minilm-langchain4j", OnnxMiniLmEmbedder.Weights.FLOAT32, OnnxMiniLmEmbedder.BUNDLED_TRUNCATION, 0);
        String[] parts = s.split(":", -1);
        OnnxMiniLmEmbedder.Weights w = switch (parts[0]) {
            case "minilm" -> OnnxMiniLmEmbedder.Weights.FLOAT32;
            case "minilm-q" -> OnnxMiniLmEmbedder.Weights.INT8;
            default -> throw new IllegalArgumentException("unknown embedder '" + text + "': use " + FORMS);
        };
        if (parts.length > 3) throw new IllegalArgumentException("embedder '" + text + "': too many ':' fields; use " + FORMS);
        int tokens = parts.length > 1 ? number(parts[1], "token limit", text) : OnnxMiniLmEmbedder.BUNDLED_TRUNCATION;
        int threads = parts.length > 2 ? number(parts[2], "thread count", text) : 1;
        if (tokens < 3 || tokens > OnnxMiniLmEmbedder.MAX_POSITIONS) {
            throw new IllegalArgumentException("embedder '" + text + "': token limit " + tokens + " outside [3, " + OnnxMiniLmEmbedder.MAX_POSITIONS + "]");
        }
        if (threads < 1 || threads > 64) throw new IllegalArgumentException("embedder '" + text + "': thread count " + threads + " outside [1, 64]");
        return new EmbedderSpec("minilm", w, tokens, threads);
    }

    private static int number(String field, String what, String text) {
        try {
            return Integer.parseInt(field);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("embedder '" + text + "': " + what + " '" + field + "' is not a whole number; use " + FORMS);
        }
    }

    public Embedder create() {
        return switch (family) {
            case "hashing" -> new HashingEmbedder(384);
            case "minilm-langchain4j" -> new MiniLmEmbedder();
            default -> new OnnxMiniLmEmbedder(weights, maxTokens, threads);
        };
    }
}
