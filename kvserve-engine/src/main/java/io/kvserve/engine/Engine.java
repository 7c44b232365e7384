package io.kvserve.engine;

import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.press.KvPress;
import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.kvcache.prefix.PrefixBlockCache;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.kv.KvCacheFullException;
import io.kvserve.model.sampling.Sampler;
import io.kvserve.model.sampling.SamplerConfig;
import io.kvserve.model.sampling.StopStringMatcher;
import io.kvserve.model.sampling.TokenLogprobs;
import io.kvserve.model.tokenizer.StreamingDecoder;
import io.kvserve.model.tokenizer.Tokenizer;
import io.kvserve.model.transformer.ForwardPass;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.random.RandomGenerator;

/**
 * The continuous batching loop. Each step: take new requests, let the {@link Scheduler} start waiting
 * ones (and preempt running ones), then run ONE {@link ForwardPass#forward} over a batch holding the
 * next token of every decoding sequence plus chunks of prompts being prefilled, up to
 * {@code maxBatchTokens}; sample each sequence that reached its last pending token with its own
 * {@link Sampler}, stream the token, retire finished sequences. One pass over the weights serves
 * every running sequence: that is where serving throughput comes from.
 *
 * <p>KV memory is accounted in pages of {@code pageTokens} positions. A sequence is started only when
 * the pages for its prompt plus its max tokens fit, so a running sequence never runs out of room.
 * Finished sequences donate their KV to the {@link PrefixCache}, whose pages count as free (they are
 * evicted on demand). Given a page-level {@link PrefixBlockCache} (over a paged cache), that replaces
 * the sequence-level one: every full page of every running sequence is offered to it as soon as it is
 * written, a new request opens on the cached pages of its longest matching run of full pages, and
 * idle cached pages count as free.
 *
 * <p>On the paged cache a request may name a KV press ({@link EngineRequest#kvPress}, else
 * {@link #defaultPress}): its sequence gets that press ({@link PagedKvCache#setPress}), which runs at
 * {@link KvCache#stepDone} once the prompt is in the cache and then at its decode interval, exactly as
 * in single-sequence generation; it touches only that sequence's streams. After each run the
 * sequence's page reservation shrinks to what it can still hold at most
 * ({@link PagedKvCache#sequenceBytesBound}), so compressed sequences let more sequences in.
 *
 * <p>The loop runs on its own thread ({@link #start()}), or a test drives {@link #step()} directly.
 * Only {@link #submit}, {@link Handle#cancel()}, {@link #stats()} and the shutdown methods are called
 * from other threads.
 */
public final class Engine implements AutoCloseable {
    /** A {@link SamplerConfig#seed()} of -1 asks the engine to draw a seed from its injected generator. */
    public static final long RANDOM_SEED = -1;

    /**
     * @param maxBatchTokens  tokens per forward pass (decode tokens plus prefill chunks)
     * @param maxRunning      sequences running at once (batch slots)
     * @param pageTokens      positions per KV page, the unit of the budget
     * @param kvPages         the KV budget in pages
     * @param prefixEntries   finished sequences kept for prefix reuse; 0 turns reuse off
     * @param contextLength   positions per sequence at most (prompt plus generated); 0 for the model's
     */
    public record Config(int maxBatchTokens, int maxRunning, int pageTokens, int kvPages, int prefixEntries, int contextLength) {
        public Config(int maxBatchTokens, int maxRunning, int pageTokens, int kvPages, int prefixEntries) {
            this(maxBatchTokens, maxRunning, pageTokens, kvPages, prefixEntries, 0);
        }

        public Config {
            if (contextLength < 0) throw new IllegalArgumentException("contextLength must be >= 0 (0 = the model's), got " + contextLength);
            if (maxBatchTokens < 1) throw new IllegalArgumentException("maxBatchTokens must be >= 1, got " + maxBatchTokens);
            if (maxRunning < 1) throw new IllegalArgumentException("maxRunning must be >= 1, got " + maxRunning);
            if (maxRunning > maxBatchTokens) throw new IllegalArgumentException("maxRunning (" + maxRunning + ") must be <= maxBatchTokens (" + maxBatchTokens + "): every running sequence decodes one token per step");
            if (pageTokens < 1) throw new IllegalArgumentException("pageTokens must be >= 1, got " + pageTokens);
            if (kvPages < 1) throw new IllegalArgumentException("kvPages must be >= 1, got " + kvPages);
            if (prefixEntries < 0) throw new IllegalArgumentException("prefixEntries must be >= 0, got " + prefixEntries);
        }

