package io.kvserve.cli;

import io.kvserve.engine.AdmissionPolicy;
import io.kvserve.engine.Engine;
import io.kvserve.engine.Scheduler;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.prefix.PrefixBlockCache;
import io.kvserve.kvcache.prefix.TenantSalts;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.chat.ChatTemplate;
import io.kvserve.model.chat.FallbackTemplates;
import io.kvserve.model.tokenizer.Tokenizer;
import io.kvserve.server.OpenAiServer;
import io.kvserve.server.ServerConfig;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Engine and server limits shared by {@code serve} and {@code bench serve}. */
public final class ServingOptions {
    @Option(names = "--served-model-name", paramLabel = "NAME", description = "model id clients use (default: the model file's name without its extension)")
    String servedModelName;

    @Option(names = "--api-key", paramLabel = "KEY", description = "require 'Authorization: Bearer KEY' on /v1 (default: $KVSERVE_API_KEY, else none)")
    String apiKey;

    @Option(names = "--ctx", paramLabel = "N", description = "context window per sequence (default: the model's, at most 4096)")
    Integer ctx;

    @Option(names = "--max-running", paramLabel = "N", description = "sequences decoding together in one batch (default: 16)")
    int maxRunning = 16;

    @Option(names = "--max-batch-tokens", paramLabel = "N", description = "tokens per forward pass: decode tokens plus prefill chunks (default: 256)")
    int maxBatchTokens = 256;

    @Option(names = "--kv-tokens", paramLabel = "N", description = "KV budget in token positions over all sequences (default: max-running x ctx)")
    Integer kvTokens;

    @Option(names = "--page-tokens", paramLabel = "N", description = "positions per KV page, the budget's unit (default: 16)")
    int pageTokens = 16;

    @Option(names = "--prefix-cache", paramLabel = "N", description = "finished sequences kept for prefix reuse; 0 turns it off (default: 32)")
    int prefixEntries = 32;

    @Option(names = "--scheduler", paramLabel = "POLICY", description = "fcfs, priority or cache-aware (default: fcfs)")
    String scheduler = "fcfs";

    @Option(names = "--cache-aware-max-wait", paramLabel = "SECONDS",
            description = "cache-aware scheduler: a request waiting longer goes before every other (default: 5)")
    double cacheAwareMaxWait = 5;

    @Option(names = "--kv-type", paramLabel = "TYPE",
            description = "run on the paged KV cache with this element type (f32, f16, q8_0, q4_0; kivi2/kivi4 run but never share pages), "
                    + "with the page-level prefix cache (default: the contiguous F32 cache and the sequence-level prefix cache)")
    String kvType;

    @Option(names = "--kv-press", paramLabel = "SPEC",
            description = "KV press of every request that names none in 'kv_press' (e.g. decode:every=16/snapkv:ratio=0.5; none); "
                    + "runs on the paged cache (implies --kv-type f32 when --kv-type is not given). fastkv and kvzip cannot run in the batch")
    String kvPress;

    @Option(names = "--prefix-cache-mib", paramLabel = "MIB",
            description = "with --kv-type: most MiB the page-level prefix cache's pages may take; 0 turns it off (default: the whole KV budget)")
    Long prefixCacheMib;

    @Option(names = "--share-prefix-cache-between", paramLabel = "TENANT,TENANT[,...]",
            description = "with --kv-type: these tenants share cached prefixes (repeat for more groups); every other tenant only hits its own")
    List<String> sharePrefixCacheBetween = new ArrayList<>();

    @Option(names = "--max-queue", paramLabel = "N", description = "requests that may wait for room; more get 429 (default: 64)")
    int maxQueue = 64;

    @Option(names = "--queue-timeout", paramLabel = "SECONDS", description = "longest wait in the queue before 429 (default: 30)")
    double queueTimeout = 30;

    @Option(names = "--retry-after", paramLabel = "SECONDS", description = "Retry-After of a 429 (default: 1)")
    int retryAfter = 1;

    @Option(names = "--max-body-bytes", paramLabel = "N", description = "largest request body; larger get 413 (default: 1048576)")
    long maxBodyBytes = 1 << 20;

    @Option(names = "--max-connections", paramLabel = "N", description = "requests handled at once; more get 503 (default: 256)")
    int maxConnections = 256;

    @Option(names = "--drain-timeout", paramLabel = "SECONDS", description = "how long shutdown waits for running requests (default: 30)")
    int drainTimeout = 30;

    /** The paged cache for {@code pages} engine pages: its byte budget holds them plus one batch of positions of slack. */
    PagedKvCache pagedCache(Model model, int context, int pages) {
        KvStorage storage = KvStorage.parse(kvType != null ? kvType : "f32");
        long block = PagedKvCache.forModel(model.config(), context, storage, pageTokens, 1, null).blockBytes();
        long budget = Math.addExact(Math.multiplyExact(block, (long) pages), block * ((maxBatchTokens + pageTokens - 1) / pageTokens + maxRunning));
        return PagedKvCache.forModel(model.config(), context, storage, pageTokens, budget, null);
    }

    /** An engine (not started) on the paged cache with a page-level prefix cache of {@code capacityBytes} (-1: the whole KV budget). */
    Engine pagedEngine(Model model, Engine.Config cfg, Scheduler policy, AdmissionPolicy admission, Clock clock, long capacityBytes) {
        PagedKvCache cache = pagedCache(model, cfg.contextLength(), cfg.kvPages());
        PrefixBlockCache blocks = new PrefixBlockCache(cache, capacityBytes < 0 ? cache.allocator().byteBudget() : capacityBytes, tenantSalts());
        return new Engine(model, cache, WorkerPool.shared(), cfg, policy, admission, clock, new SplittableRandom(System.nanoTime()), blocks);
    }

