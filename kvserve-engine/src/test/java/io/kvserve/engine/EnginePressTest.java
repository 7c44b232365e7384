package io.kvserve.engine;

import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.kvcache.prefix.PrefixBlockCache;
import io.kvserve.kvcache.prefix.TenantSalts;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.generate.Generator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;

import static io.kvserve.engine.EngineTest.encode;
import static io.kvserve.engine.EngineTest.model;
import static io.kvserve.engine.EngineTest.runUntilIdle;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** KV presses per request in the continuous batch (stories260K, paged F32 cache, 16-token pages). */
class EnginePressTest {
    static final String STORY = "Once upon a time there was a little girl named Lily. She loved to play outside in the park with her friends."
            + " One day she found a big red ball under a tree.";
    static final String OTHER = "The little dog ran to the park. He saw a cat and";
    static final String DECODE_SNAPKV = "decode:every=8/snapkv:ratio=0.5,window=8";

    @BeforeAll
    static void load() throws Exception {
        EngineTest.load();
    }

    @AfterAll
    static void close() throws Exception {
        EngineTest.close();
    }

    record Setup(Engine engine, PagedKvCache cache, PrefixBlockCache blocks) {}

    /** An engine over a paged cache whose byte budget holds {@code kvPages} engine pages (plus one batch); blocks when {@code prefix}. */
    static Setup paged(int kvPages, boolean prefix) {
        int ctx = model.config().contextLength();
        long block = PagedKvCache.forModel(model.config(), ctx, KvStorage.parse("f32"), 16, 1, null).blockBytes();
        PagedKvCache cache = PagedKvCache.forModel(model.config(), ctx, KvStorage.parse("f32"), 16, block * (kvPages + 8), null);
        PrefixBlockCache blocks = prefix ? new PrefixBlockCache(cache, cache.allocator().byteBudget(), TenantSalts.isolated()) : null;
        return new Setup(EngineTest.pagedEngine(cache, kvPages, blocks), cache, blocks);
    }

    /** The greedy tokens of {@code prompt} run alone, without a press, on a fresh paged engine. */
    static List<Integer> aloneOnPaged(int[] prompt, int maxTokens) {
        try (Engine e = paged(256, false).engine()) {
            CollectingSink c = submit(e, EngineRequest.greedy(prompt, maxTokens));
            runUntilIdle(e);
            return c.tokens;
        }
    }

    static List<Integer> generatorTokens(String spec, int[] prompt, int maxTokens) {
        PagedKvCache cache = PagedKvCache.forModel(model.config(), model.config().contextLength(), KvStorage.parse("f32"), 16, 1L << 26,
                PressRegistry.parse(spec));
        List<Integer> out = new ArrayList<>();
        Generator g = new Generator(model, 64, WorkerPool.shared());
        g.generate(cache, prompt, maxTokens, (logits, off, vocab, h, n) -> {
            int best = 0;
            for (int i = 1; i < vocab; i++) if (logits[off + i] > logits[off + best]) best = i;
            return best;
        }, out::add, null);
        return out;
    }

    static CollectingSink submit(Engine e, EngineRequest r) {
        CollectingSink s = new CollectingSink();
        assertThat(e.submit(r, s).rejected()).isFalse();
        return s;
    }

    @Test
    void aRequestsPressRunsAsInSingleSequenceGeneration() {
        int[] prompt = encode(STORY);
        List<Integer> plain = generatorTokens("none", prompt, 40);
        List<Integer> pressed = generatorTokens(DECODE_SNAPKV, prompt, 40);
        assertThat(pressed).as("the press changes what this model generates").isNotEqualTo(plain);
        Setup s = paged(256, false);
        try (Engine e = s.engine()) {
            CollectingSink c = submit(e, EngineRequest.greedy(prompt, 40).withKvPress(DECODE_SNAPKV));
            runUntilIdle(e);
            assertThat(c.completion.reason()).isEqualTo(FinishReason.LENGTH);
            assertThat(c.tokens).as("the same hooks at the same points as Generator: after prefill, then every 8 positions").isEqualTo(pressed);
        }
    }

