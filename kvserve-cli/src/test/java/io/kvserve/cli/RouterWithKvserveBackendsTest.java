package io.kvserve.cli;

import io.kvserve.engine.AdmissionPolicy;
import io.kvserve.engine.Engine;
import io.kvserve.engine.Scheduler;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.chat.ChatTemplate;
import io.kvserve.model.tokenizer.Tokenizer;
import io.kvserve.router.fleet.FleetConfig;
import io.kvserve.router.fleet.RouterServer;
import io.kvserve.server.OpenAiServer;
import io.kvserve.server.ServerConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The routing front in front of real kvserve servers (stories260K, greedy), not stubs: placement over
 * two replicas, streaming relayed, priority admission under overload, and a replica that shuts down
 * mid-run without losing a request.
 */
class RouterWithKvserveBackendsTest {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static Model model;

    @BeforeAll
    static void load() throws Exception {
        model = Model.load(TestAssets.require("models/stories260K.gguf"), null);
    }

    @AfterAll
    static void unload() throws Exception {
        if (model != null) model.close();
    }

    static OpenAiServer backend(String name) throws Exception {
        Tokenizer tok = model.tokenizer();
        ChatTemplate template = ChatTemplate.fromGguf(model.gguf(), tok.tokenPiece(tok.bosId()), tok.tokenPiece(tok.eosId()));
        Engine engine = new Engine(model, model.newContiguousCache(model.config().contextLength()), WorkerPool.shared(),
                new Engine.Config(64, 8, 16, 1024, 8), Scheduler.fcfs(),
                AdmissionPolicy.kvBudget(64, Duration.ofSeconds(60), Duration.ofSeconds(1)), Clock.systemUTC(), new SplittableRandom(1)).start();
        return new OpenAiServer(engine, template, ServerConfig.local(name)).start();
    }

    static FleetConfig fleet(List<FleetConfig.Backend> backends, List<FleetConfig.RequestClass> classes) {
        return new FleetConfig("127.0.0.1", 0, backends, classes, null, 100, 2000, 1, 0, 3);
    }

    static HttpResponse<String> post(RouterServer s, String body, String cls) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/completions"))
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        if (cls != null) b.header("X-Request-Class", cls);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String completion(String prompt, int maxTokens, boolean stream) {
        return "{\"model\":\"stories\",\"prompt\":\"" + prompt + "\",\"max_tokens\":" + maxTokens + ",\"temperature\":0,\"stream\":" + stream + "}";
    }

    @Test
    void placesOnBothReplicasRelaysStreamsAndSurvivesAReplicaShuttingDown() throws Exception {
        OpenAiServer a = backend("stories");
        try (OpenAiServer b = backend("stories");
             RouterServer router = new RouterServer(fleet(List.of(
                     new FleetConfig.Backend("A", a.baseUri().toString(), List.of("stories"), 12),
                     new FleetConfig.Backend("B", b.baseUri().toString(), List.of("stories"), 12)), List.of()), null, null)) {
            // the same greedy completion, whichever replica answers
            var first = post(router, completion("Once upon a time", 24, false), null);
            assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
            String text = first.body().replaceAll("(?s).*\"text\":\"([^\"]*)\".*", "$1");
            assertThat(text).isNotBlank();
            var stream = post(router, completion("Once upon a time", 24, true), null);
            assertThat(stream.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
            assertThat(stream.body()).contains("data: {").endsWith("data: [DONE]\n\n");

            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<HttpResponse<String>>> all = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                all.add(pool.submit(() -> post(router, completion("Once upon a time", 24, false), null)));
                if (i == 5) {
                    // A drains mid-run: what it runs finishes, what reaches it afterwards gets 503 and is retried on B
                    Thread.ofVirtual().start(a::close);
                }
                Thread.sleep(20);
            }
            int onA = 0, onB = 0;
            for (var f : all) {
                var r = f.get();
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                assertThat(r.body()).contains(text); // greedy: every replica gives the same text
                if (r.headers().firstValue("X-Kvserve-Backend").orElse("").equals("A")) onA++;
                else onB++;
            }
            assertThat(onA + onB).isEqualTo(12);
            assertThat(onB).isPositive();
            var after = post(router, completion("Once upon a time", 8, false), null);
            assertThat(after.statusCode()).isEqualTo(200);
            assertThat(after.headers().firstValue("X-Kvserve-Backend")).hasValue("B");
            pool.shutdown();
        } finally {
            a.close();
        }
    }

    @Test
    void aReservedClassIsAdmittedWhileTheDefaultClassIsTurnedAway() throws Exception {
        try (OpenAiServer a = backend("stories");
             RouterServer router = new RouterServer(fleet(List.of(new FleetConfig.Backend("A", a.baseUri().toString(), List.of("stories"), 2)),
                     List.of(new FleetConfig.RequestClass("gold", 10, 1), new FleetConfig.RequestClass("default", 1, 0))), null, null)) {
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<HttpResponse<String>>> bronze = new ArrayList<>();
            // long generations keep the default class's one unreserved slot busy
            for (int i = 0; i < 4; i++) bronze.add(pool.submit(() -> post(router, completion("Once upon a time", 400, false), null)));
            Thread.sleep(300);
            var gold = post(router, completion("Once upon a time", 8, false), "gold");
            assertThat(gold.statusCode()).as(gold.body()).isEqualTo(200);
            int ok = 0, limited = 0;
            for (var f : bronze) {
                var r = f.get();
                if (r.statusCode() == 200) ok++;
                if (r.statusCode() == 429) {
                    limited++;
                    assertThat(r.headers().firstValue("Retry-After")).isPresent();
                }
            }
            assertThat(ok).isEqualTo(1);
            assertThat(limited).isEqualTo(3);
            pool.shutdown();
        }
    }
}
