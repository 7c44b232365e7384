package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.bench.KvFidelityEval;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kvserve eval kv --window N} on stories260K: the packed stream has BOS exactly where a story
 * starts, its bytes per token at a 512-token window are what a hand computation of the page layout
 * gives, and the command reports the mode and rejects a window longer than the model's context
 * (the GGUF declares 2048, llama.cpp's conversion default; stories260K was trained on windows of 512).
 */
class EvalKvWindowTest {
    @TempDir
    Path dir;

    /**
     * The first window opens with the first story's BOS; the next BOS sits exactly at the first
     * story's token count, and the tokens between are that story, so stories are concatenated in
     * order with one BOS each and nothing in between. The third window continues where the second ended.
     */
    @Test
    void windowsAreTheStoriesConcatenatedWithOneBosEach() throws Exception {
        String text = Files.readString(TestAssets.require("data/tinystories_val.txt"));
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            int bos = m.tokenizer().bosId();
            String[] paras = text.split("\\n\\s*\\n");
            int[] first = m.tokenizer().encode(paras[0].strip(), true, true);
            int[] second = m.tokenizer().encode(paras[1].strip(), true, true);
            List<KvFidelityEval.Story> w = KvFidelityEval.windows(m, text, 64, 4, 0.5);
            assertThat(w).hasSize(4);
            int[] stream = new int[256];
            for (int i = 0; i < 4; i++) {
                assertThat(w.get(i).tokens()).hasSize(64);
                assertThat(w.get(i).context()).isEqualTo(32);
                System.arraycopy(w.get(i).tokens(), 0, stream, 64 * i, 64);
            }
            assertThat(first.length).as("the first story is shorter than the packed tokens").isLessThan(200);
            assertThat(stream[0]).isEqualTo(bos);
            for (int p = 1; p < first.length; p++) assertThat(stream[p]).as("token %d", p).isEqualTo(first[p]);
            assertThat(stream[first.length]).as("BOS of the second story").isEqualTo(bos);
            for (int p = 1; p < Math.min(second.length, 256 - first.length); p++)
                assertThat(stream[first.length + p]).isEqualTo(second[p]);
            // BOS appears only at story starts: one per paragraph begun in these 256 tokens
            int starts = 0;
            for (int i = 0, at = 0; at < 256; i++) {
                String p = paras[i].strip();
                if (p.isEmpty()) continue;
                assertThat(stream[at]).isEqualTo(bos);
                starts++;
                at += m.tokenizer().encode(p, true, true).length;
            }
            int bosCount = 0;
            for (int t : stream) if (t == bos) bosCount++;
            assertThat(bosCount).isEqualTo(starts);
        }
    }

    /**
     * One window of 512 split in half: 256 scored steps at cache lengths L = 256..511, 16-token pages,
     * 5 layers x 4 KV heads x head dim 8. F16: ceil(L/16) pages x 20 streams x 16 x 2 x 8 x 2 bytes =
     * ceil(L/16) x 10240. Layer-grouped KIVI-2, no residual, values on arrival, per layer: a 768-byte
     * page per full group of 32 (keys 32 x (4 + 8), values 32 x (4 + 8)) plus the unfilled group's
     * ceil((L mod 32)/16) pages of 16 x (64-byte F16 key + 12-byte value row). At L = 511: F16 327,680,
     * KIVI-2 5 x (15 x 768 + 2 x 1216) = 69,760. The averages of bytes/L over the 256 steps are
     * 653.08 and 138.52: 4.71x, below the 5.33x of full groups because of the F16 tail and the partial pages.
     * With {@code meta=q8} every scale and minimum is one byte: a group page is 32 x (2 + 8) x 2 = 640
     * bytes and a residual slot 64 + 10; the average is 118.73, 5.50x.
     */
    @Test
    void bytesPerTokenAtALongWindowMatchTheHandComputedLayout() throws Exception {
        String text = Files.readString(TestAssets.require("data/tinystories_val.txt"));
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            var stories = KvFidelityEval.windows(m, text, 512, 1, 0.5);
            var o = new KvFidelityEval.Options(1, 96, 512, 0.5, 16);
            var rs = KvFidelityEval.run(m, stories, List.of(KvFidelityEval.Config.parse("none+kivi2:residual=0,group=layer,vresidual=0"),
                    KvFidelityEval.Config.parse("none+kivi2:residual=0,group=layer,vresidual=0,meta=q8")), o, null, 512);
            double f16 = 0, kivi2 = 0, kivi2q8 = 0;
            for (int len = 256; len < 512; len++) {
                f16 += (double) ((len + 15) / 16) * 10240 / len;
                kivi2 += 5.0 * ((len / 32) * 768 + ((len % 32 + 15) / 16) * 16 * (64 + 12)) / len;
                kivi2q8 += 5.0 * ((len / 32) * 640 + ((len % 32 + 15) / 16) * 16 * (64 + 10)) / len;
            }
            f16 /= 256;
            kivi2 /= 256;
            kivi2q8 /= 256;
            assertThat(kivi2q8).isCloseTo(118.73, org.assertj.core.data.Offset.offset(0.01));
            assertThat(rs.get(2).kvBytesPerToken()).isCloseTo(kivi2q8, org.assertj.core.data.Offset.offset(1e-6));
            assertThat(f16 / kivi2q8).isGreaterThan(5.0);
            assertThat(f16).isCloseTo(653.08, org.assertj.core.data.Offset.offset(0.01));
            assertThat(kivi2).isCloseTo(138.52, org.assertj.core.data.Offset.offset(0.01));
            assertThat(rs.get(0).kvBytesPerToken()).isCloseTo(f16, org.assertj.core.data.Offset.offset(1e-6));
            assertThat(rs.get(1).kvBytesPerToken()).isCloseTo(kivi2, org.assertj.core.data.Offset.offset(1e-6));
            assertThat(rs.get(1).compressionRatio()).isCloseTo(f16 / kivi2, org.assertj.core.data.Offset.offset(1e-9));
            assertThat(rs.get(1).contextTokens()).isEqualTo(256);
            assertThat(rs.get(1).continuationTokens()).isEqualTo(256);
            assertThat(rs.get(1).mode()).isEqualTo("windows");
            assertThat(rs.get(1).window()).isEqualTo(512);
        }
    }

    @Test
    void theCommandReportsWindowsAndRefusesAWindowPastTheContext() throws Exception {
        Path json = dir.resolve("w.json");
        String model = TestAssets.require("models/stories260K.gguf").toString();
        String textFile = TestAssets.require("data/tinystories_val.txt").toString();
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "kv", "--model", model, "--text", textFile, "--window", "48", "--windows", "2", "--context-fraction", "0.75",
                "--threads", "1", "--configs", "none+q8_0", "--json", json.toString());
        assertThat(rc).as("exit code; stderr: %s", err).isZero();
        JsonNode a = new ObjectMapper().readTree(json.toFile());
        assertThat(a).hasSize(2);
        for (JsonNode r : a) {
            assertThat(r.get("mode").asText()).isEqualTo("windows");
            assertThat(r.get("window").asInt()).isEqualTo(48);
            assertThat(r.get("stories").asInt()).as("windows evaluated").isEqualTo(2);
            assertThat(r.get("context_tokens").asInt()).as("2 x 36").isEqualTo(72);
            assertThat(r.get("continuation_tokens").asInt()).as("2 x 12").isEqualTo(24);
        }

        err = new StringWriter();
        rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "kv", "--model", model, "--text", textFile, "--window", "4096", "--configs", "none+q8_0", "--json", json.toString());
        assertThat(rc).isEqualTo(1);
        assertThat(err.toString()).contains("--window must be in [2, 2048] (the model's context length), got 4096").doesNotContain("\tat ");
    }
}
