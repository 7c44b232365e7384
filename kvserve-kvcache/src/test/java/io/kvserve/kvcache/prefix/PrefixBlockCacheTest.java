package io.kvserve.kvcache.prefix;

import io.kvserve.kvcache.KvElementType;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.press.PressContext;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Small cases whose answers can be counted by hand: 4 tokens per page, one layer, one KV head. */
class PrefixBlockCacheTest {
    static final int T = 4;
    static final int[] PROMPT = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};   // blocks [1..4] [5..8], partial [9, 10]

    private static PagedKvCache cache(KvElementType type) {
        return new PagedKvCache(1, 1, 4, 1, 64, new KvStorage(type, 0), T, 1 << 20, null);
    }

    /** Appends tokens[from, to) with a key/value that encodes (tenant-independent) position and token. */
    private static void append(PagedKvCache c, int seq, int[] tokens, int from, int to) {
        for (int p = from; p < to; p++) {
            float[] k = {p, tokens[p], 0, 1}, v = {tokens[p], p, 1, 0};
            c.append(0, seq, p, k, 0, v, 0);
        }
    }

    private static int donor(PagedKvCache c, PrefixBlockCache pc, String tenant, int[] tokens) {
        PrefixBlockCache.Opened o = pc.open(tenant, tokens, tokens.length - 1);
        append(c, o.seq(), tokens, o.hitTokens(), tokens.length);
        pc.publish(pc.chain(tenant), o.seq(), tokens, tokens.length);
        return o.seq();
    }

    @Test
    void onlyFullPagesBeforeTheFirstDifferingTokenAreReused() {
        try (PagedKvCache c = cache(KvElementType.F32)) {
            PrefixBlockCache pc = new PrefixBlockCache(c, 1 << 20, TenantSalts.isolated());
            int d = donor(c, pc, "t", PROMPT);
            assertThat(pc.blocks()).as("two full pages cached, the partial third is not").isEqualTo(2);

            assertThat(pc.open("t", PROMPT, 9).hitTokens()).as("same prompt: 2 full blocks of the 9 usable tokens").isEqualTo(8);
            assertThat(pc.open("t", PROMPT, 8).hitTokens()).isEqualTo(8);
            assertThat(pc.open("t", PROMPT, 7).hitTokens()).as("block 2 ends past the limit").isEqualTo(4);
            int[] differs6 = PROMPT.clone();
            differs6[5] = 99;                 // inside block 2: block 1 is reused, nothing from token 5 on
            assertThat(pc.open("t", differs6, 9).hitTokens()).isEqualTo(4);
            int[] differs4 = PROMPT.clone();
            differs4[4] = 99;                 // first token of block 2
            assertThat(pc.open("t", differs4, 9).hitTokens()).isEqualTo(4);
            int[] differs3 = PROMPT.clone();
            differs3[3] = 99;                 // last token of block 1: block 2 is identical but follows a different prefix
            assertThat(pc.open("t", differs3, 9).hitTokens()).isZero();
            int[] differs0 = PROMPT.clone();
            differs0[0] = 99;
            assertThat(pc.open("t", differs0, 9).hitTokens()).isZero();

            PrefixBlockCache.Counters k = pc.counters();
            assertThat(k.lookups()).isEqualTo(1 + 7);
            assertThat(k.lookupTokens()).isEqualTo(9 + 9 + 8 + 7 + 9 + 9 + 9 + 9);
            assertThat(k.hitTokens()).isEqualTo(8 + 8 + 4 + 4 + 4);
            assertThat(k.hitRate()).isEqualTo(28.0 / 69);
            assertThat(k.insertedBlocks()).isEqualTo(2);
            assertThat(c.length(d)).isEqualTo(10);
        }
    }

    @Test
    void aHitSharesPagesAndTheSharerWritesOnlyItsOwn() {
        try (PagedKvCache c = cache(KvElementType.F32)) {
            PrefixBlockCache pc = new PrefixBlockCache(c, 1 << 20, TenantSalts.isolated());
            int d = donor(c, pc, "t", PROMPT);
            int[] donorPages = c.pages(d, 0, 0);
            PrefixBlockCache.Opened o = pc.open("t", PROMPT, 9);
            int s = o.seq();
            assertThat(c.pages(s, 0, 0)).containsExactly(donorPages[0], donorPages[1]);
            // donor, prefix cache, sharer
            assertThat(c.allocator().refCount(donorPages[0])).isEqualTo(3);
            assertThat(c.allocator().refCount(donorPages[2])).as("the partial page stays the donor's alone").isEqualTo(1);
            int[] other = {1, 2, 3, 4, 5, 6, 7, 8, 50, 51, 52};
            append(c, s, other, 8, 11);
            int[] sp = c.pages(s, 0, 0);
            assertThat(sp).hasSize(3);
            assertThat(sp[2]).as("the sharer's position 8 starts a page of its own").isNotIn(donorPages[0], donorPages[1], donorPages[2]);
            // the donor still reads its own tokens 9 and 10, the sharer its own 50..52
            assertThat(c.pressContext(d).keys(0, 0)[8 * 4 + 1]).isEqualTo(9f);
            assertThat(c.pressContext(s).keys(0, 0)[8 * 4 + 1]).isEqualTo(50f);
            assertThat(c.pressContext(s).values(0, 0)[5 * 4]).as("shared position 5 reads the cached value").isEqualTo(6f);
            c.release(d);
            c.release(s);
            assertThat(c.allocator().refCount(donorPages[0])).as("the prefix cache keeps the page").isEqualTo(1);
            assertThat(pc.idleBlocks()).isEqualTo(2);
        }
    }

    @Test
    void tenantsHitOnlyTheirOwnOrTheirSharingGroupsPages() {
        try (PagedKvCache c = cache(KvElementType.F16)) {
            PrefixBlockCache pc = new PrefixBlockCache(c, 1 << 20, TenantSalts.sharingGroups(List.of(List.of("a", "b"))));
            donor(c, pc, "a", PROMPT);
            assertThat(pc.peek("a", PROMPT, 9)).isEqualTo(8);
            assertThat(pc.peek("b", PROMPT, 9)).as("b shares with a").isEqualTo(8);
            assertThat(pc.peek("c", PROMPT, 9)).as("c is alone").isZero();
            assertThat(pc.peek("", PROMPT, 9)).isZero();
            assertThat(pc.peek("group#0", PROMPT, 9)).as("a tenant named like the group's salt is still alone").isZero();
            donor(c, pc, "c", PROMPT);
            assertThat(pc.blocks()).as("c's identical prompt is cached separately").isEqualTo(4);
        }
        assertThatThrownBy(() -> TenantSalts.sharingGroups(List.of(List.of("a", "b"), List.of("b", "c"))))
                .hasMessageContaining("'b' is in two prefix-cache sharing groups");
    }

    @Test
    void evictsLeastRecentlyUsedIdleLeavesWithinTheByteCapacity() {
        try (PagedKvCache c = cache(KvElementType.F32)) {
            long block = c.blockBytes();
            assertThat(block).as("1 layer x 1 head x (K+V) x 4 tokens x 4 floats").isEqualTo(2 * 4 * 4 * 4);
            PrefixBlockCache pc = new PrefixBlockCache(c, 3 * block, TenantSalts.isolated());
            int a = donor(c, pc, "t", PROMPT);                                   // blocks A1, A2
            int b = donor(c, pc, "t", new int[]{20, 21, 22, 23, 24, 25});       // block B1
            assertThat(pc.blocks()).isEqualTo(3);
            int x = donor(c, pc, "t", new int[]{30, 31, 32, 33, 34});           // no room: everything is referenced
            assertThat(pc.blocks()).isEqualTo(3);
            assertThat(pc.counters().evictions()).isZero();
            c.release(x);
            c.release(a);
            pc.open("t", PROMPT, 9);   // touches A1, A2: B1 (still used by b) and then nothing idle is older
            c.release(b);
            // idle now: A1, A2 (refs: cache + the sequence just opened -> not idle), B1 idle
            assertThat(pc.idleBlocks()).isEqualTo(1);
            assertThat(pc.evictOne()).isTrue();
            assertThat(pc.peek("t", new int[]{20, 21, 22, 23, 24}, 5)).as("B1 was the idle one").isZero();
            assertThat(pc.evictOne()).as("A2 and A1 are referenced by the open sequence").isFalse();
            assertThat(pc.counters().evictions()).isEqualTo(1);
            assertThat(pc.counters().bytes()).isEqualTo(2 * block);
        }
    }

    @Test
    void aPressThatEvictsLeavesSharedPagesAloneAndItsBlocksUncached() {
        try (PagedKvCache c = cache(KvElementType.F32)) {
            PrefixBlockCache pc = new PrefixBlockCache(c, 1 << 20, TenantSalts.isolated());
            int d = donor(c, pc, "t", PROMPT);
            int[] shared = c.pages(d, 0, 0);
            PrefixBlockCache.Opened o = pc.open("t", PROMPT, 9);
            append(c, o.seq(), PROMPT, 8, 10);
            PressContext ctx = c.pressContext(o.seq());
            ctx.keep(0, 0, new int[]{0, 2, 5, 9});      // evict most tokens
            assertThat(c.pages(o.seq(), 0, 0)).doesNotContain(shared[0], shared[1]);
            assertThat(c.allocator().refCount(shared[0])).as("donor + cache").isEqualTo(2);
            assertThat(c.shareBlock(o.seq(), 0)).as("position 1 was evicted: block 0 is not stored verbatim").isNull();
            assertThat(c.pressContext(d).keys(0, 0)[5 * 4 + 1]).as("the shared page still holds token 6").isEqualTo(6f);
        }
    }

    @Test
    void kiviBlocksAreNeverShared() {
        try (PagedKvCache c = new PagedKvCache(1, 1, 4, 1, 64, KvStorage.parse("kivi4"), T, 1 << 20, null)) {
            PrefixBlockCache pc = new PrefixBlockCache(c, 1 << 20, TenantSalts.isolated());
            donor(c, pc, "t", PROMPT);
            assertThat(pc.blocks()).isZero();
            assertThat(pc.open("t", PROMPT, 9).hitTokens()).isZero();
        }
    }

    @Test
    void zeroCapacityTurnsTheCacheOff() {
        try (PagedKvCache c = cache(KvElementType.F32)) {
            PrefixBlockCache pc = new PrefixBlockCache(c, 0, TenantSalts.isolated());
            donor(c, pc, "t", PROMPT);
            assertThat(pc.blocks()).isZero();
            assertThat(pc.open("t", PROMPT, 9).hitTokens()).isZero();
        }
    }
}
