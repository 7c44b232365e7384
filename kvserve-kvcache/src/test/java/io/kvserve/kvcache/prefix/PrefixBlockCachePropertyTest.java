package io.kvserve.kvcache.prefix;

import io.kvserve.kvcache.KvElementType;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PageAllocator;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.press.PressContext;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random operation sequences (seeded JUnit loops) over a paged cache with a prefix block cache:
 * requests of three tenants (two of which share) open on cached prefixes drawn from a few system
 * prompts, append, publish, get compressed by a press, are truncated or released, and blocks are
 * evicted. The KV written at a position is a function of the tenant's salt and every token up to
 * it, as a real model's is, so reading back a wrong reuse (another tenant's block, or a block after
 * a differing token) fails. After every operation: reference counts equal owners (sequences plus
 * the prefix cache), no page is both free and owned, bytes add up, no page the prefix cache holds
 * has changed since it was cached, the cache stays within its capacity.
 */
class PrefixBlockCachePropertyTest {
    static final int LAYERS = 2, HEADS = 2, DIM = 4, GROUP = 1;
    static final TenantSalts SALTS = TenantSalts.sharingGroups(List.of(List.of("a", "b")));
    static final String[] TENANTS = {"a", "b", "c"};

    record Seq(String tenant, List<Integer> tokens, PrefixBlockCache.Chain chain) {}

    @ParameterizedTest
    @EnumSource(value = KvElementType.class, names = {"F32", "F16"})
    void randomOperationsKeepSharingAndCopyOnWriteInvariants(KvElementType type) {
        for (int seed = 0; seed < 60; seed++) run(type, seed);
    }

    private void run(KvElementType type, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int tpp = 1 + rnd.nextInt(4);
        try (PagedKvCache c = new PagedKvCache(LAYERS, HEADS, DIM, GROUP, 400, new KvStorage(type, 0), tpp, 1L << 24, null)) {
            long capacity = c.blockBytes() * (2 + rnd.nextInt(12));
            PrefixBlockCache pc = new PrefixBlockCache(c, capacity, SALTS);
            int[][] systemPrompts = new int[3][];
            for (int i = 0; i < 3; i++) systemPrompts[i] = randomTokens(rnd, 2 + rnd.nextInt(14));
            Map<Integer, Seq> seqs = new HashMap<>();
            Map<Integer, byte[]> snapshots = new HashMap<>();
            for (int op = 0; op < 80; op++) {
                List<Integer> open = new ArrayList<>(seqs.keySet());
                int choice = open.isEmpty() ? 0 : rnd.nextInt(12);
                if (choice <= 2) {
                    String tenant = TENANTS[rnd.nextInt(3)];
                    int[] sys = systemPrompts[rnd.nextInt(3)];
                    int[] prompt = concat(sys, randomTokens(rnd, 1 + rnd.nextInt(6)));
                    if (rnd.nextInt(4) == 0) prompt[rnd.nextInt(prompt.length)] ^= 1;   // one token differs
                    int limit = prompt.length - 1;
                    int expectMax = pc.peek(tenant, prompt, limit);
                    PrefixBlockCache.Opened o = pc.open(tenant, prompt, limit);
                    assertThat(o.hitTokens()).isEqualTo(expectMax).isLessThanOrEqualTo(limit);
                    assertThat(o.hitTokens() % tpp).isZero();
                    assertThat(c.length(o.seq())).isEqualTo(o.hitTokens());
                    List<Integer> toks = new ArrayList<>();
                    for (int i = 0; i < o.hitTokens(); i++) toks.add(prompt[i]);
                    Seq s = new Seq(tenant, toks, pc.chain(tenant));
                    seqs.put(o.seq(), s);
                    assertKvIsOwn(c, o.seq(), s);   // the reused part is exactly what this tenant's tokens give
                    for (int i = o.hitTokens(); i < prompt.length; i++) append(c, o.seq(), s, prompt[i]);
                    pc.publish(s.chain(), o.seq(), toArray(s.tokens()), s.tokens().size());
                } else {
                    int id = open.get(rnd.nextInt(open.size()));
                    Seq s = seqs.get(id);
                    switch (choice) {
                        case 3, 4, 5 -> {
                            int n = 1 + rnd.nextInt(6);
                            for (int i = 0; i < n && s.tokens().size() < 390; i++) append(c, id, s, rnd.nextInt(4));
                            pc.publish(s.chain(), id, toArray(s.tokens()), s.tokens().size());
                        }
                        case 6 -> {      // a press evicts tokens: rewrites into new pages, never into shared ones
                            PressContext ctx = c.pressContext(id);
                            for (int l = 0; l < LAYERS; l++) {
                                for (int h = 0; h < HEADS; h++) {
                                    int n = ctx.tokens(l, h);
                                    int[] keep = java.util.stream.IntStream.range(0, n).filter(i -> rnd.nextInt(3) != 0).toArray();
                                    ctx.keep(l, h, keep);
                                }
                            }
                            // only blocks still stored verbatim may be cached from a compressed sequence; a wrong
                            // one would show as foreign KV in a later opener (assertKvIsOwn)
                            pc.publish(s.chain(), id, toArray(s.tokens()), s.tokens().size());
                        }
                        case 7 -> {
                            int from = rnd.nextInt(s.tokens().size() + 1);
                            c.truncate(id, from);
                            List<Integer> kept = new ArrayList<>(s.tokens().subList(0, from));
                            seqs.put(id, new Seq(s.tenant(), kept, pc.chain(s.tenant())));   // a truncated sequence starts a new chain
                        }
                        case 8 -> pc.evictOne();
                        default -> {
                            c.release(id);
                            seqs.remove(id);
                        }
                    }
                }
                checkInvariants(c, pc, snapshots, capacity);
                for (var e : seqs.entrySet()) assertKvIsOwn(c, e.getKey(), e.getValue());
            }
            for (int id : seqs.keySet()) c.release(id);
            while (pc.evictOne()) { }
            assertThat(pc.blocks()).as("every block is evictable once no sequence is open").isZero();
            assertThat(c.bytesInUse()).isZero();
        }
    }

