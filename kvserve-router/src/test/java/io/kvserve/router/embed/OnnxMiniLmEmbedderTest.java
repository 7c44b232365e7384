package io.kvserve.router.embed;

import static io.kvserve.router.embed.EmbedderTest.dot;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.kvserve.router.embed.OnnxMiniLmEmbedder.Weights;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class OnnxMiniLmEmbedderTest {
    static final String LONG = "the cat sat on the mat and the dog lay by the door while rain fell on the roof. ".repeat(20);

    @Test
    void atTheBundledLimitItComputesWhatLangChain4jComputes() {
        // LangChain4j's tokenizer file truncates to 128 tokens, so both read the same word pieces of LONG (~400 pieces)
        MiniLmEmbedder reference = new MiniLmEmbedder();
        try (OnnxMiniLmEmbedder direct = new OnnxMiniLmEmbedder(Weights.FLOAT32, 128, 1)) {
            for (String t : List.of("What is the derivative of x^2?", LONG, "")) {
                assertThat(dot(direct.embed(t), reference.embed(t))).as("%.30s", t).isCloseTo(1.0, offset(1e-5));
            }
            assertThat(direct.name()).isEqualTo(reference.name()); // same vectors, so the same embedding-cache key
        }
    }

    @Test
    void aTokenLimitReadsExactlyTheFirstWordPieces() {
        try (OnnxMiniLmEmbedder cut = new OnnxMiniLmEmbedder(Weights.FLOAT32, 16, 1);
             OnnxMiniLmEmbedder full = new OnnxMiniLmEmbedder(Weights.FLOAT32, 512, 1)) {
            long[] ids = cut.tokenIds(LONG);
            assertThat(ids).hasSize(16);
            assertThat(ids[0]).isEqualTo(101); // [CLS]
            assertThat(ids[15]).isEqualTo(102); // [SEP]
            assertThat(full.tokenIds(LONG).length).isGreaterThan(128); // above the bundled file's own limit
            // every word of LONG is one word piece: 16 tokens = [CLS] + the first 14 words + [SEP]
            String first14 = String.join(" ", Arrays.copyOf(LONG.split(" "), 14));
            assertThat(full.tokenIds(first14)).containsExactly(ids);
            assertThat(dot(cut.embed(LONG), full.embed(first14))).isCloseTo(1.0, offset(1e-6));
            assertThat(dot(cut.embed(LONG), full.embed(LONG))).isLessThan(0.999); // the rest of the text did count at 512
            assertThat(cut.name()).isEqualTo("all-MiniLM-L6-v2@16");
        }
    }

    @Test
    void tokenisingOnlyAPrefixGivesTheFullTextsFirstPieces() {
        try (OnnxMiniLmEmbedder e = new OnnxMiniLmEmbedder(Weights.INT8, 16, 1)) {
            // 16 x 12 = 192 characters are tokenised first; each case must still match the whole text's truncation
            String words = "alpha beta gamma delta ".repeat(40);
            String noSpaces = "x".repeat(5000) + " tail";                 // no whitespace inside the budget
            String fewPieces = "word ".repeat(5) + "y".repeat(400) + " z"; // the prefix holds fewer than 16 pieces
            String punctuated = "a,b;c.d!e?f(g)h[i]j{k}l ".repeat(30);     // many pieces per word
            for (String t : List.of(words, noSpaces, fewPieces, punctuated)) {
                long[] full = e.tokenizer().encode(t, true, false).getIds();
                assertThat(e.tokenIds(t)).as("%.20s", t).containsExactly(full);
            }
        }
    }

    @Test
    void theInt8ModelKeepsTheNeighbourhoods() {
        try (OnnxMiniLmEmbedder q = new OnnxMiniLmEmbedder(Weights.INT8, 64, 1);
             OnnxMiniLmEmbedder f = new OnnxMiniLmEmbedder(Weights.FLOAT32, 64, 1)) {
            float[] a = q.embed("How do I compute the derivative of x squared?");
            float[] b = q.embed("What is the derivative of x^2?");
            float[] c = q.embed("Write a short poem about autumn leaves.");
            assertThat(a).hasSize(384);
            assertThat(dot(a, a)).isCloseTo(1.0, offset(1e-4));
            assertThat(dot(a, b)).isGreaterThan(0.6).isGreaterThan(dot(a, c) + 0.3);
            assertThat(dot(a, f.embed("How do I compute the derivative of x squared?"))).isGreaterThan(0.95);
            assertThat(q.name()).isEqualTo("all-MiniLM-L6-v2-q@64");
        }
    }

    @Test
    void badLimitsAreRejectedWithTheRange() {
        assertThatThrownBy(() -> new OnnxMiniLmEmbedder(Weights.INT8, 2, 1)).hasMessageContaining("token limit 2 outside [3, 512]");
        assertThatThrownBy(() -> new OnnxMiniLmEmbedder(Weights.INT8, 64, 0)).hasMessageContaining("threads 0");
    }

    @Test
    void specsParseToTheEncoderTheyName() {
        assertThat(EmbedderSpec.parse(EmbedderSpec.DEFAULT)).isEqualTo(new EmbedderSpec("minilm", Weights.INT8, 16, 1));
        assertThat(EmbedderSpec.parse("minilm")).isEqualTo(new EmbedderSpec("minilm", Weights.FLOAT32, 128, 1));
        assertThat(EmbedderSpec.parse("MiniLM-q:32:2")).isEqualTo(new EmbedderSpec("minilm", Weights.INT8, 32, 2));
        assertThat(EmbedderSpec.parse("hashing").create()).isInstanceOf(HashingEmbedder.class);
        assertThatThrownBy(() -> EmbedderSpec.parse("bert")).hasMessageContaining("unknown embedder 'bert'").hasMessageContaining("minilm-q:");
        assertThatThrownBy(() -> EmbedderSpec.parse("minilm:abc")).hasMessageContaining("token limit 'abc' is not a whole number");
        assertThatThrownBy(() -> EmbedderSpec.parse("minilm-q:1000")).hasMessageContaining("token limit 1000 outside [3, 512]");
        assertThatThrownBy(() -> EmbedderSpec.parse("minilm:64:1:9")).hasMessageContaining("too many");
    }
}
