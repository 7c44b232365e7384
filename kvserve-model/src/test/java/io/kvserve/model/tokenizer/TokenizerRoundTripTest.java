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
        for (String text : texts(name.hashCode(), 500)) {
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
}
