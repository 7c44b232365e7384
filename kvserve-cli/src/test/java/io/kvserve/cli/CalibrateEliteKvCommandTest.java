package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.kvcache.elitekv.EliteKvProfile;
import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code kvserve calibrate elitekv} writes a profile that {@code eval kv} reads; without one, eval calibrates on the fly; a missing file is a one-line error. */
class CalibrateEliteKvCommandTest {
    @TempDir
    Path dir;

    @Test
    void calibratesThenEvaluatesWithAndWithoutTheProfile() throws Exception {
        String model = TestAssets.require("models/stories260K.gguf").toString(), text = TestAssets.require("data/tinystories_val.txt").toString();
        Path profile = dir.resolve("stories.elitekv");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "calibrate", "elitekv", "--model", model, "--text", text, "--skip", "2", "--stories", "16", "--min-tokens", "64",
                "--max-tokens", "96", "--threads", "1", "--out", profile.toString());
        assertThat(rc).as("exit code; stderr: %s", err).isZero();
        EliteKvProfile p = EliteKvProfile.read(profile);
        assertThat(p.layers()).isEqualTo(5);
        assertThat(p.kvHeads()).isEqualTo(4);
        assertThat(p.ranking()[4][3]).containsExactlyInAnyOrder(0, 1, 2, 3);

        Path json = dir.resolve("kv.json");
        rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "kv", "--model", model, "--text", text, "--stories", "2", "--min-tokens", "64", "--max-tokens", "96", "--threads", "1",
                "--configs", "elitekv:elite=1,rank=2,profile=" + profile + "+f16", "elitekv:elite=1,rank=2+f16", "--json", json.toString());
        assertThat(rc).as("exit code; stderr: %s", err).isZero();
        JsonNode a = new ObjectMapper().readTree(json.toFile());
        assertThat(a).hasSize(3);
        // 2 elite dims + rank 2 = 4 of the 16 F16 elements per token and head: 4x fewer bytes, less partial pages
        for (int i = 1; i <= 2; i++) assertThat(a.get(i).get("compression_ratio").asDouble()).isBetween(3.5, 4.5);
        // eval calibrates on the 16 stories after the 2 it evaluates: the same calibration as the profile's
        assertThat(a.get(2).get("perplexity").asDouble()).isEqualTo(a.get(1).get("perplexity").asDouble());
        assertThat(a.get(1).get("perplexity").asDouble()).isGreaterThan(a.get(0).get("perplexity").asDouble());
    }

    @Test
    void missingProfileIsAClearError() {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "kv", "--configs", "elitekv:profile=" + dir.resolve("nope.elitekv") + "+f16", "--json", dir.resolve("x.json").toString());
        assertThat(rc).isEqualTo(1);
        assertThat(err.toString()).contains("does not exist").contains("kvserve calibrate elitekv").doesNotContain("at io.kvserve");
    }
}