    /** The KV of every stored position (kept ones after a press too) is this sequence's own (salt, tokens so far). */
    private static void assertKvIsOwn(PagedKvCache c, int id, Seq s) {
        PressContext ctx = c.pressContext(id);
        long[] prefix = prefixHashes(group(s.tenant()), toArray(s.tokens()));
        for (int l = 0; l < LAYERS; l++) {
            for (int h = 0; h < HEADS; h++) {
                int[] pos = ctx.positions(l, h);
                float[] k = ctx.keys(l, h), v = ctx.values(l, h);
                for (int i = 0; i < pos.length; i++) {
                    float[] ek = kv(prefix[pos[i]], l, h, 0), ev = kv(prefix[pos[i]], l, h, 1);
                    for (int d = 0; d < DIM; d++) {
                        if (k[i * DIM + d] != ek[d] || v[i * DIM + d] != ev[d]) {
                            throw new AssertionError("sequence " + id + " (tenant " + s.tenant() + ") reads foreign KV at layer " + l + " head " + h + " position " + pos[i]);
                        }
                    }
                }
            }
        }
    }

    /** Who may share KV, as the test sees it (independent of {@link TenantSalts}, which is under test). */
    static String group(String tenant) {
        return tenant.equals("c") ? "c" : "ab";
    }

    /** Hash of (salt, tokens[0..p]) for every p. */
    static long[] prefixHashes(String salt, int[] toks) {
        long[] r = new long[toks.length];
        long x = PrefixBlockCache.saltHash(salt);
        for (int i = 0; i < toks.length; i++) r[i] = x = x * 31 + toks[i] + 7;
        return r;
    }

    private static void append(PagedKvCache c, int id, Seq s, int token) {
        s.tokens().add(token);
        int[] toks = toArray(s.tokens());
        int pos = toks.length - 1;
        long x = prefixHashes(group(s.tenant()), toks)[pos];
        for (int l = 0; l < LAYERS; l++) {
            float[] k = new float[HEADS * DIM], v = new float[HEADS * DIM];
            for (int h = 0; h < HEADS; h++) {
                System.arraycopy(kv(x, l, h, 0), 0, k, h * DIM, DIM);
                System.arraycopy(kv(x, l, h, 1), 0, v, h * DIM, DIM);
            }
            c.append(l, id, pos, k, 0, v, 0);
        }
    }

    /** A key (kind 0) or value (1) from the hash of (salt, every token up to the position); exact in F16. */
    static float[] kv(long x, int l, int h, int kind) {
        float[] r = new float[DIM];
        for (int d = 0; d < DIM; d++) {
            long z = x * 0x9E3779B97F4A7C15L + (((l * HEADS + h) * 2L + kind) * DIM + d) * 0xBF58476D1CE4E5B9L;
            z ^= z >>> 31;
            r[d] = (int) Math.floorMod(z, 33L) / 4f - 4f;
        }
        return r;
    }

    private static void checkInvariants(PagedKvCache c, PrefixBlockCache pc, Map<Integer, byte[]> snapshots, long capacity) {
        Map<Integer, Integer> owners = new HashMap<>();
        for (int seq : c.openSequences()) {
            for (int l = 0; l < LAYERS; l++) for (int h = 0; h < HEADS; h++) for (int p : c.pages(seq, l, h)) owners.merge(p, 1, Integer::sum);
        }
        List<Integer> held = pc.heldPages();
        for (int p : held) owners.merge(p, 1, Integer::sum);
        PageAllocator a = c.allocator();
        long bytes = 0;
        for (int p = 0; p < a.idLimit(); p++) {
            int owned = owners.getOrDefault(p, 0);
            assertThat(a.refCount(p)).as("reference count of page %d equals its owners (sequences + prefix cache)", p).isEqualTo(owned);
            if (owned > 0) bytes += a.segment(p).byteSize();
        }
        assertThat(a.bytesInUse()).as("bytes in use").isEqualTo(bytes);
        assertThat(pc.counters().bytes()).isEqualTo(pc.blocks() * c.blockBytes()).isLessThanOrEqualTo(capacity);
        assertThat(held).doesNotHaveDuplicates();
        // a page the prefix cache holds is never written again
        snapshots.keySet().retainAll(held);
        for (int p : held) {
            byte[] now = a.segment(p).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            byte[] then = snapshots.putIfAbsent(p, now);
            if (then != null) assertThat(now).as("shared page %d unchanged", p).isEqualTo(then);
        }
    }

    static int[] randomTokens(SplittableRandom rnd, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rnd.nextInt(4);
        return t;
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static int[] toArray(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }
}
