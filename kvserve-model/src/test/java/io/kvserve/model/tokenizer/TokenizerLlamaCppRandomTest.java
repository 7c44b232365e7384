package io.kvserve.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 160 random strings (scripts, emoji, odd whitespace, contractions, special-token look-alikes)
 * tokenized and detokenized by a real llama.cpp build ({@code src/test/resources/tokenizer/llamacpp-random.json},
 * made by {@code scripts/llamacpp-tokenize.sh}): encode without and with special-token parsing, and
 * decode, must match for every vocabulary.
 */
class TokenizerLlamaCppRandomTest {
    private static JsonNode vectors;

    static synchronized JsonNode vectors() throws IOException {
        if (vectors == null) {
            try (InputStream in = TokenizerLlamaCppRandomTest.class.getResourceAsStream("/tokenizer/llamacpp-random.json")) {
                assertThat(in).as("test resource tokenizer/llamacpp-random.json").isNotNull();
                vectors = new ObjectMapper().readTree(in);
            }
        }
        return vectors;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-llama3.gguf",
            "vocab/ggml-vocab-qwen2.gguf", "stories260K.gguf"})
    void matchesLlamaCpp(String vocab) throws IOException {
        JsonNode root = vectors();
        JsonNode texts = root.path("texts");
        JsonNode v = root.path("vocabs").path(vocab);
        assertThat(v.isMissingNode()).as("%s in llamacpp-random.json", vocab).isFalse();
        Tokenizer tok = SharedModels.gguf(vocab);
        List<String> differences = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            String text = texts.get(i).asText();
            int[] plain = ints(v.path("plain").get(i));
            JsonNode s = v.path("special").get(String.valueOf(i));
            int[] special = s == null ? plain : ints(s);
            JsonNode d = v.path("decoded").get(String.valueOf(i));
            String decoded = d == null ? text : d.asText();
            String shown = TokenizerPreTokenizerTest.escape(text);
            int[] got = tok.encode(text, false, false);
            if (!Arrays.equals(got, plain)) differences.add("encode " + shown + "\n  llama.cpp " + Arrays.toString(plain) + "\n  kvserve   " + Arrays.toString(got));
            got = tok.encode(text, false, true);
            if (!Arrays.equals(got, special)) differences.add("encode (special) " + shown + "\n  llama.cpp " + Arrays.toString(special) + "\n  kvserve   " + Arrays.toString(got));
            String back = tok.decode(plain);
            if (!back.equals(decoded)) differences.add("decode " + shown + "\n  llama.cpp " + TokenizerPreTokenizerTest.escape(decoded) + "\n  kvserve   " + TokenizerPreTokenizerTest.escape(back));
        }
        System.out.printf("%s: %d/%d random strings as llama.cpp%n", vocab, texts.size() - differences.size(), texts.size());
        assertThat(differences).as("%s: differences from llama.cpp", vocab).isEmpty();
    }

    private static int[] ints(JsonNode n) {
        int[] r = new int[n.size()];
        for (int i = 0; i < r.length; i++) r[i] = n.get(i).asInt();
        return r;
    }
}