        public static Config defaults(int contextLength) {
            int running = 16;
            return new Config(256, running, 16, Math.max(1, running * Math.min(contextLength, 2048) / 16), 32);
        }
    }

    /** The result of {@link #submit}: the admission decision and, unless rejected, a handle. */
    public record Submission(Admission admission, Handle handle) {
        public boolean rejected() {
            return admission instanceof Admission.Rejected;
        }
    }

    /** A submitted request, to cancel it or read its state. */
    public static final class Handle {
        private final Sequence seq;

        private Handle(Sequence seq) {
            this.seq = seq;
        }

        /** Stops the request at the next step and frees its pages; its sink gets a CANCELLED finish. */
        public void cancel() {
            seq.cancelled = true;
            seq.engine.wake();
        }

        public RequestState state() {
            return seq.state;
        }

        public long id() {
            return seq.id;
        }
    }

    /**
     * Prefix cache counters, whichever prefix cache runs.
     *
     * @param lookups       sequence starts that looked for a cached prefix (a resumed preempted sequence looks again)
     * @param lookupTokens  tokens those lookups could have served (each prompt less its last token, which must run)
     * @param hitTokens     tokens served from the prefix cache
     * @param evictions     entries (sequence-level cache) or page blocks (page-level cache) evicted
     * @param cachedBytes   bytes of the page-level cache's blocks (0 for the sequence-level cache)
     */
    public record PrefixCacheStats(long lookups, long lookupTokens, long hitTokens, long evictions, long cachedBytes) {
        /** Share of looked-up tokens that were served from the cache, in [0, 1]. */
        public double hitRate() {
            return lookupTokens == 0 ? 0 : (double) hitTokens / lookupTokens;
        }
    }

    /** A snapshot for metrics. */
    public record Stats(int queued, int running, int pagesUsed, int pagesFree, int totalPages, int prefixCachePages,
                        long kvBytes, long promptTokens, long cachedPromptTokens, long generatedTokens, long steps,
                        long rejected, long preemptions) {
        public double prefixHitRate() {
            return promptTokens == 0 ? 0 : (double) cachedPromptTokens / promptTokens;
        }
    }

    private final Model model;
    private final Tokenizer tokenizer;
    private final KvCache cache;
    private final PagedKvCache paged;           // the cache when it is paged (presses need it), else null
    private volatile String defaultPress;       // spec for requests that name none, or null
    private final ForwardPass pass;
    private final Config config;
    private final Scheduler scheduler;
    private final AdmissionPolicy admission;
    private final Clock clock;
    private final RandomGenerator rng;
    private final int vocab;
    private final int context;

    private final ConcurrentLinkedQueue<Sequence> incoming = new ConcurrentLinkedQueue<>();
    private final List<Sequence> waiting = new ArrayList<>();
    private final List<Sequence> running = new ArrayList<>();
    private final PrefixCache prefixCache;
    private final PrefixBlockCache blocks;      // page-level prefix cache, or null
    private long lookups, lookupTokens, hitTokens;
    private volatile PrefixCacheStats prefixStats = new PrefixCacheStats(0, 0, 0, 0, 0);
    private final AtomicLong ids = new AtomicLong();
    private final AtomicInteger queuedCount = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();      // submitted and not yet finished
    private final AtomicLong rejected = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Condition idle = lock.newCondition();
    private volatile boolean accepting = true;
    private volatile boolean stopping;
    private volatile Thread thread;
    private volatile Stats stats;
    private int usedPages;          // reserved by running sequences
    private long promptTokens, cachedTokens, generatedTokens, steps, preemptions;

