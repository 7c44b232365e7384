package io.kvserve.kvcache.agents;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Prefix caching only: the longest identical token prefix of any earlier prompt is forked
 * ({@code KvCache.fork}, exact reuse), the rest is prefilled. Keeps the last {@code capacity}
 * prompts. At least the last prompt token is recomputed, for its logits.
 */
public final class PrefixCachePrefill implements PrefillMode {
    private final AgentRuntime rt;
    private final int capacity;
    private final Deque<Cached> cached = new ArrayDeque<>();

    private record Cached(int seq, int[] tokens) {}

    public PrefixCachePrefill(AgentRuntime rt, int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("prefix cache capacity must be >= 1, got " + capacity);
        this.rt = rt;
        this.capacity = capacity;
    }

    @Override public String name() { return "prefix"; }

    @Override
    public Prefill prefill(String agent, AgentPrompt p) {
        int[] t = p.tokens();
        long t0 = System.nanoTime();
        Cached best = null;
        int bestLen = 0;
        for (Cached c : cached) {
            int n = Math.min(Math.min(c.tokens.length, t.length - 1), t.length);
            int i = 0;
            while (i < n && c.tokens[i] == t[i]) i++;
            if (i > bestLen) {
                bestLen = i;
                best = c;
            }
        }
        int seq = best == null ? rt.cache().open() : rt.cache().fork(best.seq, bestLen);
        float[] logits = rt.prefill(seq, t, bestLen, t.length);
        long nanos = System.nanoTime() - t0;
        // keep this prompt for later requests (outside the timed region)
        cached.addLast(new Cached(rt.cache().fork(seq, t.length), t.clone()));
        if (cached.size() > capacity) rt.cache().release(cached.removeFirst().seq);
        return new Prefill(seq, logits, t.length - bestLen, nanos, best == null);
    }
}
