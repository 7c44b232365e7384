package io.kvserve.model.tokenizer;

import io.kvserve.model.ModelFileException;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The regex pre-tokenizer of a byte-level BPE vocabulary, chosen by GGUF {@code tokenizer.ggml.pre}
 * as in llama.cpp's {@code llm_tokenizer_bpe}. Each regex in turn splits every piece produced so far;
 * text between matches is kept as a piece of its own ({@code unicode_regex_split}).
 *
 * <p>{@code \s} is written out as Unicode White_Space, the set llama.cpp uses; Java's own {@code \s}
 * is ASCII only. The Hugging Face contractions {@code (?i:'s|'t|...)} are written as llama.cpp's
 * case-insensitive ASCII classes, so that no Unicode case folding (the Kelvin sign, the long s)
 * sneaks in. {@code \s+(?!\S)} leaves the last space of a run for the word that follows it.
 *
 * <p>llama.cpp also ties three vocabulary flags to the pre-tokenizer name; they are kept here.
 *
 * @param name          the {@code tokenizer.ggml.pre} value
 * @param patterns      applied in order
 * @param ignoreMerges  a pre-token that is itself in the vocabulary is emitted whole (Llama 3)
 * @param cleanSpaces   decoding removes spaces before punctuation and contractions (GPT-2 era)
 * @param addBos        default for {@code tokenizer.ggml.add_bos_token}
 */
record PreTokenizer(String name, List<Pattern> patterns, boolean ignoreMerges, boolean cleanSpaces, boolean addBos) {

    private static final String WS = "\\t\\n\\x0B\\f\\r\\x20\\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

    /** GPT-2: {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}. */
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + WS + "\\p{L}\\p{N}]+|[" + WS + "]+(?![^" + WS + "])|[" + WS + "]+";

    private static final String CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

    /** Llama 3: {@code (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}. */
    static final String LLAMA3 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" + WS + "\\p{L}\\p{N}]+[\\r\\n]*|["
            + WS + "]*[\\r\\n]+|[" + WS + "]+(?![^" + WS + "])|[" + WS + "]+";

    /** Qwen2: as Llama 3 but one digit per piece. */
    static final String QWEN2 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" + WS + "\\p{L}\\p{N}]+[\\r\\n]*|["
            + WS + "]*[\\r\\n]+|[" + WS + "]+(?![^" + WS + "])|[" + WS + "]+";

    private static PreTokenizer of(String name, boolean ignoreMerges, boolean cleanSpaces, boolean addBos, String... regexes) {
        List<Pattern> ps = new ArrayList<>();
        for (String r : regexes) ps.add(Pattern.compile(r));
        return new PreTokenizer(name, List.copyOf(ps), ignoreMerges, cleanSpaces, addBos);
    }

    /** The pre-tokenizer for a {@code tokenizer.ggml.pre} value (null or empty: llama.cpp's "default"). */
    static PreTokenizer forName(String pre) {
        String name = pre == null || pre.isEmpty() ? "default" : pre;
        return switch (name) {
            case "default" -> of(name, false, true, false,
                    "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");
            case "llama3", "llama-v3", "llama-bpe", "falcon3" -> of(name, true, true, true, LLAMA3);
            case "dbrx", "smaug-bpe" -> of(name, false, true, false, LLAMA3);
            case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                 "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais" -> of(name, false, true, false, GPT2);
            case "qwen2" -> of(name, false, false, false, QWEN2);
            case "stablelm2", "megrez" -> of(name, false, true, false, QWEN2);
            case "smollm", "command-r" -> of(name, false, false, false, "\\p{N}", GPT2);
            case "starcoder", "refact", "codeshell", "exaone", "minerva-7b" -> of(name, false, true, false, "\\p{N}", GPT2);
            default -> throw new ModelFileException("tokenizer.ggml.pre '" + name + "' is not supported; kvserve knows "
                    + "default, llama-bpe (llama3, llama-v3, falcon3, dbrx, smaug-bpe), gpt-2 (phi-2, mpt, olmo, jais, jina-*, roberta-bpe, gigachat), "
                    + "qwen2 (stablelm2, megrez) and smollm (starcoder, refact, command-r, codeshell, exaone, minerva-7b)");
        };
    }

    /** Splits text into pre-tokens; concatenated, they give back the text. */
    List<String> split(String text) {
        List<String> pieces = List.of(text);
        for (Pattern p : patterns) {
            List<String> out = new ArrayList<>(pieces.size() * 2);
            for (String piece : pieces) {
                Matcher m = p.matcher(piece);
                int last = 0;
                while (m.find()) {
                    if (m.start() > last) out.add(piece.substring(last, m.start()));
                    if (m.end() > m.start()) out.add(piece.substring(m.start(), m.end()));
                    last = m.end();
                }
                if (last < piece.length()) out.add(piece.substring(last));
            }
            pieces = out;
        }
        return pieces;
    }
}