    @Test
    void aPressedNeighbourDoesNotChangeAnUncompressedRequest() {
        int[] a = encode(OTHER);
        List<Integer> alone = aloneOnPaged(a, 40);
        Setup s = paged(256, false);
        try (Engine e = s.engine()) {
            CollectingSink pressed = submit(e, EngineRequest.greedy(encode(STORY), 40).withKvPress(DECODE_SNAPKV));
            CollectingSink plain = submit(e, EngineRequest.greedy(a, 40));
            runUntilIdle(e);
            assertThat(pressed.completion.reason()).isEqualTo(FinishReason.LENGTH);
            assertThat(plain.tokens).as("greedy tokens alone and beside a compressed request").isEqualTo(alone);
            assertThat(s.cache().allocator().pagesInUse()).as("no leaked pages").isZero();
            assertThat(e.stats().pagesUsed()).isZero();
            assertThat(e.stats().kvBytes()).isZero();
        }
    }

    @Test
    void compressionFreesPagesAndShrinksTheReservation() {
        int[] prompt = encode(STORY);
        assertThat(prompt.length).as("BOS and the story's tokens").isEqualTo(55);
        Setup s = paged(256, false);
        try (Engine e = s.engine()) {
            CollectingSink c = submit(e, EngineRequest.greedy(prompt, 40).withKvPress("snapkv:ratio=0.5,window=8"));
            long peak = 0;
            int reservedBefore = e.pagesFor(EngineRequest.greedy(prompt, 40));
            assertThat(e.step()).isTrue();   // the whole prompt in one chunk, then the press, then the first token
            // snapkv keeps n - floor(n/2) tokens of each stream: 55 -> 28, 2 pages instead of 4
            int kept = prompt.length - prompt.length / 2;
            assertThat(kept).isEqualTo(28);
            List<Integer> seqs = s.cache().openSequences();
            assertThat(seqs).hasSize(1);
            int seq = seqs.get(0);
            for (int l = 0; l < 5; l++) for (int h = 0; h < 4; h++) assertThat(s.cache().storedTokens(seq, l, h)).isEqualTo(kept);
            long rowPage = s.cache().blockBytes() / (5 * 4);
            assertThat(e.stats().kvBytes()).as("2 pages per stream").isEqualTo(20 * 2 * rowPage);
            // no decode-time compression: 28 stored + 40 more positions at most -> 68 tokens, 5 pages (uncompressed: 55 + 40 -> 6)
            assertThat(e.stats().pagesUsed()).as("reservation after the press, down from %d", reservedBefore).isEqualTo(5);
            assertThat(reservedBefore).isEqualTo(6);
            runUntilIdle(e);
            assertThat(c.completion.reason()).isEqualTo(FinishReason.LENGTH);
            assertThat(s.cache().allocator().pagesInUse()).isZero();
            assertThat(e.stats().pagesUsed()).isZero();
        }
    }

