package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code kvserve eval kv} on two short stories: JSON fields, CSV, PNG; bad configurations and press flags are one-line errors. */
class EvalKvCommandTest {
    @TempDir
    Path dir;

    @Test
    void writesJsonCsvAndPlot() throws Exception {
        Path json = dir.resolve("kv.json");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "kv", "--model", TestAssets.require("models/stories260K.gguf").toString(),
                "--text", TestAssets.require("data/tinystories_val.txt").toString(), "--stories", "2", "--min-tokens", "64",
                "--max-tokens", "96", "--threads", "1", "--configs", "none+q8_0", "decode:every=8/snapkv:ratio=0.5+kivi4:residual=0", "--json", json.toString());
        assertThat(rc).as("exit code; stderr: %s", err).isZero();
        JsonNode a = new ObjectMapper().readTree(json.toFile());
        assertThat(a).hasSize(3);
        assertThat(a.get(0).get("config").asText()).isEqualTo("none+f16");
        assertThat(a.get(0).get("compression_ratio").asDouble()).isEqualTo(1.0);
        assertThat(a.get(0).get("top1_agreement").asDouble()).isEqualTo(1.0);
        for (JsonNode r : a) {
            for (String f : new String[] {"config", "kv_bytes_per_token", "compression_ratio", "perplexity", "top1_agreement", "kl"}) assertThat(r.has(f)).as(f).isTrue();
        }
        assertThat(a.get(1).get("compression_ratio").asDouble()).isGreaterThan(1.3);
        assertThat(a.get(2).get("compression_ratio").asDouble()).isGreaterThan(a.get(1).get("compression_ratio").asDouble());
        assertThat(out.toString()).contains("| none+q8_0");
        assertThat(Files.readString(dir.resolve("kv.csv"))).startsWith("config,kv_bytes_per_token");
        assertThat(Files.size(dir.resolve("kv.png"))).isGreaterThan(1000);
    }

    @Test
    void badConfigurationsAreClearErrors() {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "kv", "--configs", "snapkv:ratio=7+f16", "--json", dir.resolve("x.json").toString());
        assertThat(rc).isEqualTo(1);
        assertThat(err.toString()).contains("configuration 'snapkv:ratio=7+f16'").contains("ratio");
        err = new StringWriter();
        rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "generate", "--kv-type", "q5", "--model", TestAssets.require("models/stories260K.gguf").toString());
        assertThat(rc).isEqualTo(1);
        assertThat(err.toString()).contains("unknown KV element type 'q5'");
    }
}
