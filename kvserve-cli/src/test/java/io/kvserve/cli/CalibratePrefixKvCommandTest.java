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

/** {@code kvserve calibrate prefixkv} writes a profile that {@code eval kv} loads; PrefixKV without one calibrates on the fly. */
class CalibratePrefixKvCommandTest {
    @TempDir
    Path dir;

    @Test
    void profileIsWrittenAndUsedAndOnTheFlyCalibrationRuns() throws Exception {
        String model = TestAssets.require("models/stories260K.gguf").toString();
        Path text = TestAssets.require("data/tinystories_val.txt");
        Path profile = dir.resolve("prefixkv.json");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "calibrate", "prefixkv", "--model", model, "--text", text.toString(), "--samples", "2", "--threads", "1",
                "--ratio", "0.5,0.75", "--out", profile.toString());
        assertThat(rc).as("exit code; stderr: %s", err).isZero();
        JsonNode p = new ObjectMapper().readTree(profile.toFile());
        assertThat(p.get("layers").asInt()).isEqualTo(5);
        assertThat(p.get("samples").asInt()).isEqualTo(2);
        assertThat(p.get("ratios")).hasSize(2);
        double sum = 0;
        for (JsonNode e : p.get("ratios").get(1).get("evict")) sum += e.asDouble();
        assertThat(sum / 5).as("mean eviction at ratio 0.75").isBetween(0.7, 0.8);

        // the default calibration text is ../shared/data beside kvserve.home
        String home = System.getProperty("kvserve.home");
        System.setProperty("kvserve.home", text.getParent().getParent().resolveSibling("repo").toString());
        try {
            Path json = dir.resolve("kv.json");
            rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                    "eval", "kv", "--model", model, "--text", text.toString(), "--stories", "2", "--threads", "1",
                    "--configs", "prefixkv:ratio=0.75,profile=" + profile, "prefixkv:ratio=0.75", "--json", json.toString());
            assertThat(rc).as("exit code; stderr: %s", err).isZero();
            JsonNode a = new ObjectMapper().readTree(json.toFile());
            assertThat(a).hasSize(3);
            assertThat(a.get(1).get("compression_ratio").asDouble()).isGreaterThan(1.3);
            assertThat(a.get(2).get("compression_ratio").asDouble()).isGreaterThan(1.3);
        } finally {
            if (home == null) System.clearProperty("kvserve.home");
            else System.setProperty("kvserve.home", home);
        }
    }

    @Test
    void missingProfileIsAOneLineError() {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "eval", "kv", "--configs", "prefixkv:profile=" + dir.resolve("none.json") + "+f16", "--json", dir.resolve("x.json").toString());
        assertThat(rc).isEqualTo(1);
        assertThat(err.toString()).contains("does not exist").contains("kvserve calibrate prefixkv").doesNotContain("\tat ");
    }
}
