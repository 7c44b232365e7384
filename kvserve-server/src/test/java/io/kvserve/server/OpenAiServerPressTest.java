package io.kvserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.kvserve.engine.AdmissionPolicy;
import io.kvserve.engine.Engine;
import io.kvserve.engine.Scheduler;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.prefix.PrefixBlockCache;
import io.kvserve.kvcache.prefix.TenantSalts;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.SplittableRandom;

import static io.kvserve.server.OpenAiServerTest.assertError;
import static io.kvserve.server.OpenAiServerTest.get;
import static io.kvserve.server.OpenAiServerTest.json;
import static io.kvserve.server.OpenAiServerTest.post;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code kv_press} per request on a paged-cache server, and non-streaming clients that disconnect (stories260K). */
class OpenAiServerPressTest {
    static Model model;
    static OpenAiServer server;
    static PagedKvCache cache;

    @BeforeAll
    static void start() throws Exception {
        model = TestServer.model();
        int ctx = model.config().contextLength();
        long block = PagedKvCache.forModel(model.config(), ctx, KvStorage.parse("f16"), 16, 1, null).blockBytes();
        Engine.Config cfg = new Engine.Config(64, 8, 16, 512, 0, ctx);
        cache = PagedKvCache.forModel(model.config(), ctx, KvStorage.parse("f16"), 16, block * (cfg.kvPages() + 16), null);
        PrefixBlockCache blocks = new PrefixBlockCache(cache, 0, TenantSalts.isolated());   // off: pages free means no page held
        Engine engine = new Engine(model, cache, WorkerPool.shared(), cfg, Scheduler.fcfs(),
                AdmissionPolicy.kvBudget(32, Duration.ofSeconds(30), Duration.ofSeconds(1)), Clock.systemUTC(), new SplittableRandom(1), blocks).start();
        server = new OpenAiServer(engine, TestServer.template(model), ServerConfig.local("stories260K")).start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        if (model != null) model.close();
    }

    static String completion(String extra) {
        return "{\"prompt\":\"Once upon a time there was a little girl named Lily. She loved to play outside in the park.\",\"max_tokens\":24,"
                + "\"temperature\":0" + extra + "}";
    }

    @Test
    void aRequestsPressCompressesItsKvAndBadSpecsAre400sNamingTheParameter() throws Exception {
        var plain = post(server, "/v1/completions", completion(""), null);
        var pressed = post(server, "/v1/completions", completion(",\"kv_press\":\"decode:every=4/snapkv:ratio=0.75,window=4\""), null);
        var none = post(server, "/v1/completions", completion(",\"kv_press\":\"none\""), null);
        assertThat(plain.statusCode()).as(plain.body()).isEqualTo(200);
        assertThat(pressed.statusCode()).as(pressed.body()).isEqualTo(200);
        String plainText = json(plain).get("choices").get(0).get("text").asText();
        assertThat(json(none).get("choices").get(0).get("text").asText()).isEqualTo(plainText);
        assertThat(json(pressed).get("choices").get(0).get("text").asText()).as("keeping a quarter of the KV changes the story").isNotEqualTo(plainText);
        assertThat(server.engineStats().pagesUsed()).isZero();
        assertThat(server.engineStats().kvBytes()).as("no page left behind").isZero();

        assertError(post(server, "/v1/completions", completion(",\"kv_press\":\"snapkv:ratio=1.5\""), null), 400, "invalid_request_error", "kv_press");
        assertError(post(server, "/v1/completions", completion(",\"kv_press\":\"sparkle\""), null), 400, "invalid_request_error", "kv_press");
        assertError(post(server, "/v1/completions", completion(",\"kv_press\":\"\""), null), 400, "invalid_request_error", "kv_press");
        assertError(post(server, "/v1/completions", completion(",\"kv_press\":7"), null), 400, "invalid_request_error", "kv_press");
        var kvzip = post(server, "/v1/completions", completion(",\"kv_press\":\"kvzip:ratio=0.5\""), null);
        assertError(kvzip, 400, "invalid_request_error", "kv_press");
        assertThat(json(kvzip).get("error").get("message").asText()).contains("drives the prefill itself").contains("continuous batch");
        var file = post(server, "/v1/completions", completion(",\"kv_press\":\"prefixkv:ratio=0.5,profile=/etc/passwd\""), null);
        assertError(file, 400, "invalid_request_error", "kv_press");
        assertThat(json(file).get("error").get("message").asText()).contains("may not name a file").doesNotContain("root");
        assertError(post(server, "/v1/completions", completion(",\"kv_type\":\"q8_0\""), null), 400, "invalid_request_error", "kv_type");
        assertThat(post(server, "/v1/completions", completion(",\"kv_type\":\"f16\""), null).statusCode()).isEqualTo(200);
    }

    /** The value of the sample of {@code name} whose labels include every one of {@code labels}, or 0. */
    static double metric(String scrape, String name, String... labels) {
        for (String line : scrape.split("\n")) {
            if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
            boolean all = true;
            for (String l : labels) all &= line.contains(l);
            if (all) return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return 0;
    }

    @Test
    void aNonStreamingClientThatDisconnectsIsCancelledAndFreesItsPages() throws Exception {
        int freeBefore = server.engineStats().pagesFree();
        long generatedBefore = server.engineStats().generatedTokens();
        String[] cancelled = {"endpoint=\"/v1/completions\"", "status=\"499\""};
        double cancelledBefore = metric(get(server, "/metrics", null).body(), "kvserve_requests_total", cancelled);
        // 16 choices of up to 480 tokens each, never stopping early: seconds of work for the engine
        byte[] body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":480,\"n\":16,\"temperature\":0.8,\"ignore_eos\":true}".getBytes(StandardCharsets.UTF_8);
        int full = 16 * 480;
        try (Socket s = new Socket(server.baseUri().getHost(), server.baseUri().getPort())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (server.engineStats().generatedTokens() - generatedBefore < 16 && System.nanoTime() < deadline) Thread.sleep(5);
            assertThat(server.engineStats().running()).as("generating when the client leaves").isPositive();
        }   // closes the socket without reading a byte of the answer
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while ((server.engineStats().running() > 0 || server.engineStats().queued() > 0) && System.nanoTime() < deadline) Thread.sleep(5);
        long generated = server.engineStats().generatedTokens() - generatedBefore;
        assertThat(server.engineStats().running()).isZero();
        assertThat(generated).as("the engine stopped generating for it").isLessThan(full);
        Thread.sleep(300);
        assertThat(server.engineStats().generatedTokens() - generatedBefore).as("and generates nothing more").isEqualTo(generated);
        assertThat(server.engineStats().pagesFree()).isEqualTo(freeBefore);
        assertThat(server.engineStats().kvBytes()).isZero();
        deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        double now;
        while ((now = metric(get(server, "/metrics", null).body(), "kvserve_requests_total", cancelled)) == cancelledBefore && System.nanoTime() < deadline) Thread.sleep(20);
        assertThat(now).as("counted as a client that went away").isEqualTo(cancelledBefore + 1);
    }

    @Test
    void aStillConnectedNonStreamingClientGetsItsAnswer() throws Exception {
        var r = post(server, "/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":100,\"n\":4,\"temperature\":0.8,\"ignore_eos\":true}", null);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode u = json(r).get("usage");
        assertThat(u.get("completion_tokens").asInt()).isEqualTo(4 * 100);
    }
}
