package io.kvserve.router.fleet;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.router.data.RoutingDataException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The routing front's configuration file (JSON):
 * <pre>
 * {"host": "127.0.0.1", "port": 8090,
 *  "backends": [{"name": "a", "url": "http://127.0.0.1:9001", "models": ["m1"], "capacity": 8}],
 *  "classes":  [{"name": "gold", "priority": 10, "reserve": 2}, {"name": "default", "priority": 1}],
 *  "router":   {"data": "../shared/data/routing/llmrouter_14task.jsonl", "embedder": "minilm-q:16", "k": 25, "policy": "best"},
 *  "health_interval_ms": 1000, "health_timeout_ms": 500, "retry_after_s": 1, "replan_ms": 200, "max_attempts": 3}
 * </pre>
 * The request class comes from the {@code X-Request-Class} header; a class's {@code reserve} is the number of
 * concurrent requests that PFAR keeps for it per model (each of {@code reserve_models}, default every model) even
 * when it is idle.
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record FleetConfig(String host, int port, List<Backend> backends, List<RequestClass> classes, RouterSettings router,
                          @JsonProperty("health_interval_ms") long healthIntervalMs, @JsonProperty("health_timeout_ms") long healthTimeoutMs,
                          @JsonProperty("retry_after_s") int retryAfterSeconds, @JsonProperty("replan_ms") long replanMs,
                          @JsonProperty("max_attempts") int maxAttempts) {

    /** One OpenAI-compatible backend. */
    public record Backend(String name, String url, List<String> models, int capacity) {}

    /**
     * A tenant or request class. {@code reserve} concurrent slots are kept for it for each model in
     * {@code reserveModels} (every model of the fleet when absent), even while it is idle.
     */
    public record RequestClass(String name, double priority, int reserve,
                               @JsonProperty("reserve_models") List<String> reserveModels) {
        public RequestClass(String name, double priority, int reserve) {
            this(name, priority, reserve, null);
        }

        public RequestClass {
            reserveModels = reserveModels == null ? null : List.copyOf(reserveModels);
        }

        public boolean reservesFor(String model) {
            return reserve > 0 && (reserveModels == null || reserveModels.contains(model));
        }
    }

    /** Where the kNN router's support set comes from. */
    public record RouterSettings(String data, String embedder, Integer k, String policy) {}

    public FleetConfig {
        if (host == null) host = "127.0.0.1";
        if (healthIntervalMs <= 0) healthIntervalMs = 1000;
        if (healthTimeoutMs <= 0) healthTimeoutMs = 500;
        if (retryAfterSeconds <= 0) retryAfterSeconds = 1;
        if (replanMs <= 0) replanMs = 200;
        if (maxAttempts <= 0) maxAttempts = 3;
        if (port < 0 || port > 65535) throw new RoutingDataException("config: port " + port + " is not in 0..65535");
        if (backends == null || backends.isEmpty()) throw new RoutingDataException("config: 'backends' is empty: list at least one {name, url, models, capacity}");
        Set<String> names = new HashSet<>();
        for (Backend b : backends) {
            if (b.name() == null || b.name().isBlank()) throw new RoutingDataException("config: a backend has no 'name'");
            if (!names.add(b.name())) throw new RoutingDataException("config: backend name '" + b.name() + "' appears twice");
            URI u;
            try {
                u = URI.create(b.url() == null ? "" : b.url());
            } catch (IllegalArgumentException e) {
                throw new RoutingDataException("config: backend '" + b.name() + "': url '" + b.url() + "' is not a URI");
            }
            if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme()) || u.getHost() == null) {
                throw new RoutingDataException("config: backend '" + b.name() + "': url '" + b.url() + "' must be http(s)://host:port");
            }
            if (b.models() == null || b.models().isEmpty()) throw new RoutingDataException("config: backend '" + b.name() + "' lists no 'models'");
            if (b.capacity() < 1) throw new RoutingDataException("config: backend '" + b.name() + "': capacity " + b.capacity() + " must be >= 1 concurrent requests");
        }
        List<RequestClass> cls = new ArrayList<>(classes == null ? List.of() : classes);
        Set<String> cn = new HashSet<>();
        for (RequestClass c : cls) {
            if (c.name() == null || !cn.add(c.name())) throw new RoutingDataException("config: class name '" + c.name() + "' is missing or repeated");
            if (!(c.priority() > 0)) throw new RoutingDataException("config: class '" + c.name() + "': priority " + c.priority() + " must be > 0");
            if (c.reserve() < 0) throw new RoutingDataException("config: class '" + c.name() + "': reserve " + c.reserve() + " must be >= 0");
            if (c.reserveModels() != null) {
                Set<String> served = new HashSet<>();
                for (Backend b : backends) served.addAll(b.models());
                for (String m : c.reserveModels()) {
                    if (!served.contains(m)) throw new RoutingDataException("config: class '" + c.name() + "': reserve_models names '" + m + "', which no backend serves");
                }
            }
        }
        if (!cn.contains("default")) cls.add(new RequestClass("default", 1, 0));
        classes = List.copyOf(cls);
        backends = List.copyOf(backends);
    }

    public static FleetConfig load(Path file) {
        if (!Files.isRegularFile(file)) throw new RoutingDataException("config file " + file + " does not exist: pass --config FILE (see docs/ROUTING.md)");
        try {
            return new ObjectMapper().readValue(file.toFile(), FleetConfig.class);
        } catch (RoutingDataException e) {
            throw e;
        } catch (IOException e) {
            String msg = e.getCause() instanceof RoutingDataException r ? r.getMessage()
                    : e instanceof com.fasterxml.jackson.core.JacksonException j ? j.getOriginalMessage() : e.getMessage();
            throw new RoutingDataException("config file " + file + ": " + firstLine(msg));
        }
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }
}
