package io.kvserve.engine;

import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.prefix.PrefixBlockCache;
import io.kvserve.kvcache.prefix.TenantSalts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.kvserve.engine.EngineTest.PROMPTS;
import static io.kvserve.engine.EngineTest.alone;
import static io.kvserve.engine.EngineTest.encode;
import static io.kvserve.engine.EngineTest.model;
import static io.kvserve.engine.EngineTest.runUntilIdle;
import static org.assertj.core.api.Assertions.assertThat;

/** The engine on the paged cache with the page-level prefix cache (stories260K, 16-token pages). */
class EnginePrefixBlockCacheTest {
    static final String SYSTEM = "Once upon a time there was a little girl named Lily. She loved to play outside in the park with her friends.";

    @BeforeAll
    static void load() throws Exception {
        EngineTest.load();
    }

    @AfterAll
    static void close() throws Exception {
        EngineTest.close();
    }

    record Setup(Engine engine, PagedKvCache cache, PrefixBlockCache blocks) {}

    static Setup paged(int kvPages, TenantSalts salts) {
        int ctx = model.config().contextLength();
        PagedKvCache cache = PagedKvCache.forModel(model.config(), ctx, KvStorage.parse("f32"), 16, 1L << 26, null);
        PrefixBlockCache blocks = new PrefixBlockCache(cache, 1L << 26, salts);
        return new Setup(EngineTest.pagedEngine(cache, kvPages, blocks), cache, blocks);
    }

    static CollectingSink run(Engine e, EngineRequest r) {
        CollectingSink s = new CollectingSink();
        e.submit(r, s);
        runUntilIdle(e);
        assertThat(s.finished()).isTrue();
        return s;
    }

    @Test
    void aSharedSystemPromptIsServedFromCachedPagesWithTheSameTokens() {
        int[] a = encode(SYSTEM + " One day she found a ball.");
        int[] b = encode(SYSTEM + " Tom came to see her.");
        List<Integer> expectB = alone(SYSTEM + " Tom came to see her.", 20);
        int common = PrefixCacheProbe.commonPrefix(a, b);
        Setup s = paged(512, TenantSalts.isolated());
        try (Engine e = s.engine()) {
            CollectingSink first = run(e, EngineRequest.greedy(a, 20));
            CollectingSink second = run(e, EngineRequest.greedy(b, 20));
            assertThat(first.completion.cachedTokens()).isZero();
            assertThat(second.completion.cachedTokens()).as("full 16-token pages of the common prefix (%d tokens)", common)
                    .isEqualTo(common / 16 * 16).isPositive();
            assertThat(second.tokens).as("the same greedy tokens as without any cache").isEqualTo(expectB);
            Engine.PrefixCacheStats ps = e.prefixCacheStats();
            assertThat(ps.lookups()).isEqualTo(2);
            assertThat(ps.hitTokens()).isEqualTo(common / 16 * 16);
            assertThat(ps.lookupTokens()).isEqualTo(a.length - 1 + b.length - 1);
            assertThat(e.stats().pagesFree()).isEqualTo(512);
            assertThat(e.stats().prefixCachePages()).as("idle cached blocks").isEqualTo(s.blocks().blocks()).isPositive();
        }
        assertThat(s.cache().bytesInUse()).as("closing the engine releases the cached pages").isZero();
    }

    @Test
    void aPromptThatDiffersByOneTokenReusesOnlyTheFullPagesBeforeIt() {
        int[] a = encode(SYSTEM + " The end.");
        int[] b = a.clone();
        b[20] = b[20] == 5 ? 6 : 5;          // position 20 is in page 1 (positions 16..31)
        Setup s = paged(512, TenantSalts.isolated());
        try (Engine e = s.engine()) {
            run(e, EngineRequest.greedy(a, 4));
            CollectingSink second = run(e, EngineRequest.greedy(b, 4));
            assertThat(second.completion.cachedTokens()).isEqualTo(16);
        }
    }

    @Test
    void tenantsAreIsolatedUnlessConfiguredToShare() {
        int[] p = encode(SYSTEM);
        Setup s = paged(512, TenantSalts.sharingGroups(List.of(List.of("x", "y"))));
        try (Engine e = s.engine()) {
            run(e, EngineRequest.greedy(p, 4).withTenant("x"));
            assertThat(run(e, EngineRequest.greedy(p, 4).withTenant("z")).completion.cachedTokens()).isZero();
            assertThat(run(e, EngineRequest.greedy(p, 4).withTenant("y")).completion.cachedTokens()).isEqualTo((p.length - 1) / 16 * 16);
            assertThat(run(e, EngineRequest.greedy(p, 4)).completion.cachedTokens()).as("the default tenant").isZero();
        }
    }

    @Test
    void concurrentRequestsSharePagesAsSoonAsTheyAreWrittenAndIdlePagesAreEvictedForRoom() {
        int[] p = encode(SYSTEM + " She ran home.");
        Setup s = paged(16, TenantSalts.isolated());   // 16 pages of 16 tokens: room for a few requests only
        try (Engine e = s.engine()) {
            CollectingSink first = new CollectingSink();
            e.submit(EngineRequest.greedy(p, 8), first);
            for (int i = 0; i < 3; i++) e.step();    // the prompt is prefilled, pages published
            CollectingSink second = run(e, EngineRequest.greedy(p, 8));
            assertThat(second.completion.cachedTokens()).isEqualTo((p.length - 1) / 16 * 16);
            assertThat(first.tokens).isEqualTo(second.tokens);
            // unrelated prompts need the room the idle cached pages hold
            for (String q : PROMPTS) run(e, EngineRequest.greedy(encode(q + " and then she went to the park to play with a ball"), 100));
            assertThat(s.blocks().counters().evictions()).isPositive();
            assertThat(e.stats().pagesFree()).isEqualTo(16);
        }
    }

    /** Package helper so the test can count a common prefix without the engine. */
    static final class PrefixCacheProbe {
        static int commonPrefix(int[] a, int[] b) {
            return PrefixCache.commonPrefix(a, a.length, b, b.length);
        }
    }
}
