package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code kvserve bench serve} end to end on stories260K, and {@code serve}'s options. */
class BenchServeCommandTest {
    @TempDir
    Path dir;

    static int run(StringWriter err, String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(new StringWriter(), true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /** Runs {@code bench serve} on stories260K with {@code args} and {@code --json}, expects success, and returns the levels. */
    private JsonNode benchServeLevels(String jsonName, String... args) throws Exception {
        Path json = dir.resolve(jsonName);
        java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of("bench", "serve", "--model", TestAssets.require("models/stories260K.gguf").toString()));
        all.addAll(java.util.List.of(args));
        all.addAll(java.util.List.of("--json", json.toString()));
        StringWriter err = new StringWriter();
        int code = run(err, all.toArray(String[]::new));
        assertThat(code).as(err.toString()).isZero();
        return new ObjectMapper().readTree(json.toFile());
    }

    @Test
    void benchServeWritesOneObjectPerConcurrencyLevel() throws Exception {
        Path png = dir.resolve("serve.png");
        JsonNode levels = benchServeLevels("serve.json", "--concurrency", "1,2,4", "--max-tokens", "6", "--warmup-tokens", "4", "--plot", png.toString());
        assertThat(levels.size()).isEqualTo(3);
        for (int i = 0; i < 3; i++) {
            JsonNode l = levels.get(i);
            assertThat(l.get("concurrency").asInt()).isEqualTo(1 << i);
            for (String f : new String[]{"decode_tps_total", "decode_tps_steady", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms"}) {
                assertThat(l.get(f).asDouble()).as(f).isPositive();
            }
            assertThat(l.get("generated_tokens").asLong()).isEqualTo(6L * Math.max(2, 1 << i));
        }
        assertThat(Files.size(png)).isPositive();
    }

    /** --repeat runs the level sequence again: each level counts the tokens of every run and keeps each run's ratio to one stream. */
    @Test
    void repeatedRunsAddUpPerLevelAndKeepEachRunsRatio() throws Exception {
        JsonNode levels = benchServeLevels("repeat.json", "--concurrency", "1,2", "--max-tokens", "5", "--warmup-tokens", "4", "--repeat", "3");
        assertThat(levels.size()).isEqualTo(2);
        for (int i = 0; i < 2; i++) {
            JsonNode l = levels.get(i);
            assertThat(l.get("repeats").asInt()).isEqualTo(3);
            // three runs of two requests (one stream sends two in a row, two streams one each)
            assertThat(l.get("requests").asInt()).isEqualTo(6);
            assertThat(l.get("generated_tokens").asLong()).isEqualTo(30L);
            assertThat(l.get("speedup_vs1_runs").size()).isEqualTo(3);
            double tps = l.get("decode_tps_total").asDouble();
            assertThat(tps).isCloseTo(30 / l.get("wall_s").asDouble(), org.assertj.core.data.Offset.offset(1e-6));
        }
        for (JsonNode r : levels.get(0).get("speedup_vs1_runs")) assertThat(r.asDouble()).isEqualTo(1.0);
        for (JsonNode r : levels.get(1).get("speedup_vs1_runs")) assertThat(r.asDouble()).isPositive();
        assertThat(levels.get(1).get("speedup_vs1").asDouble())
                .isCloseTo(levels.get(1).get("decode_tps_total").asDouble() / levels.get(0).get("decode_tps_total").asDouble(), org.assertj.core.data.Offset.offset(1e-9));
        StringWriter bad = new StringWriter();
        assertThat(run(bad, "bench", "serve", "--model", TestAssets.require("models/stories260K.gguf").toString(), "--repeat", "0")).isNotZero();
        assertThat(bad.toString()).contains("--repeat must be >= 1").doesNotContain("\tat ");
    }

    /** A press spec the server refuses is the user's mistake: one line naming the problem, exit 1, no stack trace. */
    @Test
    void aRefusedRequestPressIsAClearError() {
        Path model = TestAssets.require("models/stories260K.gguf");
        StringWriter err = new StringWriter();
        int code = run(err, "bench", "serve", "--model", model.toString(), "--concurrency", "1", "--max-tokens", "4", "--warmup-tokens", "2",
                "--request-kv-press", "bogus:ratio=2");
        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).contains("kvserve: the server refused the benchmark's request (400)").contains("unknown press 'bogus'")
                .doesNotContain("\tat ");
    }

    /** Steady decode rate: per client, tokens after the first over first-to-last-token time; clients add up, a client's sequential requests do not. */
    @Test
    void steadyDecodeRateCountsEachClientOnceAndLeavesOutPrefill() {
        var a1 = new BenchServeCommand.Sample(0, 5, 900.0, java.util.List.of(100.0, 100.0, 100.0, 100.0)); // 4 tokens in 0.4 s
        var a2 = new BenchServeCommand.Sample(0, 3, 50.0, java.util.List.of(200.0, 200.0));               // 2 tokens in 0.4 s
        var b = new BenchServeCommand.Sample(1, 11, 5000.0, java.util.List.of(50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0)); // 10 in 0.5 s
        // client 0: 6 tokens / 0.8 s = 7.5; client 1: 20; the long TTFTs do not count
        assertThat(BenchServeCommand.steadyDecodeTps(java.util.List.of(a1, a2, b))).isCloseTo(27.5, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(BenchServeCommand.steadyDecodeTps(java.util.List.of(a1, a2))).isCloseTo(7.5, org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void requestPressesAreComparedInOneRunWithTheirKvBytes() throws Exception {
        JsonNode levels = benchServeLevels("press.json", "--concurrency", "2", "--max-tokens", "96", "--warmup-tokens", "4",
                "--prefix-cache-mib", "0", "--request-kv-press", "none", "--request-kv-press", "decode:every=4/snapkv:ratio=0.75,window=4");
        assertThat(levels.size()).isEqualTo(2);
        JsonNode none = levels.get(0), pressed = levels.get(1);
        assertThat(none.get("kv_press").asText()).isEqualTo("none");
        assertThat(pressed.get("kv_press").asText()).isEqualTo("decode:every=4/snapkv:ratio=0.75,window=4");
        for (JsonNode l : levels) {
            assertThat(l.get("concurrency").asInt()).isEqualTo(2);
            assertThat(l.get("generated_tokens").asLong()).isEqualTo(2 * 96);
            assertThat(l.get("kv_bytes_peak").asLong()).isPositive();
            assertThat(l.get("kv_pages_used_peak").asInt()).isPositive();
            assertThat(l.get("running_peak").asInt()).isBetween(1, 2);
        }
        // the prompt alone is more than a compressed stream ever holds (a quarter of it plus 4)
        assertThat(pressed.get("kv_bytes_peak").asLong()).isLessThan(none.get("kv_bytes_peak").asLong());
        assertThat(pressed.get("kv_bytes_per_stream_peak").asDouble()).isEqualTo(pressed.get("kv_bytes_peak").asDouble() / 2);
    }

    @Test
    void aPressThatCannotServeIsAOneLineError() {
        StringWriter err = new StringWriter();
        int code = run(err, "bench", "serve", "--model", TestAssets.require("models/stories260K.gguf").toString(), "--kv-press", "kvzip:ratio=0.5",
                "--concurrency", "1");
        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).contains("--kv-press").contains("drives the prefill itself").doesNotContain("\tat ");
    }

    @Test
    void benchKeepsItsOwnOptionsAndListsServe() {
        CommandLine cl = Main.commandLine().getSubcommands().get("bench");
        assertThat(cl.getSubcommands()).containsKey("serve");
        assertThat(cl.getCommandSpec().findOption("--json")).isNotNull();
        assertThat(cl.getCommandSpec().findOption("--threads")).isNotNull();
        CommandLine serve = Main.commandLine().getSubcommands().get("serve");
        for (String o : new String[]{"--model", "--port", "--served-model-name", "--api-key", "--max-running", "--max-queue",
                "--max-body-bytes", "--max-connections", "--scheduler", "--kv-tokens", "--kv-press", "--kv-type"}) {
            assertThat(serve.getCommandSpec().findOption(o)).as(o).isNotNull();
        }
    }

    @Test
    void badServeOptionsAreOneLineErrors() {
        StringWriter err = new StringWriter();
        int code = run(err, "bench", "serve", "--model", TestAssets.require("models/stories260K.gguf").toString(), "--scheduler", "random", "--concurrency", "1");
        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).contains("unknown scheduler 'random'");
    }
}