    // batch scratch, (maxBatchTokens) each
    private final int[] bTokens, bSeqs, bPositions;
    private final boolean[] bWant;
    private final Sequence[] bOwner;

    public Engine(Model model, KvCache cache, WorkerPool pool, Config config, Scheduler scheduler, AdmissionPolicy admission,
                  Clock clock, RandomGenerator rng) {
        this(model, cache, pool, config, scheduler, admission, clock, rng, null);
    }

    /**
     * An engine whose prefix reuse is the page-level {@code blocks} (built over {@code cache}, with
     * blocks of {@link Config#pageTokens()} positions), or, when null, the sequence-level
     * {@link PrefixCache} of {@link Config#prefixEntries()} entries.
     */
    public Engine(Model model, KvCache cache, WorkerPool pool, Config config, Scheduler scheduler, AdmissionPolicy admission,
                  Clock clock, RandomGenerator rng, PrefixBlockCache blocks) {
        if (blocks != null && blocks.tokensPerBlock() != config.pageTokens()) {
            throw new IllegalArgumentException("the prefix cache's blocks hold " + blocks.tokensPerBlock() + " positions but the engine's pages "
                    + config.pageTokens() + ": build the paged cache with the engine's page size");
        }
        this.blocks = blocks;
        this.model = Objects.requireNonNull(model, "model");
        this.tokenizer = model.tokenizer();
        this.cache = Objects.requireNonNull(cache, "cache");
        this.paged = cache instanceof PagedKvCache p ? p : null;
        this.config = Objects.requireNonNull(config, "config");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.admission = Objects.requireNonNull(admission, "admission");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.rng = Objects.requireNonNull(rng, "rng");
        this.pass = model.newForwardPass(config.maxBatchTokens(), pool);
        this.vocab = model.config().vocabSize();
        this.context = config.contextLength() > 0 ? Math.min(config.contextLength(), model.config().contextLength()) : model.config().contextLength();
        this.prefixCache = new PrefixCache(cache, blocks != null ? 0 : config.prefixEntries());
        int b = config.maxBatchTokens();
        bTokens = new int[b];
        bSeqs = new int[b];
        bPositions = new int[b];
        bWant = new boolean[b];
        bOwner = new Sequence[b];
        publishStats();
    }

    public Model model() {
        return model;
    }

    public Config config() {
        return config;
    }

    /** The context window: prompt plus generated tokens never exceed it. */
    public int contextLength() {
        return context;
    }

    /**
     * The press {@code spec} names, checked for this engine: null for {@code none} (or null).
     *
     * @throws IllegalArgumentException naming the problem: an unknown press or parameter, a contiguous
     *                                  cache (presses need the paged one), or a press that cannot run
     *                                  per sequence in a continuous batch ({@link PagedKvCache#perSequenceRefusal})
     */
    public KvPress pressFor(String spec) {
        if (spec == null) return null;
        KvPress press = PressRegistry.parse(spec);
        if (press == null) return null;
        if (paged == null) {
            throw new IllegalArgumentException("KV press '" + spec + "' needs the paged KV cache, but this engine runs the contiguous cache"
                    + " (start the server with --kv-type or --kv-press)");
        }
        String refusal = paged.perSequenceRefusal(press);
        if (refusal != null) throw new IllegalArgumentException(refusal);
        return press;
    }

    /** Sets the press of requests that name none ({@link EngineRequest#kvPress} null); null or {@code none} for no press. */
    public Engine defaultPress(String spec) {
        pressFor(spec);
        this.defaultPress = spec;
        return this;
    }

    /** The KV element type of the cache, as {@code --kv-type} names it ({@code f32} for the contiguous cache). */
    public String kvType() {
        return paged != null ? paged.storage().toString() : "f32";
    }

    /** The press spec of requests that name none, or null. */
    public String defaultPress() {
        return defaultPress;
    }

    /** Pages a request needs at most: its prompt plus max tokens, within the context. */
    public int pagesFor(EngineRequest r) {
        return pages(Math.min(context, r.prompt().length + r.maxTokens()));
    }

    private int pages(int tokens) {
        return (tokens + config.pageTokens() - 1) / config.pageTokens();
    }

