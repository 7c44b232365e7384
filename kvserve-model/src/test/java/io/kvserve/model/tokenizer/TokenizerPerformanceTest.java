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
        for (int i = 0; i < 3; i++) tok.encode(prose().substring(i * 7) + i, true, true); // JIT warm-up
        String[] texts = {prose(), "a".repeat(LENGTH), " ".repeat(LENGTH), "x y".repeat(LENGTH / 3), "🦙".repeat(LENGTH / 2)};
        String[] labels = {"prose", "one word", "spaces", "x y", "emoji"};
        for (int i = 0; i < texts.length; i++) {
            // best of three distinct variants (each misses the pre-token cache): the machine is shared
            long best = Long.MAX_VALUE;
            int[] ids = null;
            for (int rep = 0; rep < 3; rep++) {
                String text = "bcd".charAt(rep) + texts[i];
                long t0 = System.nanoTime();
                ids = tok.encode(text, true, true);
                best = Math.min(best, (System.nanoTime() - t0) / 1_000_000);
                assertThat(tok.encode(text, true, true)).as("the pre-token cache must not change results").isEqualTo(ids);
            }
            System.out.printf("%s %s: %d chars -> %d tokens in %d ms%n", name, labels[i], texts[i].length(), ids.length, best);
            assertThat(best).as("%s: encoding %s (%d chars)", name, labels[i], texts[i].length()).isLessThan(LIMIT_MS);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama3.gguf"})
    void longInputsDoNotOverflowTheStack(String name) {
        Tokenizer tok = tokenizer(name);
        String text = prose().repeat(25) + " ".repeat(50_000) + "9".repeat(50_000);
        int[] ids = tok.encode(text, false, false);
        assertThat(tok.decode(ids)).isEqualTo(text);
    }
}
