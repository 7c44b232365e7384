package io.kvserve.kvcache.reuse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Segment KV computed once, keyed by tenant and exact token content (KVShare's KV store and
 * retriever). {@link #get} finds a whole segment; {@link #findFragments} finds, with a rolling hash
 * over windows of {@link #minFragment} tokens, every run of a prompt that equals a run of a stored
 * segment of the same tenant, verified token by token, so a differing token is never reused.
 * Least recently used segments leave when the stored bytes pass the budget. Thread-safe.
 */
public final class SegmentStore {
    /** Shortest fragment {@link #findFragments} reports unless given (KVShare card, unverified). */
    public static final int DEFAULT_MIN_FRAGMENT = 16;
    private static final long BASE = 0x100000001B3L;

    private record Key(String tenant, int[] tokens) {
        @Override public boolean equals(Object o) {
            return o instanceof Key k && k.tenant.equals(tenant) && Arrays.equals(k.tokens, tokens);
        }
        @Override public int hashCode() {
            return 31 * tenant.hashCode() + Arrays.hashCode(tokens);
        }
    }

    private record WindowRef(SegmentKv segment, int offset) {}

    private final int minFragment;
    private final long maxBytes;
    private final LinkedHashMap<Key, SegmentKv> segments = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<String, Map<Long, List<WindowRef>>> windows = new HashMap<>();
    private long bytes;

    /**
     * @param minFragment shortest run of tokens {@link #findFragments} reuses (>= 1)
     * @param maxBytes    most bytes of KV held before least recently used segments leave
     */
    public SegmentStore(int minFragment, long maxBytes) {
        if (minFragment < 1) throw new IllegalArgumentException("minimum fragment length must be >= 1, got " + minFragment);
        if (maxBytes < 1) throw new IllegalArgumentException("segment store budget must be >= 1 byte, got " + maxBytes);
        this.minFragment = minFragment;
        this.maxBytes = maxBytes;
    }

    /** Fragments of at least 16 tokens, unbounded bytes. */
    public SegmentStore() {
        this(DEFAULT_MIN_FRAGMENT, Long.MAX_VALUE);
    }

    public int minFragment() {
        return minFragment;
    }

    /** Stores (or replaces) the segment under {@code tenant} and its tokens. */
    public synchronized void put(String tenant, SegmentKv segment) {
        Objects.requireNonNull(tenant, "tenant");
        Key key = new Key(tenant, segment.tokens());
        SegmentKv old = segments.remove(key);
        if (old != null) unindex(tenant, old);
        segments.put(key, segment);
        bytes += segment.bytes();
        index(tenant, segment);
        Iterator<Map.Entry<Key, SegmentKv>> it = segments.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            Map.Entry<Key, SegmentKv> e = it.next();
            if (e.getValue() == segment) continue;
            it.remove();
            unindex(e.getKey().tenant, e.getValue());
        }
    }

    /** The segment of {@code tenant} with exactly these tokens, or null. */
    public synchronized SegmentKv get(String tenant, int[] tokens) {
        return segments.get(new Key(tenant, tokens));
    }

    /** Removes the segment; true if it was stored. */
    public synchronized boolean remove(String tenant, int[] tokens) {
        SegmentKv old = segments.remove(new Key(tenant, tokens));
        if (old != null) unindex(tenant, old);
        return old != null;
    }

    public synchronized int size() {
        return segments.size();
    }

    /** Bytes of KV held. */
    public synchronized long bytes() {
        return bytes;
    }

    /**
     * Non-overlapping runs of {@code prompt} (left to right, each as long as possible, at least
     * {@link #minFragment} tokens) that equal runs of segments stored under {@code tenant}.
     */
    public synchronized List<Fragment> findFragments(String tenant, int[] prompt) {
        List<Fragment> out = new ArrayList<>();
        Map<Long, List<WindowRef>> index = windows.get(tenant);
        int m = minFragment;
        if (index == null || prompt.length < m) return out;
        long[] prefix = prefixHashes(prompt);
        long pow = power(m);
        int i = 0;
        while (i + m <= prompt.length) {
            List<WindowRef> refs = index.get(prefix[i + m] - prefix[i] * pow);
            Fragment best = null;
            if (refs != null) {
                for (WindowRef ref : refs) {
                    SegmentKv s = ref.segment;
                    if (!s.sameTokens(ref.offset, prompt, i, m)) continue;    // hash collision
                    int len = m;
                    while (ref.offset + len < s.length() && i + len < prompt.length && s.token(ref.offset + len) == prompt[i + len]) len++;
                    if (best == null || len > best.length()) best = new Fragment(i, s, ref.offset, len);
                }
            }
            if (best != null) {
                out.add(best);
                i = best.promptEnd();
            } else {
                i++;
            }
        }
        return out;
    }

    private void index(String tenant, SegmentKv s) {
        if (s.length() < minFragment) return;
        Map<Long, List<WindowRef>> index = windows.computeIfAbsent(tenant, t -> new HashMap<>());
        int[] t = s.tokens();
        long[] prefix = prefixHashes(t);
        long pow = power(minFragment);
        for (int off = 0; off + minFragment <= t.length; off++) {
            index.computeIfAbsent(prefix[off + minFragment] - prefix[off] * pow, h -> new ArrayList<>()).add(new WindowRef(s, off));
        }
    }

    private void unindex(String tenant, SegmentKv s) {
        bytes -= s.bytes();
        Map<Long, List<WindowRef>> index = windows.get(tenant);
        if (index == null) return;
        index.values().forEach(list -> list.removeIf(r -> r.segment == s));
        index.values().removeIf(List::isEmpty);
    }

    /** Polynomial hashes of every prefix: hash(a..b) = prefix[b] - prefix[a] * BASE^(b-a), mod 2^64. */
    private static long[] prefixHashes(int[] t) {
        long[] h = new long[t.length + 1];
        for (int i = 0; i < t.length; i++) h[i + 1] = h[i] * BASE + (t[i] + 1L);
        return h;
    }

    private static long power(int e) {
        long p = 1;
        for (int i = 0; i < e; i++) p *= BASE;
        return p;
    }
}
