package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code kvserve eval reuse} on one short request: JSON fields and the ends of the ratio range; bad specs are one-line errors. */
class EvalReuseCommandTest {
    @TempDir
    Path dir;

    @Test
    void writesJsonWithReuseAndFidelity() throws Exception {
        Path json = dir.resolve("reuse.json");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "reuse", "--model", TestAssets.require("models/stories260K.gguf").toString(),
                "--text", TestAssets.require("data/tinystories_val.txt").toString(), "--trials", "1", "--segment-tokens", "40",
                "--prefix-tokens", "20", "--suffix-tokens", "4", "--greedy-tokens", "8", "--threads", "1",
                "--configs", "naive", "kvshare:ratio=1", "--json", json.toString());
        assertThat(rc).as("exit code; stderr: %s", err).isZero();
        JsonNode a = new ObjectMapper().readTree(json.toFile());
        assertThat(a).hasSize(3);
        assertThat(a.get(0).get("config").asText()).isEqualTo("dense");
        for (JsonNode r : a) {
            for (String f : new String[] {"reuse_rate", "compute_share", "top1_agreement", "kl_first", "kl_mean"}) assertThat(r.has(f)).as(f).isTrue();
        }
        // naive reuses the whole segment (40 of 1 + 27 + 40 + 4 prompt tokens), ratio 1 recomputes it all
        assertThat(a.get(1).get("reuse_rate").asDouble()).isCloseTo(40.0 / 72, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(a.get(2).get("reuse_rate").asDouble()).isZero();
        assertThat(a.get(2).get("top1_agreement").asDouble()).isEqualTo(1.0);
        assertThat(a.get(2).get("kl_first").asDouble()).isLessThan(1e-6);
        assertThat(out.toString()).contains("| naive");
    }

    @Test
    void badSpecsAreClearErrors() {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "reuse", "--configs", "kvshare:ratio=2");
        assertThat(rc).isEqualTo(1);
        assertThat(err.toString()).contains("ratio must be in [0, 1]").doesNotContain("at io.kvserve");
        err = new StringWriter();
        rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "reuse", "--configs", "naive:ratio=0.2");
        assertThat(rc).isEqualTo(1);
        assertThat(err.toString()).contains("selection 'none' reuses everything");
    }
}
