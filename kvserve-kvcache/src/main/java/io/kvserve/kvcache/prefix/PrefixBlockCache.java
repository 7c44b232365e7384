package io.kvserve.kvcache.prefix;

import io.kvserve.kvcache.PageAllocator;
import io.kvserve.kvcache.PagedKvCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The page-level prefix cache over a {@link PagedKvCache}: full pages of identical token prefixes are
 * shared between sequences, vLLM-style. A block is the {@code T} positions of one page in every
 * (layer, KV head) stream; it is keyed by a chain hash {@code hash(parent hash, its T tokens, tenant
 * salt)}, so a block matches only when every token before it matches too. A hit opens the new
 * sequence on the cached pages (reference counted by the {@link PageAllocator}); the sequence then
 * writes only pages of its own (the first position after the shared blocks starts a new page), which
 * is copy-on-write without a copy. Partial last pages are never shared: a prompt that differs from
 * the cached one at token i reuses at most the full pages before i.
 *
 * <p>The cache holds one reference on each page of each block. A block is <em>idle</em> when that
 * reference is the only one; idle leaf blocks (no cached child) are evicted least recently used first,
 * when the capacity in bytes is reached or when the caller needs room. Hash collisions cannot give a
 * wrong hit: a match also compares the tokens, the salt and the parent block.
 *
 * <p>Not thread-safe beyond its counters: one thread (the engine's) drives it; {@link #counters()} may
 * be read from any thread.
 */
public final class PrefixBlockCache {
    /**
     * @param lookups       lookups made ({@link #open})
     * @param lookupTokens  tokens those lookups could have served
     * @param hitTokens     tokens served from cached pages
     * @param evictions     blocks evicted
     * @param blocks        blocks cached now
     * @param bytes         bytes of the cached blocks' pages (shared ones included)
     */
    public record Counters(long lookups, long lookupTokens, long hitTokens, long insertedBlocks, long evictions, int blocks, long bytes,
                           long capacityBytes) {
        /** Share of looked-up tokens served from the cache, in [0, 1]. */
        public double hitRate() {
            return lookupTokens == 0 ? 0 : (double) hitTokens / lookupTokens;
        }
    }

    /** A sequence opened by {@link #open}: its id and the positions that came from cached pages. */
    public record Opened(int seq, int hitTokens) {}

    private static final class Block {
        final long hash;
        final Block parent;
        final int[] tokens;
        final String salt;
        final int[] pages;      // (layers * kvHeads), one cache reference each
        int children;
        boolean evicted;

        Block(long hash, Block parent, int[] tokens, String salt, int[] pages) {
            this.hash = hash;
            this.parent = parent;
            this.tokens = tokens;
            this.salt = salt;
            this.pages = pages;
        }
    }

    /**
     * Where a sequence's published chain ends, so that publishing after every step hashes only the new
     * blocks. Belongs to one sequence; discard it when the sequence is truncated or released.
     */
    public static final class Chain {
        final String salt;
        Block last;
        int blocks;

        Chain(String salt) {
            this.salt = salt;
        }

        /** Blocks of the sequence known to the cache. */
        public int blocks() {
            return blocks;
        }
    }

    private final PagedKvCache cache;
    private final PageAllocator alloc;
    private final long capacityBytes;
    private final TenantSalts salts;
    private final int tokensPerBlock;
    private final long blockBytes;
    private final Map<Long, Block> byHash = new HashMap<>();
    private final LinkedHashMap<Block, Boolean> lru = new LinkedHashMap<>(16, 0.75f, true);   // least recently used first
    private long lookups, lookupTokens, hitTokens, inserted, evictions;
    private volatile Counters counters;

    /**
     * @param capacityBytes  most bytes the cached blocks' pages may take; 0 turns the cache off
     * @param salts          which tenants share prefixes
     */
    public PrefixBlockCache(PagedKvCache cache, long capacityBytes, TenantSalts salts) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.salts = Objects.requireNonNull(salts, "salts");
        if (capacityBytes < 0) throw new IllegalArgumentException("prefix cache capacity must be >= 0 bytes, got " + capacityBytes);
        this.alloc = cache.allocator();
        this.capacityBytes = capacityBytes;
        this.tokensPerBlock = cache.tokensPerPage();
        this.blockBytes = cache.blockBytes();
        publishCounters();
    }

    public int tokensPerBlock() {
        return tokensPerBlock;
    }

    public long blockBytes() {
        return blockBytes;
    }

    // ---- hashing ----

    /** The chain hash of a block: its parent's hash (or the salt's, for the first block) mixed with its tokens. */
    static long blockHash(long parentHash, int[] tokens, int from, int count) {
        long h = mix(parentHash ^ 0x9E3779B97F4A7C15L);
        for (int i = 0; i < count; i++) h = mix(h ^ (tokens[from + i] * 0xC2B2AE3D27D4EB4FL + i));
        return h;
    }

    static long saltHash(String salt) {
        long h = 0xCBF29CE484222325L;
        for (int i = 0; i < salt.length(); i++) h = mix(h ^ salt.charAt(i));
        return h;
    }

    private static long mix(long z) {       // SplitMix64's finaliser
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The cached block following {@code parent} with these tokens and salt, or null. */
    private Block find(Block parent, String salt, long saltHash, int[] tokens, int from) {
        long h = blockHash(parent != null ? parent.hash : saltHash, tokens, from, tokensPerBlock);
        Block b = byHash.get(h);
        if (b == null || b.parent != parent || !b.salt.equals(salt)
                || !Arrays.equals(b.tokens, 0, tokensPerBlock, tokens, from, from + tokensPerBlock)) return null;
        return b;
    }

    /** The cached chain matching the longest run of full blocks of {@code tokens[0, limit)}. */
    private List<Block> match(String salt, int[] tokens, int limit) {
        List<Block> chain = new ArrayList<>();
        if (capacityBytes == 0) return chain;
        long sh = saltHash(salt);
        Block parent = null;
        for (int b = 0; (b + 1) * tokensPerBlock <= limit; b++) {
            Block next = find(parent, salt, sh, tokens, b * tokensPerBlock);
            if (next == null) break;
            chain.add(next);
            parent = next;
        }
        return chain;
    }

    // ---- what the engine calls ----

    /** Tokens of {@code tokens[0, limit)} a lookup would serve now; changes neither counters nor LRU order (for schedulers). */
    public int peek(String tenant, int[] tokens, int limit) {
        return match(salts.salt(tenant), tokens, limit).size() * tokensPerBlock;
    }

    /**
     * Opens a sequence for a request of {@code tenant} whose known tokens are {@code tokens[0, limit)}
     * (a caller that needs logits of the last token passes one less): on the cached pages of the
     * longest matching run of full blocks, or empty.
     */
    public Opened open(String tenant, int[] tokens, int limit) {
        List<Block> chain = match(salts.salt(tenant), tokens, limit);
        List<int[]> pages = new ArrayList<>(chain.size());
        for (Block b : chain) {
            lru.get(b);     // touch
            pages.add(b.pages);
        }
        int seq = chain.isEmpty() ? cache.open() : cache.openWithBlocks(pages);
        int hit = chain.size() * tokensPerBlock;
        lookups++;
        lookupTokens += Math.max(0, limit);
        hitTokens += hit;
        publishCounters();
        return new Opened(seq, hit);
    }

    /** A chain cursor for a sequence of {@code tenant}, to {@link #publish} its blocks as they fill. */
    public Chain chain(String tenant) {
        return new Chain(salts.salt(tenant));
    }

    /**
     * Offers the full blocks of {@code seq} among its first {@code length} positions (whose tokens
     * are {@code tokens}) that {@code chain} has not seen yet. A block already cached (the same
     * tokens after the same prefix) is kept and the sequence's copy stays private; a new one is
     * cached on the sequence's pages. Stops at the first block that cannot be shared (see
     * {@link PagedKvCache#shareBlock}) or that does not fit the capacity even after evicting.
     */
    public void publish(Chain chain, int seq, int[] tokens, int length) {
        if (capacityBytes == 0) return;
        try {
            extend(chain, seq, tokens, length);
        } finally {
            publishCounters();
        }
    }

    private void extend(Chain chain, int seq, int[] tokens, int length) {
        if (chain.last != null && chain.last.evicted) {   // cannot happen while seq holds the pages, but stay correct
            chain.last = null;
            chain.blocks = 0;
        }
        long sh = saltHash(chain.salt);
        while ((chain.blocks + 1) * tokensPerBlock <= length) {
            int from = chain.blocks * tokensPerBlock;
            Block known = find(chain.last, chain.salt, sh, tokens, from);
            if (known == null) {
                if (byHash.containsKey(blockHash(chain.last != null ? chain.last.hash : sh, tokens, from, tokensPerBlock))) return;  // a collision: leave it
                if (!makeRoomForBlock()) return;
                int[] pages = cache.shareBlock(seq, chain.blocks);
                if (pages == null) return;
                known = new Block(blockHash(chain.last != null ? chain.last.hash : sh, tokens, from, tokensPerBlock), chain.last,
                        Arrays.copyOfRange(tokens, from, from + tokensPerBlock), chain.salt, pages);
                byHash.put(known.hash, known);
                if (chain.last != null) chain.last.children++;
                inserted++;
            }
            lru.put(known, Boolean.TRUE);
            chain.last = known;
            chain.blocks++;
        }
    }

    private boolean makeRoomForBlock() {
        while ((long) (byHash.size() + 1) * blockBytes > capacityBytes) {
            if (!evictOne()) return false;
        }
        return true;
    }

    /** Blocks whose pages nobody but the cache references: free memory on demand. */
    public int idleBlocks() {
        int n = 0;
        for (Block b : byHash.values()) if (idle(b)) n++;
        return n;
    }

    private boolean idle(Block b) {
        return alloc.soleOwner(b.pages);
    }

    /** Evicts the least recently used idle leaf block; false when there is none. */
    public boolean evictOne() {
        Iterator<Block> it = lru.keySet().iterator();
        while (it.hasNext()) {
            Block b = it.next();
            if (b.children == 0 && idle(b)) {
                it.remove();
                byHash.remove(b.hash);
                if (b.parent != null) b.parent.children--;
                b.evicted = true;
                for (int p : b.pages) alloc.release(p);
                evictions++;
                publishCounters();
                return true;
            }
        }
        return false;
    }

    /** Releases every block (pages still used by sequences stay theirs). */
    public void clear() {
        for (Block b : byHash.values()) {
            b.evicted = true;
            for (int p : b.pages) alloc.release(p);
        }
        byHash.clear();
        lru.clear();
        publishCounters();
    }

    public int blocks() {
        return byHash.size();
    }

    public Counters counters() {
        return counters;
    }

    private void publishCounters() {
        counters = new Counters(lookups, lookupTokens, hitTokens, inserted, evictions, byHash.size(), byHash.size() * blockBytes, capacityBytes);
    }

    // ---- for invariant checks ----

    /** Every page the cache holds a reference on, one entry per reference. */
    public List<Integer> heldPages() {
        List<Integer> r = new ArrayList<>();
        for (Block b : byHash.values()) for (int p : b.pages) r.add(p);
        return r;
    }
}
