package io.kvserve.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.kvserve.engine.Admission;
import io.kvserve.engine.Completion;
import io.kvserve.engine.Engine;
import io.kvserve.engine.EngineRequest;
import io.kvserve.engine.FinishReason;
import io.kvserve.engine.GeneratedToken;
import io.kvserve.engine.TokenSink;
import io.kvserve.model.chat.ChatTemplate;
import io.kvserve.model.sampling.SamplerConfig;
import io.kvserve.model.sampling.TokenLogprobs;
import io.kvserve.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The OpenAI-compatible HTTP server on the JDK's {@link HttpServer}, one virtual thread per request.
 * A generation request is checked ({@link RequestReader}), submitted to the {@link Engine} once per
 * choice, and answered as one JSON body or as server-sent events ending with {@code data: [DONE]}.
 * The engine thread only puts events into a per-request queue; the request's own thread writes
 * them, so a slow client never stalls the batch. A streaming client that goes away is noticed at
 * the next write (tokens, or a keep-alive comment every second) and its request is cancelled; a
 * request with nothing to write yet (non-streaming, or streaming before its first token) probes its
 * connection every {@value #PROBE_MILLIS} ms ({@link ConnectionProbe}) and is cancelled as soon as
 * the client has closed it.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);
    private static final String BODY_READ = "kvserve.bodyRead";
    private static final long DRAIN_LIMIT = 64L << 20;
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.UTF_8);

    private final Engine engine;
    private final Tokenizer tokenizer;
    private final ServerConfig config;
    private final RequestReader reader;
    private final ServerMetrics metrics;
    private final Semaphore connections;
    private final long created = System.currentTimeMillis() / 1000;
    private HttpServer http;
    private ExecutorService executor;
    private volatile boolean draining;

    public OpenAiServer(Engine engine, ChatTemplate template, ServerConfig config) {
        this.engine = Objects.requireNonNull(engine, "engine");
        this.config = Objects.requireNonNull(config, "config");
        this.tokenizer = engine.model().tokenizer();
        this.reader = new RequestReader(tokenizer, Objects.requireNonNull(template, "template"), engine.contextLength(), java.util.Set.of(engine.kvType()));
        this.metrics = new ServerMetrics(engine);
        this.connections = new Semaphore(config.maxConnections());
    }

    public synchronized OpenAiServer start() throws IOException {
        if (http != null) throw new IllegalStateException("already started");
        http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 128);
        executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
        return this;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** The engine's counters: pages, queue, running sequences. */
    public Engine.Stats engineStats() {
        return engine.stats();
    }

    /** {@code http://host:port}; clients add {@code /v1}. */
    public URI baseUri() {
        return URI.create("http://" + config.host() + ":" + port());
    }

    /**
     * Graceful shutdown: readiness turns 503 and new generation requests get 503, running and queued
     * ones finish (up to the drain timeout), then the listener and the engine stop.
     */
    public boolean shutdown() throws InterruptedException {
        draining = true;
        boolean drained = engine.drain(config.drainTimeout());
        synchronized (this) {
            if (http != null) http.stop(1);
            if (executor != null) executor.shutdown();
        }
        engine.close();
        return drained;
    }

    @Override
    public void close() {
        try {
            shutdown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- routing

    private void handle(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        String endpoint = endpointName(path);
        int status;
        if (!connections.tryAcquire()) {
            status = sendError(ex, ApiException.unavailable("the server handles at most " + config.maxConnections() + " requests at once; retry shortly"));
            metrics.request(endpoint, status);
            ex.close();
            return;
        }
        try {
            status = route(ex, path);
        } catch (ApiException e) {
            status = sendError(ex, e);
        } catch (IOException e) {
            status = 499;   // the client went away
        } catch (RuntimeException e) {
            status = sendError(ex, new ApiException(500, "server_error", "internal error: " + e, null, null, null));
        } finally {
            connections.release();
        }
        metrics.request(endpoint, status);
        ex.close();
    }

    private static String endpointName(String path) {
        return switch (path) {
            case "/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/ready", "/metrics" -> path;
            default -> path.startsWith("/v1/models/") ? "/v1/models/{id}" : "other";
        };
    }

    private int route(HttpExchange ex, String path) throws IOException {
        String method = ex.getRequestMethod();
        switch (path) {
            case "/health", "/v1/health" -> {
                requireMethod(method, "GET");
                return sendJson(ex, 200, JSON.createObjectNode().put("status", "ok"));
            }
            case "/ready" -> {
                requireMethod(method, "GET");
                if (draining || !engine.accepting()) throw ApiException.unavailable("draining: not accepting new requests");
                return sendJson(ex, 200, JSON.createObjectNode().put("status", "ready"));
            }
            case "/metrics" -> {
                requireMethod(method, "GET");
                byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                ex.sendResponseHeaders(200, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
                return 200;
            }
            case "/v1/models" -> {
                requireMethod(method, "GET");
                authorize(ex);
                ObjectNode list = JSON.createObjectNode().put("object", "list");
                list.putArray("data").add(modelObject());
                return sendJson(ex, 200, list);
            }
            case "/v1/chat/completions" -> {
                requireMethod(method, "POST");
                authorize(ex);
                return generate(ex, RequestReader.Kind.CHAT);
            }
            case "/v1/completions" -> {
                requireMethod(method, "POST");
                authorize(ex);
                return generate(ex, RequestReader.Kind.COMPLETION);
            }
            default -> {
                if (path.startsWith("/v1/models/")) {
                    requireMethod(method, "GET");
                    authorize(ex);
                    String id = path.substring("/v1/models/".length());
                    if (!id.equals(config.servedModelName())) throw modelNotFound(id);
                    return sendJson(ex, 200, modelObject());
                }
                throw ApiException.notFound("no such endpoint: " + method + " " + path
                        + " (kvserve serves /v1/chat/completions, /v1/completions, /v1/models, /health, /ready, /metrics)", "not_found");
            }
        }
    }

    private static void requireMethod(String method, String expected) {
        if (!method.equals(expected)) {
            throw new ApiException(405, "invalid_request_error", "method " + method + " is not allowed here; use " + expected, null, "method_not_allowed", null);
        }
    }

    private ObjectNode modelObject() {
        return JSON.createObjectNode().put("id", config.servedModelName()).put("object", "model").put("created", created).put("owned_by", "kvserve");
    }

    private ApiException modelNotFound(String id) {
        return ApiException.notFound("The model '" + id + "' does not exist: this server serves '" + config.servedModelName() + "'", "model_not_found");
    }

    private void authorize(HttpExchange ex) {
        if (config.apiKey() == null) return;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        if (h == null || !h.startsWith("Bearer ")) throw ApiException.unauthorized("missing API key: send the header 'Authorization: Bearer <key>'");
        byte[] given = h.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(given, config.apiKey().getBytes(StandardCharsets.UTF_8))) {
            throw ApiException.unauthorized("incorrect API key provided");
        }
    }

    private JsonNode readBody(HttpExchange ex) throws IOException {
        String len = ex.getRequestHeaders().getFirst("Content-Length");
        if (len != null) {
            try {
                if (Long.parseLong(len.trim()) > config.maxBodyBytes()) throw tooLarge(Long.parseLong(len.trim()));
            } catch (NumberFormatException e) {
                throw ApiException.invalid("Content-Length '" + len + "' is not a number", null);
            }
        }
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, config.maxBodyBytes() + 1));
        }
        if (body.length > config.maxBodyBytes()) throw tooLarge(body.length);
        ex.setAttribute(BODY_READ, Boolean.TRUE);
        if (body.length == 0) throw ApiException.invalid("the request body is empty: send a JSON object", null);
        try {
            return JSON.readTree(body);
        } catch (JacksonException e) {
            String where = e.getLocation() != null ? " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() : "";
            throw ApiException.invalid("the request body is not valid JSON" + where + ": " + e.getOriginalMessage(), null);
        }
    }

    private ApiException tooLarge(long size) {
        return ApiException.tooLarge("the request body has " + size + " bytes but the server accepts at most " + config.maxBodyBytes()
                + " (--max-body-bytes)");
    }

    // ---------------------------------------------------------------- generation

    /** One event of one choice, as the engine thread hands it over. */
    private record Event(int index, GeneratedToken token, Completion done) {}

    private int generate(HttpExchange ex, RequestReader.Kind kind) throws IOException {
        JsonNode body = readBody(ex);
        RequestReader.Params p = reader.read(kind, body);
        if (p.model() != null && !p.model().equals(config.servedModelName())) throw modelNotFound(p.model());
        if (draining) throw ApiException.unavailable("the server is draining: not accepting new requests");
        if (!p.ignored().isEmpty()) ex.getResponseHeaders().set("X-Kvserve-Ignored-Fields", String.join(",", p.ignored()));
        if (p.kvPress() != null) {
            try {
                engine.pressFor(p.kvPress());
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("'kv_press' '" + p.kvPress() + "' cannot be used: " + e.getMessage(), "kv_press");
            }
        }

        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        List<Engine.Handle> handles = new ArrayList<>();
        long start = System.nanoTime();
        try {
            for (int i = 0; i < p.n(); i++) {
                SamplerConfig sc = p.sampling();
                if (i > 0 && sc.seed() != Engine.RANDOM_SEED) sc = withSeed(sc, sc.seed() + i);
                EngineRequest r = new EngineRequest(p.prompt(), sc, p.maxTokens(), p.stop(), p.ignoreEos(), p.topLogprobs(), p.priority(), p.tenant(),
                        p.kvPress());
                Engine.Submission s = engine.submit(r, new QueueSink(i, events, start));
                if (s.admission() instanceof Admission.Rejected rej) {
                    handles.forEach(Engine.Handle::cancel);
                    throw ApiException.rateLimited(rej.reason(), rej.retryAfter());
                }
                handles.add(s.handle());
            }
        } catch (IllegalArgumentException e) {
            handles.forEach(Engine.Handle::cancel);
            throw ApiException.invalid(e.getMessage(), kind == RequestReader.Kind.CHAT ? "messages" : "prompt");
        } catch (IllegalStateException e) {
            handles.forEach(Engine.Handle::cancel);
            throw ApiException.unavailable(e.getMessage());
        }
        Response resp = new Response(kind, p, kind == RequestReader.Kind.CHAT
                ? "chatcmpl-" + UUID.randomUUID().toString().replace("-", "") : "cmpl-" + UUID.randomUUID().toString().replace("-", ""));
        try {
            return p.stream() ? stream(ex, p, events, resp) : collect(ex, p, events, resp);
        } catch (IOException | RuntimeException e) {
            handles.forEach(Engine.Handle::cancel);
            throw e;
        } catch (InterruptedException e) {
            handles.forEach(Engine.Handle::cancel);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static SamplerConfig withSeed(SamplerConfig c, long seed) {
        return new SamplerConfig(c.temperature(), c.topK(), c.topP(), c.minP(), c.repeatPenalty(), c.repeatLastN(), c.frequencyPenalty(), c.presencePenalty(), seed);
    }

    /** Hands events to the request's thread and records latencies; runs on the engine thread. */
    private final class QueueSink implements TokenSink {
        final int index;
        final BlockingQueue<Event> events;
        final long start;
        long last;

        QueueSink(int index, BlockingQueue<Event> events, long start) {
            this.index = index;
            this.events = events;
            this.start = start;
        }

        @Override
        public void onToken(GeneratedToken token) {
            long now = System.nanoTime();
            if (last == 0) metrics.firstToken(now - start);
            else metrics.interToken(now - last);
            last = now;
            events.add(new Event(index, token, null));
        }

        @Override
        public void onFinish(Completion completion) {
            events.add(new Event(index, null, completion));
        }
    }

    private static ApiException failure(Completion c) {
        return switch (c.reason()) {
            case QUEUE_TIMEOUT -> ApiException.rateLimited("the request waited in the queue longer than the server allows; retry later", Duration.ofSeconds(1));
            case SHUTDOWN -> ApiException.unavailable("the server is shutting down");
            case ERROR -> new ApiException(500, "server_error", "generation failed: " + c.error(), null, null, null);
            default -> new ApiException(500, "server_error", "the request was cancelled", null, null, null);
        };
    }

    private static boolean ok(Completion c) {
        return c.reason() == FinishReason.STOP || c.reason() == FinishReason.LENGTH;
    }

    /** How often a request without output to write checks that its client is still connected. */
    private static final long PROBE_MILLIS = 100;

    /**
     * The next event; while none comes, checks every {@value #PROBE_MILLIS} ms that the client is still
     * there (it cannot be probed by writing before the answer starts) and throws when it left.
     */
    private static Event next(BlockingQueue<Event> events, ConnectionProbe probe) throws IOException, InterruptedException {
        while (true) {
            // probe on a clock, not only when the queue is idle: a generating request's tokens arrive every few ms
            if (probe.due(PROBE_MILLIS) && probe.clientGone()) throw new IOException("the client closed the connection before its answer");
            Event e = events.poll(PROBE_MILLIS, TimeUnit.MILLISECONDS);
            if (e != null) return e;
        }
    }

    private static void closeAfterIfProbed(HttpExchange ex, ConnectionProbe probe) {
        if (probe.consumedInput()) ex.getResponseHeaders().set("Connection", "close");
    }

    private int collect(HttpExchange ex, RequestReader.Params p, BlockingQueue<Event> events, Response resp) throws IOException, InterruptedException {
        int finished = 0;
        ConnectionProbe probe = ConnectionProbe.of(ex);
        while (finished < p.n()) {
            Event e = next(events, probe);
            if (e.token() != null) resp.token(e.index(), e.token());
            else {
                if (!ok(e.done())) throw failure(e.done());
                resp.finish(e.index(), e.done());
                finished++;
            }
        }
        closeAfterIfProbed(ex, probe);
        return sendJson(ex, 200, resp.full());
    }

    private int stream(HttpExchange ex, RequestReader.Params p, BlockingQueue<Event> events, Response resp) throws IOException, InterruptedException {
        // hold the headers until the first event, so that a request that times out in the queue still gets a 429
        ConnectionProbe probe = ConnectionProbe.of(ex);
        Event first = next(events, probe);
        if (first.done() != null && !ok(first.done())) throw failure(first.done());
        closeAfterIfProbed(ex, probe);
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        if (p.kind() == RequestReader.Kind.CHAT) {
            for (int i = 0; i < p.n(); i++) send(out, resp.roleChunk(i));
        }
        int finished = 0;
        Event e = first;
        while (true) {
            if (e == null) {
                out.write(KEEP_ALIVE);
                out.flush();
            } else if (e.token() != null) {
                ObjectNode chunk = resp.tokenChunk(e.index(), e.token());
                if (chunk != null) send(out, chunk);
            } else {
                Completion c = e.done();
                if (!ok(c)) {
                    ApiException f = failure(c);
                    send(out, errorBody(f));
                } else {
                    for (ObjectNode chunk : resp.finishChunks(e.index(), c)) send(out, chunk);
                }
                if (++finished == p.n()) break;
            }
            e = events.poll(1, TimeUnit.SECONDS);
        }
        if (p.includeUsage()) send(out, resp.usageChunk());
        out.write(DONE);
        out.flush();
        out.close();
        return 200;
    }

    private static void send(OutputStream out, ObjectNode chunk) throws IOException {
        byte[] json = JSON.writeValueAsBytes(chunk);
        byte[] frame = new byte[json.length + 8];
        System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, frame, 0, 6);
        System.arraycopy(json, 0, frame, 6, json.length);
        frame[json.length + 6] = '\n';
        frame[json.length + 7] = '\n';
        out.write(frame);
        out.flush();
    }

    /** Reads and discards the rest of the request body, at most {@value #DRAIN_LIMIT} bytes. */
    private static void drain(HttpExchange ex) {
        try {
            InputStream in = ex.getRequestBody();
            byte[] buf = new byte[64 * 1024];
            long left = DRAIN_LIMIT;
            for (int r; left > 0 && (r = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0; ) left -= r;
        } catch (IOException ignored) {
            // the client is gone; nothing to answer
        }
    }

    private static int sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
        return status;
    }

    private static ObjectNode errorBody(ApiException e) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type());
        if (e.param() != null) err.put("param", e.param()); else err.putNull("param");
        if (e.code() != null) err.put("code", e.code()); else err.putNull("code");
        return root;
    }

    private static int sendError(HttpExchange ex, ApiException e) {
        try {
            if (!"GET".equals(ex.getRequestMethod()) && ex.getAttribute(BODY_READ) == null) {
                // a client still uploading would get a reset instead of this answer: read what it sends (up to a
                // bound), and do not let it reuse the connection
                drain(ex);
                ex.getResponseHeaders().set("Connection", "close");
            }
            if (e.retryAfter() != null) ex.getResponseHeaders().set("Retry-After", Long.toString(Math.max(1, (e.retryAfter().toMillis() + 999) / 1000)));
            return sendJson(ex, e.status(), errorBody(e));
        } catch (IOException io) {
            return 499;
        } catch (IllegalStateException headersSent) {
            return e.status();
        }
    }

    // ---------------------------------------------------------------- response bodies

    /** Builds the JSON of one response (all choices), whole or as chunks. */
    private final class Response {
        final RequestReader.Kind kind;
        final RequestReader.Params p;
        final String id;
        final long createdAt = System.currentTimeMillis() / 1000;
        final StringBuilder[] text;
        final ArrayNode[] logprobs;
        final String[] finishReason;
        int completionTokens, cachedTokens = -1;

        Response(RequestReader.Kind kind, RequestReader.Params p, String id) {
            this.kind = kind;
            this.p = p;
            this.id = id;
            text = new StringBuilder[p.n()];
            logprobs = new ArrayNode[p.n()];
            finishReason = new String[p.n()];
            for (int i = 0; i < p.n(); i++) {
                text[i] = new StringBuilder();
                logprobs[i] = JSON.createArrayNode();
            }
        }

        void token(int i, GeneratedToken t) {
            text[i].append(t.text());
            if (t.logprobs() != null) logprobs[i].add(logprobEntry(t));
        }

        void finish(int i, Completion c) {
            text[i].append(c.tail());
            finishReason[i] = c.reason() == FinishReason.LENGTH ? "length" : "stop";
            completionTokens += c.completionTokens();
            if (cachedTokens < 0) cachedTokens = c.cachedTokens();
        }

        private ObjectNode head(String object) {
            return JSON.createObjectNode().put("id", id).put("object", object).put("created", createdAt).put("model", config.servedModelName());
        }

        ObjectNode usage() {
            ObjectNode u = JSON.createObjectNode();
            u.put("prompt_tokens", p.prompt().length);
            u.put("completion_tokens", completionTokens);
            u.put("total_tokens", p.prompt().length + completionTokens);
            u.putObject("prompt_tokens_details").put("cached_tokens", Math.max(0, cachedTokens));
            return u;
        }

        ObjectNode full() {
            ObjectNode root = head(kind == RequestReader.Kind.CHAT ? "chat.completion" : "text_completion");
            ArrayNode choices = root.putArray("choices");
            for (int i = 0; i < p.n(); i++) {
                ObjectNode c = choices.addObject().put("index", i);
                if (kind == RequestReader.Kind.CHAT) {
                    c.putObject("message").put("role", "assistant").put("content", text[i].toString());
                    if (p.topLogprobs() >= 0) c.putObject("logprobs").set("content", logprobs[i]);
                    else c.putNull("logprobs");
                } else {
                    c.put("text", text[i].toString());
                    if (p.topLogprobs() >= 0) c.set("logprobs", completionLogprobs(logprobs[i], 0));
                    else c.putNull("logprobs");
                }
                c.put("finish_reason", finishReason[i]);
            }
            root.set("usage", usage());
            return root;
        }

        private ObjectNode chunk() {
            ObjectNode root = head(kind == RequestReader.Kind.CHAT ? "chat.completion.chunk" : "text_completion");
            if (p.includeUsage()) root.putNull("usage");
            return root;
        }

        ObjectNode roleChunk(int i) {
            ObjectNode root = chunk();
            ObjectNode c = root.putArray("choices").addObject().put("index", i);
            c.putObject("delta").put("role", "assistant").put("content", "");
            c.putNull("logprobs");
            c.putNull("finish_reason");
            return root;
        }

        /** A chunk for one token, or null when it carries nothing (text held back for a possible stop string, no log-probabilities). */
        ObjectNode tokenChunk(int i, GeneratedToken t) {
            if (t.text().isEmpty() && t.logprobs() == null) return null;
            return contentChunk(i, t.text(), t.logprobs() != null ? logprobEntry(t) : null, null);
        }

        private ObjectNode contentChunk(int i, String content, ObjectNode lp, String finish) {
            ObjectNode root = chunk();
            ObjectNode c = root.putArray("choices").addObject().put("index", i);
            if (kind == RequestReader.Kind.CHAT) {
                ObjectNode delta = c.putObject("delta");
                if (content != null) delta.put("content", content);
                if (lp != null) c.putObject("logprobs").putArray("content").add(lp);
                else c.putNull("logprobs");
            } else {
                c.put("text", content == null ? "" : content);
                if (lp != null) c.set("logprobs", completionLogprobs(JSON.createArrayNode().add(lp), text[i].length()));
                else c.putNull("logprobs");
                if (content != null) text[i].append(content);
            }
            if (finish != null) c.put("finish_reason", finish);
            else c.putNull("finish_reason");
            return root;
        }

        List<ObjectNode> finishChunks(int i, Completion c) {
            finish(i, c);
            List<ObjectNode> out = new ArrayList<>();
            if (!c.tail().isEmpty()) out.add(contentChunk(i, c.tail(), null, null));
            out.add(contentChunk(i, null, null, finishReason[i]));
            return out;
        }

        ObjectNode usageChunk() {
            ObjectNode root = head(kind == RequestReader.Kind.CHAT ? "chat.completion.chunk" : "text_completion");
            root.putArray("choices");
            root.set("usage", usage());
            return root;
        }

        private ObjectNode logprobEntry(GeneratedToken t) {
            TokenLogprobs lp = t.logprobs();
            ObjectNode e = tokenNode(lp.token(), lp.logprob());
            ArrayNode top = e.putArray("top_logprobs");
            for (int k = 0; k < lp.topIds().length; k++) top.add(tokenNode(lp.topIds()[k], lp.topLogprobs()[k]));
            return e;
        }

        private ObjectNode tokenNode(int id, float logprob) {
            ObjectNode n = JSON.createObjectNode().put("token", tokenizer.tokenPiece(id)).put("logprob", logprob);
            ArrayNode bytes = n.putArray("bytes");
            for (byte b : tokenizer.tokenBytes(id)) bytes.add(b & 0xff);
            return n;
        }

        /** The legacy completions shape: parallel arrays of tokens, their log-probabilities, top maps and text offsets. */
        private ObjectNode completionLogprobs(ArrayNode entries, int offset0) {
            ObjectNode o = JSON.createObjectNode();
            ArrayNode tokens = o.putArray("tokens"), lps = o.putArray("token_logprobs"), tops = o.putArray("top_logprobs"), offs = o.putArray("text_offset");
            int off = offset0;
            for (JsonNode e : entries) {
                tokens.add(e.get("token").asText());
                lps.add(e.get("logprob").asDouble());
                ObjectNode top = tops.addObject();
                for (JsonNode t : e.get("top_logprobs")) top.put(t.get("token").asText(), t.get("logprob").asDouble());
                offs.add(off);
                off += e.get("token").asText().length();
            }
            return o;
        }
    }
}
