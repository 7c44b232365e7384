package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.server.OpenAiServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code kvserve serve --kv-type} with the page-level prefix cache over HTTP, its options' errors, and {@code bench prefix}. */
class PrefixCacheServingTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day";

    @TempDir
    Path dir;

    private record Run(int rc, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(rc, out.toString(), err.toString());
    }

    private static JsonNode complete(HttpClient http, OpenAiServer server, String tenant) throws Exception {
        String body = JSON.createObjectNode().put("prompt", PROMPT).put("max_tokens", 4).put("temperature", 0).put("tenant", tenant).toString();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.baseUri() + "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private static double metric(String text, String name) {
        for (String line : text.split("\n")) if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1).trim());
        throw new AssertionError(name + " not in the metrics");
    }

    @Test
    void servingOnThePagedCacheSharesPagesWithinATenantGroupOnly() throws Exception {
        ServeCommand cmd = new ServeCommand();
        new CommandLine(cmd).parseArgs("--model", TestAssets.require("models/stories260K.gguf").toString(), "--kv-type", "f16",
                "--share-prefix-cache-between", "alice,bob", "--prefix-cache-mib", "8", "--threads", "1");
        try (Model model = cmd.modelOptions.load(); OpenAiServer server = cmd.serving.build(model, "127.0.0.1", 0).start()) {
            HttpClient http = HttpClient.newHttpClient();
            JsonNode first = complete(http, server, "alice");
            JsonNode second = complete(http, server, "bob");
            JsonNode third = complete(http, server, "carol");
            int prompt = first.at("/usage/prompt_tokens").asInt();
            assertThat(first.at("/usage/prompt_tokens_details/cached_tokens").asInt()).isZero();
            assertThat(second.at("/usage/prompt_tokens_details/cached_tokens").asInt()).as("bob shares alice's group")
                    .isEqualTo((prompt - 1) / 16 * 16).isPositive();
            assertThat(third.at("/usage/prompt_tokens_details/cached_tokens").asInt()).as("carol is alone").isZero();
            assertThat(second.at("/choices/0/text").asText()).isEqualTo(first.at("/choices/0/text").asText());
            String metrics = http.send(HttpRequest.newBuilder(URI.create(server.baseUri() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metric(metrics, "kvserve_prefix_cache_lookups_total")).isEqualTo(3);
            assertThat(metric(metrics, "kvserve_prefix_cache_hit_tokens_total")).isEqualTo((prompt - 1) / 16 * 16);
            assertThat(metric(metrics, "kvserve_prefix_cache_lookup_hit_rate")).isEqualTo((double) ((prompt - 1) / 16 * 16) / (3 * (prompt - 1)));
            assertThat(metric(metrics, "kvserve_prefix_cache_evictions_total")).isZero();
        }
    }

    @Test
    void badPrefixCacheOptionsAreOneLineErrors() {
        String model = TestAssets.require("models/stories260K.gguf").toString();
        Run noPaged = run("serve", "--model", model, "--prefix-cache-mib", "4");
        assertThat(noPaged.rc()).isNotZero();
        assertThat(noPaged.err()).contains("need the paged cache: add --kv-type").doesNotContain("\tat ");
        Run oneTenant = run("serve", "--model", model, "--kv-type", "f32", "--share-prefix-cache-between", "alice");
        assertThat(oneTenant.rc()).isNotZero();
        assertThat(oneTenant.err()).contains("names 1 tenant(s)").doesNotContain("\tat ");
        Run twoGroups = run("serve", "--model", model, "--kv-type", "f32", "--share-prefix-cache-between", "a,b", "--share-prefix-cache-between", "b,c");
        assertThat(twoGroups.err()).contains("'b' is in two prefix-cache sharing groups").doesNotContain("\tat ");
        Run badType = run("serve", "--model", model, "--kv-type", "f64");
        assertThat(badType.err()).contains("unknown KV element type 'f64'").doesNotContain("\tat ");
    }

    @Test
    void benchPrefixReportsHitsAndSavedPrefill() throws Exception {
        Path json = dir.resolve("prefix.json");
        Run r = run("bench", "prefix", "--model", TestAssets.require("models/stories260K.gguf").toString(), "--requests", "4",
                "--text", TestAssets.require("data/tinystories_val.txt").toString(), "--system-tokens", "64", "--question-tokens", "16", "-n", "2", "--threads", "1", "--json", json.toString());
        assertThat(r.rc()).as(r.err()).isZero();
        JsonNode res = JSON.readTree(json.toFile());
        JsonNode off = res.get(0), on = res.get(1);
        assertThat(off.get("prompt_tokens").asLong()).isEqualTo(4 * 80);
        assertThat(off.get("hit_tokens").asLong()).isZero();
        assertThat(off.get("prefill_tokens_computed").asLong()).isEqualTo(4 * 80);
        assertThat(on.get("hit_tokens").asLong()).as("the 3 requests after the first reuse the 64 shared tokens").isEqualTo(3 * 64);
        assertThat(on.get("prefill_tokens_saved").asLong()).isEqualTo(3 * 64);
        assertThat(on.get("hit_rate").asDouble()).isEqualTo(3 * 64 / (4.0 * 79));
        assertThat(on.get("ttft_p50_ms").asDouble()).isPositive();
    }
}
