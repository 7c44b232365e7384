package io.kvserve.engine;

import io.kvserve.model.kv.KvCache;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The KV of finished sequences, kept so that a later request of the same tenant with the same prompt
 * prefix (a system prompt, an earlier chat turn) forks it instead of recomputing it. Entries are
 * evicted least recently used first whenever the engine needs their pages. Used by the engine thread only.
 */
final class PrefixCache {
    /** A kept sequence: {@code tokens} are the positions its KV holds. */
    record Entry(String tenant, int[] tokens, int kvSeq, int pages) {}

    /** The longest match: fork {@code kvSeq} up to {@code length}. */
    record Match(int kvSeq, int length) {}

    private final KvCache cache;
    private final int maxEntries;
    private final LinkedHashMap<Integer, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);  // by kvSeq, LRU order
    private int pages;
    private long evictions;

    PrefixCache(KvCache cache, int maxEntries) {
        this.cache = cache;
        this.maxEntries = maxEntries;
    }

    int pages() {
        return pages;
    }

    long evictions() {
        return evictions;
    }

    int size() {
        return entries.size();
    }

    /** Keeps {@code kvSeq} (which now belongs to the cache), or releases it when caching is off. */
    void put(String tenant, int[] tokens, int kvSeq, int entryPages) {
        if (maxEntries == 0 || tokens.length == 0) {
            cache.release(kvSeq);
            return;
        }
        entries.put(kvSeq, new Entry(tenant, tokens, kvSeq, entryPages));
        pages += entryPages;
        while (entries.size() > maxEntries) evictOldest();
    }

    /** Releases the least recently used entry; false when empty. */
    boolean evictOldest() {
        Iterator<Entry> it = entries.values().iterator();
        if (!it.hasNext()) return false;
        Entry e = it.next();
        it.remove();
        pages -= e.pages();
        cache.release(e.kvSeq());
        evictions++;
        return true;
    }

    /** The entry sharing the longest prefix of {@code prompt[0, limit)} with the same tenant, or null. */
    Match longest(String tenant, int[] prompt, int limit) {
        Entry best = null;
        int bestLen = 0;
        for (Entry e : entries.values()) {
            if (!e.tenant().equals(tenant)) continue;
            int l = commonPrefix(prompt, limit, e.tokens(), e.tokens().length);
            if (l > bestLen) {
                bestLen = l;
                best = e;
            }
        }
        if (best == null) return null;
        entries.get(best.kvSeq());   // touch: most recently used
        return new Match(best.kvSeq(), bestLen);
    }

    /** Length of the longest common prefix without touching LRU order (for schedulers' estimates). */
    int peek(String tenant, int[] prompt, int limit) {
        int bestLen = 0;
        for (Entry e : entries.values()) {
            if (e.tenant().equals(tenant)) bestLen = Math.max(bestLen, commonPrefix(prompt, limit, e.tokens(), e.tokens().length));
        }
        return bestLen;
    }

    void clear() {
        List<Entry> all = new ArrayList<>(entries.values());
        entries.clear();
        pages = 0;
        for (Entry e : all) cache.release(e.kvSeq());
    }

    static int commonPrefix(int[] a, int aLen, int[] b, int bLen) {
        int n = Math.min(aLen, bLen), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
