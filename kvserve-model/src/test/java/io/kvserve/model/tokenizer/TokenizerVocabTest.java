package io.kvserve.model.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama.cpp's own tokenizer test vectors ({@code test-tokenizer-0}): every string of
 * {@code ggml-vocab-*.gguf.inp} must encode, without BOS and without special-token parsing, to
 * exactly the ids on the matching line of the {@code .out} file.
 */
class TokenizerVocabTest {
    static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    record Case(String text, int[] ids) {}

    /** The .inp strings each end with the separator; the .out has one line of ids per string. */
    static List<Case> cases(String vocab) {
        String inp = SharedModels.read(SharedModels.model("vocab/" + vocab + ".inp"));
        String out = SharedModels.read(SharedModels.model("vocab/" + vocab + ".out"));
        List<String> texts = new ArrayList<>(Arrays.asList(inp.split(SEPARATOR, -1)));
        assertThat(texts.getLast()).as("text after the last separator").isEmpty();
        texts.removeLast();
        List<String> lines = new ArrayList<>(Arrays.asList(out.split("\n", -1)));
        if (lines.getLast().isEmpty()) lines.removeLast();
        assertThat(lines).as("lines of %s.out vs strings of %s.inp", vocab, vocab).hasSameSizeAs(texts);
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            String line = lines.get(i).strip();
            int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split("\\s+")).mapToInt(Integer::parseInt).toArray();
            cases.add(new Case(texts.get(i), ids));
        }
        return cases;
    }

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf"})
    void encodesLikeLlamaCpp(String vocab) {
        Tokenizer tok = SharedModels.gguf("vocab/" + vocab);
        List<Case> cases = cases(vocab);
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            int[] got = tok.encode(c.text(), false, false);
            if (!Arrays.equals(got, c.ids())) {
                failures.add("'" + c.text().replace("\n", "\\n") + "'\n  expected " + Arrays.toString(c.ids()) + "\n  got      " + Arrays.toString(got));
            }
        }
        System.out.printf("%s: %d/%d%n", vocab, cases.size() - failures.size(), cases.size());
        assertThat(failures).as("%s: %d of %d strings differ from llama.cpp", vocab, failures.size(), cases.size()).isEmpty();
    }

    @Test
    void llama2TinyRandomCarriesTheLlama2Vocabulary() {
        // a full model file (weights + vocabulary), not a vocab-only file: same Llama 2 SentencePiece ids
        Tokenizer tok = SharedModels.gguf("random/llama-2-tiny-random.gguf");
        assertThat(tok.vocabSize()).isEqualTo(32000);
        for (Case c : cases("ggml-vocab-llama-spm.gguf")) {
            assertThat(tok.encode(c.text(), false, false)).as("'%s'", c.text()).containsExactly(c.ids());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf"})
    void decodeRoundTrips(String vocab) {
        Tokenizer tok = SharedModels.gguf("vocab/" + vocab);
        boolean cleansSpaces = vocab.contains("gpt-2") || vocab.contains("llama3");
        for (Case c : cases(vocab)) {
            // GPT-2's and Llama 3's decoders deliberately remove the space in " ," " 's" and the like (clean_spaces)
            if (cleansSpaces && c.text().matches("(?s).* [?!.,'].*")) continue;
            assertThat(tok.decode(tok.encode(c.text(), false, false))).as("round trip of '%s'", c.text()).isEqualTo(c.text());
        }
    }
}
