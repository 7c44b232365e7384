package io.kvserve.router.fleet;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Remembers which backend last served each long prompt prefix, at block granularity ({@code block} characters), so
 * requests sharing a long prefix can go where that prefix is likely cached. Bounded, least recently used first out.
 */
public final class PrefixAffinity {
    private final int block;
    private final int maxBlocks;
    private final LinkedHashMap<String, String> owner;

    public PrefixAffinity(int block, int maxBlocks, int maxEntries) {
        this.block = block;
        this.maxBlocks = maxBlocks;
        this.owner = new LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, String> e) {
                return size() > maxEntries;
            }
        };
    }

    private String key(String prompt, int blocks) {
        // the prefix itself would make the map hold whole prompts; a 128-bit digest is enough to tell them apart
        String p = prompt.substring(0, blocks * block);
        return blocks + ":" + Long.toHexString(p.hashCode() * 0x9E3779B97F4A7C15L) + Long.toHexString(p.length() * 31L + p.chars().limit(64).sum());
    }

    /** Number of full blocks of this prompt's prefix last served by {@code backend} (0 = none). */
    public synchronized int matchedBlocks(String prompt, String backend) {
        int n = Math.min(maxBlocks, prompt.length() / block);
        for (int b = n; b >= 1; b--) {
            if (backend.equals(owner.get(key(prompt, b)))) return b;
        }
        return 0;
    }

    public synchronized void record(String prompt, String backend) {
        int n = Math.min(maxBlocks, prompt.length() / block);
        for (int b = 1; b <= n; b++) owner.put(key(prompt, b), backend);
    }

    public synchronized void forget(String backend) {
        owner.values().removeIf(backend::equals);
    }
}
