package io.kvserve.router.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.kvserve.router.knn.ModelChooser;
import io.kvserve.router.knn.RoutingPolicy;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The OpenAI-compatible routing front: {@code /v1/chat/completions}, {@code /v1/completions} (streaming passed
 * through), {@code /v1/models}, {@code /v1/feedback}, {@code /metrics}, {@code /health}. The kNN router picks the model
 * when the request names none (or "auto"); {@link FleetPlacement} picks the backend or rejects with 429 and
 * Retry-After. A backend that refuses connections is ejected and the request retried elsewhere, as long as no byte of
 * the answer has been sent. Health checks ({@code GET /v1/models} on each backend) eject and restore backends.
 */
public final class RouterServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final FleetConfig cfg;
    private final FleetPlacement placement;
    private final ModelChooser chooser; // may be null: then a request must name its model
    private final RoutingPolicy policy;
    private final HttpServer server;
    private final HttpClient client;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Map<String, FleetConfig.Backend> byName = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> counters = new ConcurrentHashMap<>();
    private final AtomicLong feedbacks = new AtomicLong();
    private volatile boolean running = true;
    private final Thread health;

    public RouterServer(FleetConfig cfg, ModelChooser chooser, RoutingPolicy policy) throws IOException {
        this.cfg = cfg;
        this.chooser = chooser;
        this.policy = policy;
        this.placement = new FleetPlacement(cfg.backends(), cfg.classes(), cfg.replanMs(), Clock.systemUTC());
        cfg.backends().forEach(b -> byName.put(b.name(), b));
        this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).executor(executor).build();
        this.server = HttpServer.create(new InetSocketAddress(cfg.host(), cfg.port()), 256);
        server.setExecutor(executor);
        server.createContext("/v1/chat/completions", ex -> guard(ex, () -> complete(ex, true)));
        server.createContext("/v1/completions", ex -> guard(ex, () -> complete(ex, false)));
        server.createContext("/v1/models", ex -> guard(ex, () -> models(ex)));
        server.createContext("/v1/feedback", ex -> guard(ex, () -> feedback(ex)));
        server.createContext("/metrics", ex -> guard(ex, () -> metrics(ex)));
        server.createContext("/health", ex -> guard(ex, () -> send(ex, 200, "{\"status\":\"ok\"}")));
        server.start();
        this.health = Thread.ofVirtual().name("router-health").start(this::healthLoop);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public FleetPlacement placement() {
        return placement;
    }

    private interface Body {
        void run() throws IOException;
    }

    private void guard(HttpExchange ex, Body body) {
        try {
            body.run();
        } catch (BadRequest e) {
            trySend(ex, e.status, error(e.getMessage(), e.type));
        } catch (IOException | RuntimeException e) {
            trySend(ex, 500, error("router error: " + e, "server_error"));
        } finally {
            ex.close();
        }
    }

    /** A client error with its HTTP status. */
    static final class BadRequest extends RuntimeException {
        final int status;
        final String type;

        BadRequest(int status, String type, String message) {
            super(message);
            this.status = status;
            this.type = type;
        }
    }

    private static String error(String message, String type) {
        ObjectNode o = JSON.createObjectNode();
        o.putObject("error").put("message", message).put("type", type);
        return o.toString();
    }

    private void trySend(HttpExchange ex, int status, String body) {
        try {
            send(ex, status, body);
        } catch (IOException | RuntimeException ignored) {
            // headers already sent or the client went away: nothing more to say
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
        if (b.length > 0) ex.getResponseBody().write(b);
    }

    private void count(String name) {
        counters.computeIfAbsent(name, k -> new LongAdder()).increment();
    }

    private static JsonNode readJson(HttpExchange ex) throws IOException {
        if (!"POST".equals(ex.getRequestMethod())) throw new BadRequest(405, "invalid_request_error", "use POST");
        byte[] body = ex.getRequestBody().readNBytes(16 << 20);
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || !n.isObject()) throw new BadRequest(400, "invalid_request_error", "the request body must be a JSON object");
            return n;
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new BadRequest(400, "invalid_request_error", "the request body is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** The text the kNN router and prefix affinity look at. */
    static String promptText(JsonNode req, boolean chat) {
        if (chat) {
            JsonNode msgs = req.get("messages");
            if (msgs == null || !msgs.isArray() || msgs.isEmpty()) throw new BadRequest(400, "invalid_request_error", "'messages' must be a non-empty array");
            StringBuilder sb = new StringBuilder();
            for (JsonNode m : msgs) {
                JsonNode c = m.get("content");
                if (c == null) continue;
                if (c.isTextual()) sb.append(c.asText());
                else if (c.isArray()) for (JsonNode part : c) if (part.hasNonNull("text")) sb.append(part.get("text").asText());
                sb.append('\n');
            }
            return sb.toString();
        }
        JsonNode p = req.get("prompt");
        if (p == null) throw new BadRequest(400, "invalid_request_error", "'prompt' is required");
        if (p.isTextual()) return p.asText();
        if (p.isArray() && !p.isEmpty() && p.get(0).isTextual()) return p.get(0).asText();
        throw new BadRequest(400, "invalid_request_error", "'prompt' must be a string or an array of strings");
    }

    private Set<String> liveModels() {
        Set<String> s = new LinkedHashSet<>();
        for (FleetConfig.Backend b : cfg.backends()) if (placement.isHealthy(b.name())) s.addAll(b.models());
        return s;
    }

    private Set<String> allModels() {
        Set<String> s = new LinkedHashSet<>();
        for (FleetConfig.Backend b : cfg.backends()) s.addAll(b.models());
        return s;
    }

    private String chooseModel(JsonNode req, String prompt) {
        JsonNode m = req.get("model");
        if (m != null && m.isTextual() && !m.asText().isBlank() && !m.asText().equals("auto")) {
            String name = m.asText();
            if (!allModels().contains(name)) {
                throw new BadRequest(404, "model_not_found", "unknown model '" + name + "': this router serves " + allModels() + " (or 'auto')");
            }
            return name;
        }
        Set<String> live = liveModels();
        if (live.isEmpty()) throw new BadRequest(503, "server_error", "no backend is up");
        if (chooser != null) {
            Set<String> allowed = new HashSet<>(live);
            allowed.retainAll(chooser.models());
            if (!allowed.isEmpty()) return chooser.choose(prompt, policy, allowed).model();
        }
        return live.iterator().next();
    }

    private void complete(HttpExchange ex, boolean chat) throws IOException {
        JsonNode req = readJson(ex);
        String prompt = promptText(req, chat);
        String model = chooseModel(req, prompt);
        ((ObjectNode) req).put("model", model);
        byte[] body = JSON.writeValueAsBytes(req);
        String cls = placement.classOf(ex.getRequestHeaders().getFirst("X-Request-Class"));
        String path = chat ? "/v1/chat/completions" : "/v1/completions";
        Set<String> tried = new HashSet<>();
        for (int attempt = 1; attempt <= cfg.maxAttempts(); attempt++) {
            FleetPlacement.Decision d = placement.place(cls, model, prompt, tried);
            if (d instanceof FleetPlacement.Rejected r) {
                count("rejected_total{class=\"" + cls + "\"}");
                ex.getResponseHeaders().set("Retry-After", Integer.toString(cfg.retryAfterSeconds()));
                send(ex, 429, error("not admitted: " + r.reason() + "; retry after " + cfg.retryAfterSeconds() + " s", "rate_limit_exceeded"));
                return;
            }
            FleetPlacement.Admitted a = (FleetPlacement.Admitted) d;
            tried.add(a.backend());
            Outcome o;
            try {
                o = forward(ex, byName.get(a.backend()), path, body, model);
            } finally {
                placement.release(a);
            }
            if (o == Outcome.RELAYED) {
                count("requests_total{backend=\"" + a.backend() + "\",class=\"" + cls + "\"}");
                return;
            }
            // nothing was relayed yet, so the request can run elsewhere; a refused connection means the backend is gone
            count("retries_total{backend=\"" + a.backend() + "\"}");
            if (o == Outcome.REFUSED) placement.setHealthy(a.backend(), false);
        }
        send(ex, 502, error("no backend answered after " + cfg.maxAttempts() + " attempts (tried " + tried + ")", "server_error"));
    }

    private enum Outcome { RELAYED, REFUSED, FAILED }

    /** Relays the backend's answer, or says why nothing was relayed. */
    private Outcome forward(HttpExchange ex, FleetConfig.Backend b, String path, byte[] body, String model) throws IOException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(b.url() + path)).POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Content-Type", "application/json");
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth != null) rb.header("Authorization", auth);
        HttpResponse<InputStream> resp;
        try {
            resp = client.send(rb.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (ConnectException e) {
            return Outcome.REFUSED;
        } catch (IOException e) {
            return Outcome.FAILED; // timeout or reset before any header: no answer was relayed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (resp.statusCode() >= 500) {
            try (InputStream in = resp.body()) {
                in.readAllBytes();
            }
            return Outcome.FAILED;
        }
        ex.getResponseHeaders().set("Content-Type", resp.headers().firstValue("Content-Type").orElse("application/json"));
        ex.getResponseHeaders().set("X-Kvserve-Backend", b.name());
        ex.getResponseHeaders().set("X-Kvserve-Model", model);
        boolean stream = resp.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream");
        ex.sendResponseHeaders(resp.statusCode(), stream ? 0 : resp.headers().firstValueAsLong("Content-Length").orElse(0));
        try (InputStream in = resp.body(); OutputStream out = ex.getResponseBody()) {
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
                if (stream) out.flush();
            }
        }
        return Outcome.RELAYED;
    }

    private void models(HttpExchange ex) throws IOException {
        ObjectNode o = JSON.createObjectNode().put("object", "list");
        ArrayNode data = o.putArray("data");
        for (String m : liveModels()) data.addObject().put("id", m).put("object", "model").put("owned_by", "kvserve-router");
        if (chooser != null) data.addObject().put("id", "auto").put("object", "model").put("owned_by", "kvserve-router");
        send(ex, 200, o.toString());
    }

    /** {"prompt": "...", "outcomes": {"model": score}, "costs": {"model": cost}} or {"prompt", "model", "score"}. */
    private void feedback(HttpExchange ex) throws IOException {
        JsonNode req = readJson(ex);
        if (chooser == null) throw new BadRequest(409, "invalid_request_error", "this router has no kNN index (no router data configured)");
        if (!req.path("prompt").isTextual()) throw new BadRequest(400, "invalid_request_error", "'prompt' (string) is required");
        Map<String, Double> q = new java.util.HashMap<>(), c = new java.util.HashMap<>();
        if (req.has("outcomes")) {
            req.get("outcomes").fields().forEachRemaining(e -> q.put(e.getKey(), number(e.getValue(), "outcomes." + e.getKey())));
        } else if (req.path("model").isTextual() && req.has("score")) {
            q.put(req.get("model").asText(), number(req.get("score"), "score"));
        } else {
            throw new BadRequest(400, "invalid_request_error", "give 'outcomes' {model: score} or 'model' and 'score'");
        }
        if (req.has("costs")) req.get("costs").fields().forEachRemaining(e -> c.put(e.getKey(), number(e.getValue(), "costs." + e.getKey())));
        for (String m : q.keySet()) {
            if (!chooser.models().contains(m)) throw new BadRequest(404, "model_not_found", "unknown model '" + m + "': the router knows " + chooser.models());
        }
        chooser.feedback(req.get("prompt").asText(), q, c);
        feedbacks.incrementAndGet();
        send(ex, 200, "{\"status\":\"recorded\"}");
    }

    private static double number(JsonNode n, String field) {
        if (n == null || !n.isNumber() || !Double.isFinite(n.asDouble())) throw new BadRequest(400, "invalid_request_error", "'" + field + "' must be a finite number");
        return n.asDouble();
    }

    private void metrics(HttpExchange ex) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("# TYPE kvserve_router_backend_up gauge\n");
        for (FleetConfig.Backend b : cfg.backends()) sb.append("kvserve_router_backend_up{backend=\"").append(b.name()).append("\"} ").append(placement.isHealthy(b.name()) ? 1 : 0).append('\n');
        sb.append("# TYPE kvserve_router_inflight gauge\n");
        for (FleetConfig.Backend b : cfg.backends()) sb.append("kvserve_router_inflight{backend=\"").append(b.name()).append("\"} ").append(placement.inflight(b.name())).append('\n');
        new java.util.TreeMap<>(counters).forEach((k, v) -> sb.append("kvserve_router_").append(k).append(' ').append(v.sum()).append('\n'));
        sb.append("kvserve_router_feedback_total ").append(feedbacks.get()).append('\n');
        sb.append("kvserve_router_plans_total ").append(placement.plans()).append('\n');
        byte[] b = sb.toString().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
        ex.sendResponseHeaders(200, b.length);
        ex.getResponseBody().write(b);
    }

    private void healthLoop() {
        Map<String, Integer> failures = new java.util.HashMap<>();
        while (running) {
            for (FleetConfig.Backend b : cfg.backends()) {
                boolean up;
                try {
                    HttpResponse<Void> r = client.send(HttpRequest.newBuilder(URI.create(b.url() + "/v1/models")).timeout(Duration.ofMillis(cfg.healthTimeoutMs())).GET().build(),
                            HttpResponse.BodyHandlers.discarding());
                    up = r.statusCode() < 500;
                } catch (IOException e) {
                    up = false;
                } catch (InterruptedException e) {
                    return;
                }
                // one success restores a backend; two failures in a row eject it (one slow answer on a loaded machine does not)
                int f = up ? 0 : failures.merge(b.name(), 1, Integer::sum);
                if (up) failures.put(b.name(), 0);
                if ((up || f >= 2) && placement.setHealthy(b.name(), up)) count("health_changes_total{backend=\"" + b.name() + "\"}");
            }
            try {
                Thread.sleep(cfg.healthIntervalMs());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        running = false;
        health.interrupt();
        server.stop(0);
        executor.shutdownNow();
        client.close();
    }
}
