package io.kvserve.model.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Random text survives encode then decode, for every vocabulary whose decoder is lossless. */
class TokenizerRoundTripTest {
    static final String[] POOL = {"a", "Z", "the", " of", "é", "ß", "日本", "𠜎", "1", "42", "٣", "½", " ", "  ", "\t", "\n", "\r\n",
            "\u3000", "\u00A0", "'", "'s", "'LL", "!", "?", ".", ",", "\"", "🦙", "✅", "\u0301", "\u200B", "<s>", "</s>", "<unk>",
            "<|eot_id|>", "<|im_end|>", "<think>", "<|fim_prefix|>", "<0x41>", "\u0000", "\u007F", "ÿ", "Ġ", "Ċ"};

    static List<String> texts(long seed, int count) {
        Random rnd = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            StringBuilder sb = new StringBuilder();
            int n = rnd.nextInt(16);
            for (int j = 0; j < n; j++) sb.append(POOL[rnd.nextInt(POOL.length)]);
            out.add(sb.toString());
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf", "tok512.bin"})
    void decodeInvertsEncode(String name) {
        Tokenizer tok = TokenizerPerformanceTest.tokenizer(name);
        // llama2.c decodes as run.c, stripping the dummy-prefix space after BOS; the others strip it themselves
        boolean bos = name.equals("tok512.bin");
        List<String> differences = new ArrayList<>();
        boolean cleansSpaces = name.contains("llama3");
        for (String text : texts(name.hashCode(), 500)) {
            // Llama 3's decoder removes the space in " ," " 's" and the like (clean_spaces), as llama.cpp's does
            if (cleansSpaces && text.matches("(?s).* [?!.,'].*")) continue;
            String back = tok.decode(tok.encode(text, bos, false));
            if (!back.equals(text)) differences.add(TokenizerPreTokenizerTest.escape(text) + " -> " + TokenizerPreTokenizerTest.escape(back));
        }
        assertThat(differences).as("%s: texts that did not survive", name).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf", "tok512.bin"})
    void loneSurrogatesEncodeAsTheReplacementJavaUses(String name) {
        Tokenizer tok = TokenizerPerformanceTest.tokenizer(name);
        // a Java string can hold half a surrogate pair; its UTF-8 form is '?', as String.getBytes writes it
        assertThat(tok.decode(tok.encode("a\uD83Eb", true, true))).endsWith("a?b");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf"})
    void concurrentEncodingMatchesSequentialEncoding(String name) throws Exception {
        Tokenizer tok = TokenizerPerformanceTest.tokenizer(name);
        List<String> texts = texts(name.hashCode() + 1, 400);
        List<int[]> expected = texts.stream().map(t -> tok.encode(t, false, true)).toList();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<Boolean>> results = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int offset = w;
                results.add(pool.submit(() -> {
                    for (int k = 0; k < texts.size(); k++) {
                        int i = (k * 7 + offset * 101) % texts.size();
                        if (!java.util.Arrays.equals(tok.encode(texts.get(i), false, true), expected.get(i))) return false;
                    }
                    return true;
                }));
            }
            for (var r : results) assertThat(r.get()).isTrue();
        }
    }
}