    /**
     * Submits a request. Admission decides at once; unless rejected, events go to {@code sink} on the
     * engine thread.
     *
     * @throws IllegalArgumentException when the request can never run here: a prompt that fills the
     *                                  context, tokens outside the vocabulary, a need beyond the whole budget
     * @throws IllegalStateException    when the engine is draining or closed
     */
    public Submission submit(EngineRequest request, TokenSink sink) {
        Objects.requireNonNull(sink, "sink");
        if (!accepting) throw new IllegalStateException("the engine is draining and accepts no new requests");
        int[] p = request.prompt();
        if (p.length >= context) {
            throw new IllegalArgumentException("the prompt has " + p.length + " tokens but the context holds " + context
                    + " (prompt plus at least one generated token): shorten the prompt");
        }
        for (int i = 0; i < p.length; i++) {
            if (p[i] < 0 || p[i] >= vocab) throw new IllegalArgumentException("prompt token #" + i + " is " + p[i] + ", outside the vocabulary [0, " + vocab + ")");
        }
        String pressSpec = request.kvPress() != null ? request.kvPress() : defaultPress;
        boolean pressed = pressFor(pressSpec) != null;
        int need = pagesFor(request);
        if (need > config.kvPages()) {
            throw new IllegalArgumentException("the request needs " + need + " KV pages (prompt " + p.length + " + max tokens " + request.maxTokens()
                    + ") but the whole budget is " + config.kvPages() + " pages of " + config.pageTokens() + " tokens: lower max_tokens");
        }
        Stats s = stats;
        EngineLoad load = new EngineLoad(queuedCount.get(), s.running(), config.maxRunning(), s.pagesFree(), s.totalPages(), need);
        Admission a = admission.admit(request, load);
        if (a instanceof Admission.Rejected) {
            rejected.incrementAndGet();
            return new Submission(a, null);
        }
        Instant now = clock.instant();
        Instant deadline = a instanceof Admission.Queued q ? now.plus(q.timeout()) : null;
        Sequence seq = new Sequence(this, ids.incrementAndGet(), request, sink, now, deadline);
        seq.pressSpec = pressed ? pressSpec : null;
        seq.noPress = !pressed && pressSpec != null;
        queuedCount.incrementAndGet();
        active.incrementAndGet();
        incoming.add(seq);
        wake();
        return new Submission(a, new Handle(seq));
    }

    /** Starts the loop on its own thread. */
    public synchronized Engine start() {
        if (thread != null) throw new IllegalStateException("already started");
        thread = Thread.ofPlatform().name("kvserve-engine").daemon().start(this::loop);
        return this;
    }