    /** The engine configuration these options give for {@code model}. */
    Engine.Config engineConfig(Model model) {
        int context = context(model);
        long tokens = kvTokens != null ? kvTokens : (long) maxRunning * context;
        if (tokens < context) throw new IllegalArgumentException("--kv-tokens (" + tokens + ") must hold at least one full context (" + context + ")");
        int pages = (int) Math.min(Integer.MAX_VALUE, (tokens + pageTokens - 1) / pageTokens);
        return new Engine.Config(maxBatchTokens, maxRunning, pageTokens, pages, prefixEntries, context);
    }

    TenantSalts tenantSalts() {
        if (prefixCacheMib != null && prefixCacheMib < 0) throw new IllegalArgumentException("--prefix-cache-mib must be >= 0, got " + prefixCacheMib);
        List<List<String>> groups = new ArrayList<>();
        for (String g : sharePrefixCacheBetween) {
            List<String> tenants = Arrays.stream(g.split(",")).map(String::trim).filter(t -> !t.isEmpty()).toList();
            if (tenants.size() < 2) {
                throw new IllegalArgumentException("--share-prefix-cache-between '" + g + "' names " + tenants.size()
                        + " tenant(s): give at least two, separated by commas");
            }
            groups.add(tenants);
        }
        return TenantSalts.sharingGroups(groups);
    }

    int context(Model model) {
        int c = Math.min(ctx != null ? ctx : Math.min(model.config().contextLength(), 4096), model.config().contextLength());
        if (c < 2) throw new IllegalArgumentException("--ctx must be >= 2, got " + c);
        return c;
    }

    static String defaultModelName(Model model) {
        String f = model.path().getFileName().toString();
        int dot = f.lastIndexOf('.');
        return dot > 0 ? f.substring(0, dot) : f;
    }

    static ChatTemplate template(Model model) {
        Tokenizer tok = model.tokenizer();
        String bos = tok.bosId() >= 0 ? tok.tokenPiece(tok.bosId()) : "";
        String eos = tok.eosId() >= 0 ? tok.tokenPiece(tok.eosId()) : "";
        return model.gguf() != null ? ChatTemplate.fromGguf(model.gguf(), bos, eos) : ChatTemplate.builtIn(FallbackTemplates.Kind.PLAIN, bos, eos);
    }

    /** The engine (started) and the server (not started) for {@code model}. */
    OpenAiServer build(Model model, String host, int port) throws IOException {
        if (maxRunning < 1) throw new IllegalArgumentException("--max-running must be >= 1, got " + maxRunning);
        if (maxBatchTokens < maxRunning) throw new IllegalArgumentException("--max-batch-tokens (" + maxBatchTokens + ") must be >= --max-running (" + maxRunning + ")");
        if (maxQueue < 0) throw new IllegalArgumentException("--max-queue must be >= 0, got " + maxQueue);
        if (!(queueTimeout > 0)) throw new IllegalArgumentException("--queue-timeout must be > 0, got " + queueTimeout);
        int context = context(model);
        long tokens = kvTokens != null ? kvTokens : (long) maxRunning * context;
        if (tokens < context) throw new IllegalArgumentException("--kv-tokens (" + tokens + ") must hold at least one full context (" + context + ")");
        int pages = (int) Math.min(Integer.MAX_VALUE, (tokens + pageTokens - 1) / pageTokens);
        Engine.Config cfg = new Engine.Config(maxBatchTokens, maxRunning, pageTokens, pages, prefixEntries, context);
        Clock clock = Clock.systemUTC();
        Scheduler policy = scheduler.equals("cache-aware") ? Scheduler.cacheAware(clock, Duration.ofMillis((long) (cacheAwareMaxWait * 1000)))
                : Scheduler.named(scheduler, clock);
        AdmissionPolicy admission = AdmissionPolicy.kvBudget(maxQueue, Duration.ofMillis((long) (queueTimeout * 1000)), Duration.ofSeconds(retryAfter));
        Engine engine;
        if (kvType == null && kvPress == null) {
            if (prefixCacheMib != null || !sharePrefixCacheBetween.isEmpty()) {
                throw new IllegalArgumentException("--prefix-cache-mib and --share-prefix-cache-between need the paged cache: add --kv-type (e.g. --kv-type f32)");
            }
            engine = new Engine(model, model.newContiguousCache(context), WorkerPool.shared(), cfg, policy, admission,
                    clock, new SplittableRandom(System.nanoTime())).start();
        } else {
            engine = pagedEngine(model, cfg, policy, admission, clock, prefixCacheMib != null ? prefixCacheMib << 20 : -1);
            try {
                engine.defaultPress(kvPress);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--kv-press: " + e.getMessage(), e);
            }
            engine.start();
        }
        String key = apiKey != null ? apiKey : System.getenv("KVSERVE_API_KEY");
        String name = servedModelName != null ? servedModelName : defaultModelName(model);
        ServerConfig sc = new ServerConfig(host, port, name, key, maxBodyBytes, maxConnections, Duration.ofSeconds(drainTimeout));
        return new OpenAiServer(engine, template(model), sc);
    }
}
