package io.kvserve.model.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Encoding 4000 characters takes milliseconds, including the worst cases of a quadratic merge
 * loop (one 4000-character word, 4000 spaces). The bound is loose because CI machines are shared.
 */
class TokenizerPerformanceTest {
    static final int LENGTH = 4000;
    static final long LIMIT_MS = 400;

    static String prose() {
        String para = "Once upon a time, in 1987, a little girl named Lily found 42 shiny pebbles by the river. "
                + "She said: \"Don't worry, we'll count them!\" 日本語のテキストも少し。 Ça va? 🦙\n\n";
        StringBuilder sb = new StringBuilder();
        while (sb.length() < LENGTH) sb.append(para);
        return sb.substring(0, LENGTH);
    }

    static Tokenizer tokenizer(String name) {
        return name.equals("tok512.bin") ? TokenizerStories260KTest.llama2c() : SharedModels.gguf("vocab/" + name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf", "tok512.bin"})
    void fourThousandCharactersTakeMilliseconds(String name) {
        Tokenizer tok = tokenizer(name);
        String[] texts = {prose(), "a".repeat(LENGTH), " ".repeat(LENGTH), "x y".repeat(LENGTH / 3), "🦙".repeat(LENGTH / 2)};
        String[] labels = {"prose", "one word", "spaces", "x y", "emoji"};
        for (int i = 0; i < texts.length; i++) {
            tok.encode(texts[i], true, true); // warm-up
            long t0 = System.nanoTime();
            int[] ids = tok.encode(texts[i], true, true);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("%s %s: %d chars -> %d tokens in %d ms%n", name, labels[i], texts[i].length(), ids.length, ms);
            assertThat(ms).as("%s: encoding %s (%d chars)", name, labels[i], texts[i].length()).isLessThan(LIMIT_MS);
            // the cache must not change results
            assertThat(tok.encode(texts[i], true, true)).isEqualTo(ids);
        }
    }
}