    private void loop() {
        while (!stopping) {
            boolean worked;
            try {
                worked = step();
            } catch (RuntimeException | Error e) {
                failAll(e);
                worked = false;
            }
            if (!worked) {
                lock.lock();
                try {
                    idle.signalAll();
                    if (incoming.isEmpty() && !stopping) work.await(20, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    return;
                } finally {
                    lock.unlock();
                }
            }
        }
        finishAll(FinishReason.SHUTDOWN);
        lock.lock();
        try {
            idle.signalAll();
        } finally {
            lock.unlock();
        }
    }

    void wake() {
        lock.lock();
        try {
            work.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops accepting requests (submit throws) and waits up to {@code timeout} for the running and queued ones to finish. */
    public boolean drain(Duration timeout) throws InterruptedException {
        accepting = false;
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (active.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                work.signalAll();
                idle.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)), TimeUnit.NANOSECONDS);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    public boolean accepting() {
        return accepting;
    }

    public Stats stats() {
        return stats;
    }

    /** Lookups, hit tokens, evictions of the prefix cache (either kind). */
    public PrefixCacheStats prefixCacheStats() {
        return prefixStats;
    }

    /** Stops the loop; requests still running or queued finish with {@link FinishReason#SHUTDOWN}. */
    @Override
    public void close() {
        accepting = false;
        stopping = true;
        Thread t = thread;
        if (t != null) {
            wake();
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else {
            finishAll(FinishReason.SHUTDOWN);
        }
        prefixCache.clear();
        if (blocks != null) blocks.clear();
        publishStats();
    }

    /** One iteration of the loop; false when there was nothing to run. Called by the loop thread or, without {@link #start()}, by a test. */
    public boolean step() {
        Instant now = clock.instant();
        for (Sequence s; (s = incoming.poll()) != null; ) waiting.add(s);
        retireCancelledAndExpired(now);
        schedule();
        int n = buildBatch();
        if (n == 0) {
            publishStats();
            return false;
        }
        float[] logits;
        try {
            logits = pass.forward(new Batch(bTokens, bSeqs, bPositions, bWant, n), cache);
        } catch (RuntimeException e) {
            // the batch's sequences are in an unknown state: end them, keep serving the others
            List<Sequence> failed = new ArrayList<>();
            for (int i = 0; i < n; i++) if (!failed.contains(bOwner[i])) failed.add(bOwner[i]);
            for (Sequence s : failed) finish(s, FinishReason.ERROR, e.toString());
            publishStats();
            return true;
        }
        steps++;
        int row = 0;
        for (int i = 0; i < n; i++) {
            Sequence s = bOwner[i];
            s.kvLen = bPositions[i] + 1;
            // offer the pages this step filled before sampling can retire the sequence (the last token of a chunk comes last)
            if (blocks != null && (i + 1 == n || bOwner[i + 1] != s)) blocks.publish(s.chain, s.kvSeq, s.tokens, s.kvLen);
            if (bWant[i]) {
                // its known tokens are all in the cache: the press hooks run here, as Generator runs them
                try {
                    cache.stepDone(s.kvSeq);
                    if (compressed(s)) reserveCompressed(s);
                } catch (RuntimeException e) {
                    // a press that fails ends its own sequence, not the batch
                    finish(s, FinishReason.ERROR, "the KV press failed: " + e);
                    row++;
                    continue;
                }
                sampleAndEmit(s, logits, row * vocab);
                row++;
            }
        }
        Arrays.fill(bOwner, 0, n, null);
        publishStats();
        return true;
    }

    /** Whether a press compresses the sequence: its request's, or the paged cache's own. */
    private boolean compressed(Sequence s) {
        return s.pressSpec != null || !s.noPress && paged != null && paged.press() != null;
    }

    /** Shrinks a compressed sequence's reservation to the most it can hold from now to its last token. */
    private void reserveCompressed(Sequence s) {
        int more = Math.min(context, s.promptLen + s.request.maxTokens()) - s.kvLen;
        long pageBytes = paged.blockBytes() * config.pageTokens() / paged.tokensPerPage();
        long bound = paged.sequenceBytesBound(s.kvSeq, more);
        int pages = (int) Math.min(Integer.MAX_VALUE, (bound + pageBytes - 1) / pageBytes);
        int reserve = Math.min(pagesFor(s.request), pages);
        usedPages += reserve - s.reservedPages;
        s.reservedPages = reserve;
    }

    private void retireCancelledAndExpired(Instant now) {
        for (int i = running.size() - 1; i >= 0; i--) {
            Sequence s = running.get(i);
            if (s.cancelled) finish(s, FinishReason.CANCELLED, null);
        }
        for (int i = waiting.size() - 1; i >= 0; i--) {
            Sequence s = waiting.get(i);
            if (s.cancelled) finish(s, FinishReason.CANCELLED, null);
            else if (s.deadline != null && !s.everStarted && now.isAfter(s.deadline)) finish(s, FinishReason.QUEUE_TIMEOUT, null);
        }
    }

    private void schedule() {
        if (waiting.isEmpty()) return;
        List<SequenceView> runningViews = new ArrayList<>(running.size());
        for (Sequence s : running) runningViews.add(s.view(s.reservedPages, s.cachedTokens));
        List<SequenceView> waitingViews = new ArrayList<>(waiting.size());
        Map<Long, Sequence> byId = new HashMap<>();
        for (Sequence s : waiting) {
            int hit = blocks != null ? blocks.peek(s.request.tenant(), s.tokens, s.n - 1) : prefixCache.peek(s.request.tenant(), s.tokens, s.n - 1);
            waitingViews.add(s.view(pagesFor(s.request), hit));
            byId.put(s.id, s);
        }
        for (Sequence s : running) byId.put(s.id, s);
        KvBudget budget = new KvBudget(config.kvPages(), freePages(), config.maxRunning() - running.size());
        StepPlan plan = scheduler.plan(runningViews, waitingViews, budget);
        for (long id : plan.preempt()) {
            Sequence s = byId.get(id);
            if (s != null && running.contains(s)) preempt(s);
        }
        for (long id : plan.admit()) {
            Sequence s = byId.get(id);
            if (s == null || !waiting.contains(s)) continue;
            int need = pagesFor(s.request);
            if (running.size() >= config.maxRunning() || !makeRoom(need)) break;
            start(s, need);
        }
    }

    private int freePages() {
        return config.kvPages() - usedPages;
    }

    /** Evicts prefix-cache entries until {@code pages} are free outside the prefix cache. */
    private boolean makeRoom(int pages) {
        if (blocks != null) {
            int idle = blocks.idleBlocks();
            while (config.kvPages() - usedPages - idle < pages) {
                if (!blocks.evictOne()) return false;
                idle--;
            }
            return true;
        }
        while (config.kvPages() - usedPages - prefixCache.pages() < pages) {
            if (!prefixCache.evictOldest()) return false;
        }
        return true;
    }

    private void start(Sequence s, int need) {
        waiting.remove(s);
        queuedCount.decrementAndGet();
        // the last known token must run through the model to give logits, so reuse at most n - 1
        KvPress press = s.pressSpec != null ? PressRegistry.parse(s.pressSpec) : null;
        int limit = reuseLimit(s, press != null ? press : paged != null && !s.noPress ? paged.press() : null);
        if (blocks != null) {
            PrefixBlockCache.Opened o = blocks.open(s.request.tenant(), s.tokens, limit);
            s.kvSeq = o.seq();
            s.kvLen = o.hitTokens();
            s.chain = blocks.chain(s.request.tenant());
            usePress(s, press);
            started(s, need, limit);
            return;
        }
        Sequence donor = null;
        int best = 0;
        for (Sequence r : running) {
            // a compressed sequence no longer holds its prefix verbatim: never fork from it
            if (!r.request.tenant().equals(s.request.tenant()) || r.kvSeq < 0 || compressed(r)) continue;
            int l = PrefixCache.commonPrefix(s.tokens, limit, r.tokens, r.kvLen);
            if (l > best) {
                best = l;
                donor = r;
            }
        }
        PrefixCache.Match m = prefixCache.longest(s.request.tenant(), s.tokens, limit);
        if (m != null && m.length() > best) {
            s.kvSeq = cache.fork(m.kvSeq(), m.length());
            s.kvLen = m.length();
        } else if (donor != null) {
            s.kvSeq = cache.fork(donor.kvSeq, best);
            s.kvLen = best;
        } else {
            s.kvSeq = cache.open();
            s.kvLen = 0;
        }
        usePress(s, press);
        started(s, need, limit);
    }

    /**
     * Prompt tokens a sequence may take from a prefix cache. A press sees only the queries of the
     * positions its sequence computes, so a compressed sequence recomputes at least its press's
     * observation window, and all of its prompt when the press accumulates every query's attention
     * (H2O): then it scores exactly as if it had prefilled alone.
     */
    private static int reuseLimit(Sequence s, KvPress press) {
        if (press == null) return s.n - 1;
        if (press.tracksAttention()) return 0;
        return Math.max(0, s.n - Math.max(1, press.observationWindow()));
    }

    /** A fresh instance of the sequence's press on its new cache sequence (a preempted one starts over). */
    private void usePress(Sequence s, KvPress press) {
        if (press != null || s.noPress && paged != null && paged.press() != null) paged.setPress(s.kvSeq, press);
    }

    private void started(Sequence s, int need, int limit) {
        lookups++;
        lookupTokens += limit;
        hitTokens += s.kvLen;
        if (!s.everStarted) {
            s.everStarted = true;
            s.cachedTokens = s.kvLen;
            promptTokens += s.promptLen;
            cachedTokens += s.kvLen;
        }
        s.reservedPages = need;
        usedPages += need;
        running.add(s);
        s.state = new RequestState.Prefilling(s.kvLen, s.n, s.cachedTokens);
    }

    private void preempt(Sequence s) {
        running.remove(s);
        cache.release(s.kvSeq);
        s.kvSeq = -1;
        s.chain = null;
        s.kvLen = 0;
        usedPages -= s.reservedPages;
        s.reservedPages = 0;
        s.state = new RequestState.Preempted(clock.instant(), s.generated);
        waiting.add(s);
        queuedCount.incrementAndGet();
        preemptions++;
    }

    /** Decode tokens of every running sequence first, then prefill chunks in running order under the token budget. */
    private int buildBatch() {
        int n = 0, budget = config.maxBatchTokens();
        List<Sequence> full = new ArrayList<>();
        for (Sequence s : running) {
            if (s.n - s.kvLen == 1 && n < budget) n = add(s, n, 1, full);
        }
        for (Sequence s : running) {
            int pending = s.n - s.kvLen;
            if (pending <= 1 || n >= budget) continue;
            int chunk = Math.min(pending, budget - n);
            n = add(s, n, chunk, full);
            s.state = new RequestState.Prefilling(s.kvLen + chunk, s.n, s.cachedTokens);
        }
        // a cache that ran out of room despite the budget (a compressed or shared cache counts differently): recompute later
        // alone in the cache it can never fit: fail it rather than retry forever
        for (Sequence s : full) {
            if (running.size() == 1) finish(s, FinishReason.ERROR, "the KV cache has no room for this sequence even alone");
            else preempt(s);
        }
        return n;
    }

    private int add(Sequence s, int n, int count, List<Sequence> full) {
        try {
            cache.reserve(s.kvSeq, count);
        } catch (KvCacheFullException e) {
            full.add(s);
            return n;
        }
        for (int j = 0; j < count; j++) {
            int pos = s.kvLen + j;
            bTokens[n] = s.tokens[pos];
            bSeqs[n] = s.kvSeq;
            bPositions[n] = pos;
            bWant[n] = pos == s.n - 1;
            bOwner[n] = s;
            n++;
        }
        return n;
    }

    private void sampleAndEmit(Sequence s, float[] logits, int off) {
        int tok = s.sampler.sample(logits, off, vocab, s.tokens, s.n);
        TokenLogprobs lp = s.request.topLogprobs() >= 0 ? s.sampler.logprobs(logits, off, vocab, tok, s.request.topLogprobs()) : null;
        if (!s.request.ignoreEos() && tokenizer.isEndOfGeneration(tok)) {
            finish(s, FinishReason.STOP, null);
            return;
        }
        s.tokens[s.n++] = tok;
        s.generated++;
        generatedTokens++;
        s.state = new RequestState.Decoding(s.generated);
        StopStringMatcher.Result r = s.stop.feed(s.decoder.feed(tok));
        s.sink.onToken(new GeneratedToken(tok, r.emit(), lp));
        if (r.stopped()) finish(s, FinishReason.STOP, null);
        else if (s.generated >= s.request.maxTokens() || s.n >= context) finish(s, FinishReason.LENGTH, null);
    }

    private void finish(Sequence s, FinishReason reason, String error) {
        boolean wasRunning = running.remove(s);
        if (!wasRunning && waiting.remove(s)) queuedCount.decrementAndGet();
        if (s.kvSeq >= 0 && blocks != null) {
            // every full page was offered as it filled; what the cache took outlives the sequence
            cache.release(s.kvSeq);
            s.kvSeq = -1;
            s.chain = null;
        } else if (s.kvSeq >= 0) {
            if ((reason == FinishReason.STOP || reason == FinishReason.LENGTH) && !compressed(s)) {
                // donate the computed prefix (a compressed sequence's is not verbatim); a partial chunk is never left behind (kvLen counts written positions)
                prefixCache.put(s.request.tenant(), Arrays.copyOf(s.tokens, s.kvLen), s.kvSeq, pages(s.kvLen));
            } else {
                cache.release(s.kvSeq);
            }
            s.kvSeq = -1;
        }
        usedPages -= s.reservedPages;
        s.reservedPages = 0;
        String tail = "";
        if (reason == FinishReason.STOP || reason == FinishReason.LENGTH) {
            tail = s.stop.feed(s.decoder.flush()).emit() + s.stop.flush();
        }
        s.state = new RequestState.Finished(reason);
        try {
            s.sink.onFinish(new Completion(reason, tail, s.promptLen, s.cachedTokens, s.generated, error));
        } catch (RuntimeException ignored) {
            // a broken sink must not stop the engine
        } finally {
            active.decrementAndGet();
        }
    }

    private void failAll(Throwable e) {
        for (Sequence s : new ArrayList<>(running)) finish(s, FinishReason.ERROR, e.toString());
        publishStats();
    }

    private void finishAll(FinishReason reason) {
        for (Sequence s; (s = incoming.poll()) != null; ) waiting.add(s);
        for (Sequence s : new ArrayList<>(running)) finish(s, reason, null);
        for (Sequence s : new ArrayList<>(waiting)) finish(s, reason, null);
        publishStats();
    }

    private void publishStats() {
        int prefixPages = blocks != null ? blocks.idleBlocks() : prefixCache.pages();
        prefixStats = blocks != null
                ? new PrefixCacheStats(lookups, lookupTokens, hitTokens, blocks.counters().evictions(), blocks.counters().bytes())
                : new PrefixCacheStats(lookups, lookupTokens, hitTokens, prefixCache.evictions(), 0);
        stats = new Stats(queuedCount.get(), running.size(), usedPages + prefixPages, config.kvPages() - usedPages, config.kvPages(),
                prefixPages, cache.bytesInUse(), promptTokens, cachedTokens, generatedTokens, steps, rejected.get(), preemptions);
    }

    /** A request inside the engine. Fields other than {@code cancelled} and {@code state} belong to the engine thread. */
    private static final class Sequence {
        final Engine engine;
        final long id;
        final EngineRequest request;
        final TokenSink sink;
        final Instant arrival;
        final Instant deadline;
        final Sampler sampler;
        final StreamingDecoder decoder;
        final StopStringMatcher stop;
        final int promptLen;
        final int[] tokens;         // prompt then generated, (promptLen + maxTokens)
        int n;                      // tokens known
        int kvSeq = -1;             // the cache's sequence id while running
        int kvLen;                  // positions in the cache
        PrefixBlockCache.Chain chain;   // its pages offered to the page-level prefix cache so far
        String pressSpec;               // its KV press, or null
        boolean noPress;                // its request said none: not even the paged cache's own press
        int generated;
        int cachedTokens;
        int reservedPages;
        boolean everStarted;
        volatile boolean cancelled;
        volatile RequestState state;

        Sequence(Engine engine, long id, EngineRequest request, TokenSink sink, Instant arrival, Instant deadline) {
            this.engine = engine;
            this.id = id;
            this.request = request;
            this.sink = sink;
            this.arrival = arrival;
            this.deadline = deadline;
            SamplerConfig sc = request.sampling();
            long seed = sc.seed();
            if (seed == RANDOM_SEED) {
                synchronized (engine.rng) {
                    seed = engine.rng.nextLong();
                }
            }
            this.sampler = new Sampler(sc, new SplittableRandom(seed));
            this.decoder = engine.tokenizer.newStreamingDecoder();
            this.stop = new StopStringMatcher(request.stop());
            this.promptLen = request.prompt().length;
            this.tokens = Arrays.copyOf(request.prompt(), Math.min(engine.context, promptLen + request.maxTokens()) + 1);
            this.n = promptLen;
            // the decoder sees the prompt so that the first generated piece decodes as it would after it
            for (int t : request.prompt()) decoder.feed(t);
            this.state = new RequestState.Queued(arrival, deadline);
        }

        SequenceView view(int pages, int prefixHit) {
            return new SequenceView(id, request.priority(), arrival, promptLen, pages, prefixHit, generated > 0 || everStarted);
        }
    }
}
