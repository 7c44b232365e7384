package io.kvserve.router.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvserve.router.embed.HashingEmbedder;
import io.kvserve.router.knn.ExactIndex;
import io.kvserve.router.knn.KnnRouter;
import io.kvserve.router.knn.ModelChooser;
import io.kvserve.router.knn.RoutingPolicy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The routing front against stub backends on 127.0.0.1. */
class RouterServerTest {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static FleetConfig config(List<FleetConfig.Backend> backends, List<FleetConfig.RequestClass> classes) {
        return new FleetConfig("127.0.0.1", 0, backends, classes, null, 100, 2000, 2, 0, 3);
    }

    static HttpResponse<String> post(RouterServer s, String path, String body, String cls) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        if (cls != null) b.header("X-Request-Class", cls);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(RouterServer s, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    static String chat(String model, String text) {
        return "{" + (model == null ? "" : "\"model\":\"" + model + "\",") + "\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
    }

    static ModelChooser mathVsPoetry() {
        HashingEmbedder e = new HashingEmbedder(128);
        ModelChooser c = new ModelChooser(e, new KnnRouter(new ExactIndex(128), 2, 3, KnnRouter.Weighting.UNIFORM), List.of("mathstral", "bard"));
        for (String p : List.of("solve the integral of x", "compute the derivative of sin x", "solve the equation 2x = 4")) {
            c.feedback(p, Map.of("mathstral", 1.0, "bard", 0.0), Map.of("mathstral", 1.0, "bard", 1.0));
        }
        for (String p : List.of("write a poem about the sea", "write a sonnet about love", "a short poem about rain")) {
            c.feedback(p, Map.of("mathstral", 0.0, "bard", 1.0), Map.of("mathstral", 1.0, "bard", 1.0));
        }
        return c;
    }

    @Test
    void knnPicksTheModelAndPlacementTheBackend() throws Exception {
        try (StubBackend a = new StubBackend("A", 0); StubBackend b = new StubBackend("B", 0);
             RouterServer s = new RouterServer(config(List.of(new FleetConfig.Backend("A", a.url(), List.of("mathstral"), 4),
                     new FleetConfig.Backend("B", b.url(), List.of("bard"), 4)), List.of()), mathVsPoetry(), new RoutingPolicy.BestQuality())) {
            var r1 = post(s, "/v1/chat/completions", chat(null, "solve the integral of x squared"), null);
            assertThat(r1.statusCode()).isEqualTo(200);
            assertThat(r1.headers().firstValue("X-Kvserve-Model")).hasValue("mathstral");
            assertThat(r1.body()).contains("\"backend\":\"A\"").contains("\"model\":\"mathstral\"");
            var r2 = post(s, "/v1/chat/completions", chat("auto", "write a poem about the moon"), null);
            assertThat(r2.headers().firstValue("X-Kvserve-Backend")).hasValue("B");
            // an explicit model wins over the router
            assertThat(post(s, "/v1/chat/completions", chat("bard", "solve the integral of x"), null).headers().firstValue("X-Kvserve-Backend")).hasValue("B");
            var unknown = post(s, "/v1/chat/completions", chat("gpt-9", "hi"), null);
            assertThat(unknown.statusCode()).isEqualTo(404);
            assertThat(unknown.body()).contains("unknown model 'gpt-9'");
            var bad = post(s, "/v1/chat/completions", "{\"messages\": [", null);
            assertThat(bad.statusCode()).isEqualTo(400);
            assertThat(bad.body()).contains("not valid JSON");
            assertThat(post(s, "/v1/chat/completions", "{\"messages\": []}", null).body()).contains("'messages' must be a non-empty array");
            assertThat(get(s, "/v1/models").body()).contains("\"mathstral\"").contains("\"bard\"").contains("\"auto\"");
            // streaming is passed through chunk by chunk
            var st = post(s, "/v1/chat/completions", "{\"model\":\"bard\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", null);
            assertThat(st.headers().firstValue("Content-Type")).hasValue("text/event-stream");
            assertThat(st.body()).contains("tok0").contains("tok2").endsWith("data: [DONE]\n\n");
            // feedback extends the index: a new topic routes after one outcome
            var fb = post(s, "/v1/feedback", "{\"prompt\":\"translate hello into french please\",\"outcomes\":{\"bard\":1.0,\"mathstral\":0.0}}", null);
            assertThat(fb.statusCode()).isEqualTo(200);
            assertThat(post(s, "/v1/feedback", "{\"prompt\":\"x\",\"model\":\"gpt-9\",\"score\":1}", null).statusCode()).isEqualTo(404);
            assertThat(get(s, "/metrics").body()).contains("kvserve_router_feedback_total 1").contains("kvserve_router_backend_up{backend=\"A\"} 1");
        }
    }

    @Test
    void priorityAdmissionUnderOverload() throws Exception {
        try (StubBackend a = new StubBackend("A", 800);
             RouterServer s = new RouterServer(config(List.of(new FleetConfig.Backend("A", a.url(), List.of("m"), 2)),
                     List.of(new FleetConfig.RequestClass("gold", 10, 1), new FleetConfig.RequestClass("default", 1, 0))), null, null)) {
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<HttpResponse<String>>> bronze = new ArrayList<>();
            for (int i = 0; i < 4; i++) bronze.add(pool.submit(() -> post(s, "/v1/chat/completions", chat("m", "bronze"), null)));
            Thread.sleep(300); // the bronze requests are in flight (the backend takes 800 ms)
            var gold = post(s, "/v1/chat/completions", chat("m", "gold"), "gold");
            int ok = 0, limited = 0;
            for (var f : bronze) {
                var r = f.get();
                if (r.statusCode() == 200) ok++;
                if (r.statusCode() == 429) {
                    limited++;
                    assertThat(r.headers().firstValue("Retry-After")).hasValue("2");
                    assertThat(r.body()).contains("at capacity for class 'default'");
                }
            }
            assertThat(gold.statusCode()).isEqualTo(200); // its reserved slot was kept free
            assertThat(ok).isEqualTo(1);
            assertThat(limited).isEqualTo(3);
            assertThat(get(s, "/metrics").body()).contains("kvserve_router_rejected_total{class=\"default\"} 3");
            pool.shutdown();
        }
    }

    @Test
    void failoverWhenABackendDiesMidRunLosesNoRequest() throws Exception {
        StubBackend a = new StubBackend("A", 50);
        try (StubBackend b = new StubBackend("B", 50);
             RouterServer s = new RouterServer(config(List.of(new FleetConfig.Backend("A", a.url(), List.of("m"), 64),
                     new FleetConfig.Backend("B", b.url(), List.of("m"), 64)), List.of()), null, null)) {
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<HttpResponse<String>>> all = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                final int n = i;
                Callable<HttpResponse<String>> call = () -> post(s, "/v1/chat/completions", chat("m", "request " + n), null);
                all.add(pool.submit(call));
                if (i == 10) a.close(); // A dies mid-run
                Thread.sleep(10);
            }
            for (var f : all) assertThat(f.get().statusCode()).as(f.get().body()).isEqualTo(200);
            assertThat(a.served.get() + b.served.get()).isGreaterThanOrEqualTo(40);
            assertThat(s.placement().isHealthy("A")).isFalse();
            var after = post(s, "/v1/chat/completions", chat("m", "after"), null);
            assertThat(after.headers().firstValue("X-Kvserve-Backend")).hasValue("B");
            pool.shutdown();
        } finally {
            a.close();
        }
    }
}
