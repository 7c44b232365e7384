package io.kvserve.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama2.c run.c {@code encode()} vectors for stories260K, through the llama2.c tokenizer file and
 * through the GGUF export of the same vocabulary, and the greedy reference text of run.c.
 */
class TokenizerStories260KTest {

    record Vector(String text, int[] ids) {}

    static List<Vector> vectors() throws IOException {
        JsonNode root = new ObjectMapper().readTree(SharedModels.model("stories260K.greedy.json").toFile());
        List<Vector> out = new ArrayList<>();
        for (JsonNode c : root.path("tokenizer_vectors").path("cases")) {
            int[] ids = StreamSupport.stream(c.path("ids_with_bos").spliterator(), false).mapToInt(JsonNode::asInt).toArray();
            out.add(new Vector(c.path("text").asText(), ids));
        }
        assertThat(out).as("tokenizer_vectors.cases in stories260K.greedy.json").hasSizeGreaterThanOrEqualTo(9);
        return out;
    }

    static Tokenizer llama2c() {
        return Tokenizer.fromLlama2c(SharedModels.model("tok512.bin"), 512);
    }

    @Test
    void llama2cTokenizerMatchesRunC() throws IOException {
        Tokenizer tok = llama2c();
        for (Vector v : vectors()) {
            assertThat(tok.encode(v.text(), true, false)).as("run.c encode('%s')", v.text()).containsExactly(v.ids());
        }
    }

    @Test
    void ggufVocabularyMatchesRunC() throws IOException {
        Tokenizer tok = SharedModels.gguf("stories260K.gguf");
        assertThat(tok.vocabSize()).isEqualTo(512);
        assertThat(tok.bosId()).isEqualTo(1);
        assertThat(tok.eosId()).isEqualTo(2);
        assertThat(tok.addBosByDefault()).isTrue();
        for (Vector v : vectors()) {
            assertThat(tok.encode(v.text(), true, false)).as("GGUF encode('%s')", v.text()).containsExactly(v.ids());
        }
    }

    /** Two independent merge loops (run.c's over token ids, llama.cpp's over symbols) must agree. */
    @Test
    void llama2cAndGgufAgreeOnRandomText() {
        Tokenizer bin = llama2c();
        Tokenizer gguf = SharedModels.gguf("stories260K.gguf");
        String[] pool = {"Once", " upon", " a", " time", "Lily", " said", ",", ".", "!", "\"", "'", "s", " ", "  ", "\n", "\t", "e", "th",
                "ing", "12", "é", "日", "🦙", "the", "mom", " dog", "x", "Z", "?"};
        java.util.Random rnd = new java.util.Random(260);
        for (int i = 0; i < 500; i++) {
            StringBuilder sb = new StringBuilder();
            for (int j = rnd.nextInt(20); j > 0; j--) sb.append(pool[rnd.nextInt(pool.length)]);
            String text = sb.toString();
            int[] ids = bin.encode(text, true, false);
            assertThat(gguf.encode(text, true, false)).as("'%s'", text).containsExactly(ids);
            assertThat(bin.decode(ids)).isEqualTo(text);
        }
    }

    @Test
    void llama2cDecodeIsRunCOutput() throws IOException {
        Tokenizer tok = llama2c();
        for (Vector v : vectors()) {
            // run.c strips the dummy-prefix space after BOS
            assertThat(tok.decode(v.ids())).as("decode of '%s'", v.text()).isEqualTo(v.text());
        }
    }

    @Test
    void streamingDecodeOfGreedyRunIsRunCStdout() throws IOException {
        JsonNode root = new ObjectMapper().readTree(SharedModels.model("stories260K.greedy.json").toFile());
        Tokenizer tok = llama2c();
        JsonNode runs = root.path("runs");
        assertThat(runs.isEmpty()).as("runs in stories260K.greedy.json").isFalse();
        for (JsonNode run : runs) {
            // run.c prints the piece of every next token (forced prompt tokens, then generated ones),
            // given the token before it, starting from BOS; then a final newline
            StreamingDecoder d = tok.newStreamingDecoder();
            StringBuilder sb = new StringBuilder(d.feed(run.path("prompt_ids").get(0).asInt()));
            for (JsonNode n : run.path("next_tokens")) sb.append(d.feed(n.asInt()));
            sb.append(d.flush()).append('\n');
            assertThat(sb.toString()).as("prompt '%s'", run.path("prompt").asText()).isEqualTo(run.path("run_c_stdout").asText());
        }
    }
}