    @Test
    void compressedSequencesLetMoreSequencesRun() {
        int[] prompt = encode(STORY);   // 55 tokens
        // each needs pages(55 + 32) = 6 pages uncompressed; after decode:every=8/snapkv:ratio=0.75 a stream keeps
        // 55 - floor(41.25) = 14 tokens and grows to 14 + 8 = 22 at most -> 2 pages. 13 pages: 6 + 6 uncompressed, 2 + 2 + 2 + 6 compressed
        String press = "decode:every=8/snapkv:ratio=0.75,window=8";
        int[] maxRunning = new int[2];
        for (int pressed = 0; pressed < 2; pressed++) {
            Setup s = paged(13, false);
            try (Engine e = s.engine()) {
                List<CollectingSink> sinks = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    EngineRequest r = EngineRequest.greedy(prompt, 32).withTenant("t" + i);
                    sinks.add(submit(e, pressed == 1 ? r.withKvPress(press) : r));
                }
                for (int i = 0; i < 100_000 && e.step(); i++) maxRunning[pressed] = Math.max(maxRunning[pressed], e.stats().running());
                for (CollectingSink c : sinks) assertThat(c.completion.reason()).isEqualTo(FinishReason.LENGTH);
                assertThat(s.cache().allocator().pagesInUse()).isZero();
                assertThat(e.stats().pagesUsed()).isZero();
            }
        }
        assertThat(maxRunning[0]).as("uncompressed: 13 pages hold two sequences of 6").isEqualTo(2);
        assertThat(maxRunning[1]).as("compressed: the freed reservations admit the others").isEqualTo(4);
    }

    @Test
    void aCompressedSequencePublishesOnlyVerbatimPagesToThePrefixCache() {
        int[] prompt = encode(STORY);       // 55 tokens: 3 full pages
        List<Integer> expect = aloneOnPaged(prompt, 30);
        Setup s = paged(256, true);
        try (Engine e = s.engine()) {
            CollectingSink a = submit(e, EngineRequest.greedy(prompt, 30).withKvPress(DECODE_SNAPKV));
            runUntilIdle(e);
            assertThat(a.completion.reason()).isEqualTo(FinishReason.LENGTH);
            // the prompt's three full pages were offered before the press ran; nothing it wrote after (page 4, positions 48..63) is verbatim
            assertThat(s.blocks().blocks()).isEqualTo(3);
            CollectingSink b = submit(e, EngineRequest.greedy(prompt, 30));
            runUntilIdle(e);
            assertThat(b.completion.cachedTokens()).isEqualTo(48);
            assertThat(b.tokens).as("served from the prefix cache, the uncompressed request gets its own tokens").isEqualTo(expect);
            CollectingSink c = submit(e, EngineRequest.greedy(prompt, 30).withKvPress(DECODE_SNAPKV));
            runUntilIdle(e);
            assertThat(c.completion.cachedTokens()).as("its observation window (8) is recomputed: 55 - 8 = 47 tokens, two full pages").isEqualTo(32);
            assertThat(c.tokens).as("a compressed request on shared pages compresses its own copy").isEqualTo(a.tokens);
            assertThat(e.stats().pagesUsed()).as("only idle cached blocks").isEqualTo(e.stats().prefixCachePages());
            s.blocks().clear();
            assertThat(s.cache().allocator().pagesInUse()).isZero();
        }
    }

    @Test
    void pressesThatCannotRunInABatchAreRefusedWithTheReason() {
        Setup s = paged(64, false);
        try (Engine e = s.engine()) {
            assertThatThrownBy(() -> e.pressFor("kvzip:ratio=0.5")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("drives the prefill itself").hasMessageContaining("kvzip");
            assertThatThrownBy(() -> e.pressFor("decode:every=4/fastkv")).hasMessageContaining("fastkv");
            assertThatThrownBy(() -> e.pressFor("snapkv:ratio=1.5")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ratio");
            assertThatThrownBy(() -> e.pressFor("nosuch")).hasMessageContaining("unknown press 'nosuch'");
            assertThat(e.pressFor("none")).isNull();
            assertThatThrownBy(() -> e.submit(EngineRequest.greedy(encode(OTHER), 4).withKvPress("kvzip"), new CollectingSink()))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        try (Engine e = EngineTest.engine()) {
            assertThatThrownBy(() -> e.pressFor("snapkv")).hasMessageContaining("needs the paged KV cache");
            assertThatThrownBy(() -> e.defaultPress("snapkv")).hasMessageContaining("--kv-type");
        }
    }

    /** Every registry press alone and under every wrapper (as {@code PressMatrixTest}), with a plain neighbour. */
    static List<String> registry() {
        List<String> all = new ArrayList<>();
        for (String name : PressRegistry.BASELINES.keySet()) {
            all.add(switch (name) {
                case "quantize" -> "quantize:type=q8_0";
                case "elitekv" -> "elitekv";
                default -> name + ":ratio=0.5";
            });
        }
        for (String w : new String[]{"adakv/", "perlayer:keep=0.6/", "decode:every=4/", "kvcrush/", "less:map=random/"}) {
            all.add(w + "snapkv:ratio=0.5");
            all.add(w + "h2o:ratio=0.5");
        }
        all.add("decode:every=4/tova:ratio=0.5>quantize:type=q8_0");
        all.add("decode:every=4/fastkv:ratio=0.5");
        return all;
    }

    /** Whether a press is refused per sequence: it drives the prefill, or it changes every stream's layout (and needs a profile). */
    static boolean refused(String spec) {
        return spec.contains("fastkv") || spec.contains("kvzip") || spec.contains("elitekv");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("registry")
    void everyRegistryPressRunsBesideAPlainRequestOrIsRefusedWithItsReason(String spec) {
        int[] a = encode(OTHER);
        Setup s = paged(256, false);
        try (Engine e = s.engine()) {
            if (refused(spec)) {
                assertThatThrownBy(() -> e.pressFor(spec)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining(spec.contains("elitekv") ? "elitekv" : "drives the prefill itself");
                return;
            }
            CollectingSink alone = submit(e, EngineRequest.greedy(a, 24));
            runUntilIdle(e);
            CollectingSink pressed = submit(e, EngineRequest.greedy(encode(STORY), 24).withKvPress(spec));
            CollectingSink plain = submit(e, EngineRequest.greedy(a, 24));
            runUntilIdle(e);
            assertThat(pressed.completion.reason()).as(String.valueOf(pressed.completion.error())).isEqualTo(FinishReason.LENGTH);
            assertThat(plain.tokens).isEqualTo(alone.tokens);
            assertThat(s.cache().allocator().pagesInUse()).as("no leaked pages").isZero();
            assertThat(e.stats().pagesUsed()).isZero();
        }
    }

    @Test
    void aFailingPressEndsOnlyItsOwnSequenceAndNoneOverridesTheCachesPress() {
        int ctx = model.config().contextLength();
        io.kvserve.kvcache.press.KvPress broken = new io.kvserve.kvcache.press.KvPress() {
            @Override public String spec() { return "broken"; }
            @Override public void afterPrefill(io.kvserve.kvcache.press.PressContext c) { throw new IllegalStateException("scores are NaN"); }
        };
        PagedKvCache cache = PagedKvCache.forModel(model.config(), ctx, KvStorage.parse("f32"), 16, 1L << 26, broken);
        int[] a = encode(OTHER);
        List<Integer> alone = aloneOnPaged(a, 20);
        try (Engine e = EngineTest.pagedEngine(cache, 256, null)) {
            CollectingSink failing = submit(e, EngineRequest.greedy(encode(STORY), 20));
            CollectingSink plain = submit(e, EngineRequest.greedy(a, 20).withKvPress("none"));
            runUntilIdle(e);
            assertThat(failing.completion.reason()).isEqualTo(FinishReason.ERROR);
            assertThat(failing.completion.error()).contains("the KV press failed").contains("scores are NaN");
            assertThat(failing.tokens).isEmpty();
            assertThat(plain.completion.reason()).isEqualTo(FinishReason.LENGTH);
            assertThat(plain.tokens).as("'none' runs without the cache's press, untouched by its neighbour's failure").isEqualTo(alone);
            assertThat(cache.allocator().pagesInUse()).isZero();
            assertThat(e.stats().pagesUsed()).isZero();
        }
    }

    @Test
    void theDefaultPressAppliesUnlessARequestSaysNone() {
        int[] prompt = encode(STORY);
        Setup s = paged(256, false);
        try (Engine e = s.engine().defaultPress("snapkv:ratio=0.5,window=8")) {
            submit(e, EngineRequest.greedy(prompt, 4));
            submit(e, EngineRequest.greedy(prompt, 4).withKvPress("none"));
            e.step();   // 64 tokens: the first prompt (55), compressed to 28, and 9 of the second
            e.step();   // the first's first token, the rest of the second: not compressed
            List<Integer> seqs = s.cache().openSequences();
            assertThat(seqs).hasSize(2);
            assertThat(s.cache().storedTokens(seqs.get(0), 0, 0)).isEqualTo(prompt.length - prompt.length / 2 + 1);
            assertThat(s.cache().storedTokens(seqs.get(1), 0, 0)).isEqualTo(prompt.length);
            runUntilIdle(e);
        }
    }
}
