package io.kvserve.server;

import io.kvserve.engine.Engine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The server's Prometheus metrics: requests by endpoint and status, time to first token and
 * inter-token latency histograms, generated tokens (total and per second), queue length, running
 * sequences, KV pages used/free and bytes, prefix cache hit rate, admissions rejected, preemptions.
 */
final class ServerMetrics {
    private static final Duration[] LATENCY_BUCKETS = {
            Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(30)};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Engine engine;
    private final Timer ttft;
    private final Timer itl;
    private long lastTokens;
    private long lastNanos = System.nanoTime();
    private double lastRate;

    ServerMetrics(Engine engine) {
        this.engine = engine;
        this.ttft = Timer.builder("kvserve.time.to.first.token").description("time from request to the first generated token")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        this.itl = Timer.builder("kvserve.inter.token.latency").description("time between consecutive generated tokens of one request")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        gauge("kvserve.queue.length", "requests waiting for KV room or a batch slot", s -> s.queued());
        gauge("kvserve.running.sequences", "sequences in the running batch", s -> s.running());
        gauge("kvserve.kv.pages.used", "KV pages held by running sequences and the prefix cache", s -> s.pagesUsed());
        gauge("kvserve.kv.pages.free", "KV pages free (prefix-cache pages count as free: they are evicted on demand)", s -> s.pagesFree());
        gauge("kvserve.kv.bytes", "bytes of KV data the cache holds", s -> s.kvBytes());
        gauge("kvserve.prefix.cache.hit.rate", "share of prompt tokens served from the prefix cache", s -> s.prefixHitRate());
        FunctionCounter.builder("kvserve.generated.tokens", engine, e -> e.stats().generatedTokens()).description("tokens generated").register(registry);
        FunctionCounter.builder("kvserve.prompt.tokens", engine, e -> e.stats().promptTokens()).description("prompt tokens admitted").register(registry);
        FunctionCounter.builder("kvserve.prompt.cached.tokens", engine, e -> e.stats().cachedPromptTokens()).description("prompt tokens served from the prefix cache").register(registry);
        FunctionCounter.builder("kvserve.admissions.rejected", engine, e -> e.stats().rejected()).description("requests refused by admission control (429)").register(registry);
        FunctionCounter.builder("kvserve.preemptions", engine, e -> e.stats().preemptions()).description("running sequences preempted").register(registry);
        FunctionCounter.builder("kvserve.engine.steps", engine, e -> e.stats().steps()).description("batched forward passes").register(registry);
        FunctionCounter.builder("kvserve.prefix.cache.lookups", engine, e -> e.prefixCacheStats().lookups())
                .description("sequence starts that looked for a cached prefix").register(registry);
        FunctionCounter.builder("kvserve.prefix.cache.lookup.tokens", engine, e -> e.prefixCacheStats().lookupTokens())
                .description("prompt tokens the prefix cache lookups could have served").register(registry);
        FunctionCounter.builder("kvserve.prefix.cache.hit.tokens", engine, e -> e.prefixCacheStats().hitTokens())
                .description("tokens served from the prefix cache (prefill saved)").register(registry);
        FunctionCounter.builder("kvserve.prefix.cache.evictions", engine, e -> e.prefixCacheStats().evictions())
                .description("prefix cache entries or page blocks evicted").register(registry);
        Gauge.builder("kvserve.prefix.cache.lookup.hit.rate", engine, e -> e.prefixCacheStats().hitRate())
                .description("share of looked-up tokens served from the prefix cache (hit tokens / lookup tokens)").register(registry);
        Gauge.builder("kvserve.prefix.cache.bytes", engine, e -> e.prefixCacheStats().cachedBytes())
                .description("bytes of the page-level prefix cache's blocks").register(registry);
        Gauge.builder("kvserve.generated.tokens.per.second", this, ServerMetrics::tokensPerSecond)
                .description("generation rate since the previous scrape").register(registry);
    }

    private void gauge(String name, String description, ToDoubleFunction<Engine.Stats> f) {
        Gauge.builder(name, engine, e -> f.applyAsDouble(e.stats())).description(description).register(registry);
    }

    private synchronized double tokensPerSecond() {
        long now = System.nanoTime(), tokens = engine.stats().generatedTokens();
        double secs = (now - lastNanos) / 1e9;
        if (secs >= 0.5) {
            lastRate = (tokens - lastTokens) / secs;
            lastTokens = tokens;
            lastNanos = now;
        }
        return lastRate;
    }

    void request(String endpoint, int status) {
        Counter.builder("kvserve.requests").description("HTTP requests by endpoint and status").tag("endpoint", endpoint)
                .tag("status", Integer.toString(status)).register(registry).increment();
    }

    void firstToken(long nanos) {
        ttft.record(nanos, TimeUnit.NANOSECONDS);
    }

    void interToken(long nanos) {
        itl.record(nanos, TimeUnit.NANOSECONDS);
    }

    String scrape() {
        return registry.scrape();
    }
}
