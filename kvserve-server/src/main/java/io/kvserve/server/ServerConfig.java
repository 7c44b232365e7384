package io.kvserve.server;

import java.time.Duration;
import java.util.Objects;

/**
 * @param host             address to bind (127.0.0.1 by default; 0.0.0.0 to serve the network)
 * @param port             0 picks a free port
 * @param servedModelName  the model id clients use
 * @param apiKey           when non-null, every /v1 request needs {@code Authorization: Bearer <apiKey>}
 * @param maxBodyBytes     larger request bodies get 413
 * @param maxConnections   requests handled at once; more get 503 with Retry-After
 * @param drainTimeout     how long a graceful shutdown waits for running requests
 */
public record ServerConfig(String host, int port, String servedModelName, String apiKey, long maxBodyBytes, int maxConnections,
                           Duration drainTimeout) {
    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(servedModelName, "servedModelName");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        if (maxBodyBytes < 1) throw new IllegalArgumentException("maxBodyBytes must be >= 1, got " + maxBodyBytes);
        if (maxConnections < 1) throw new IllegalArgumentException("maxConnections must be >= 1, got " + maxConnections);
        if (apiKey != null && apiKey.isBlank()) apiKey = null;
    }

    public static ServerConfig local(String servedModelName) {
        return new ServerConfig("127.0.0.1", 0, servedModelName, null, 1 << 20, 256, Duration.ofSeconds(30));
    }

    public ServerConfig withApiKey(String key) {
        return new ServerConfig(host, port, servedModelName, key, maxBodyBytes, maxConnections, drainTimeout);
    }

    public ServerConfig withLimits(long bodyBytes, int connections) {
        return new ServerConfig(host, port, servedModelName, apiKey, bodyBytes, connections, drainTimeout);
    }
}
