package io.kvserve.kvcache;

import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Invariants of a paged cache that every operation must keep. */
public final class CacheInvariants {
    private CacheInvariants() {}

    public static void check(PagedKvCache c) {
        Map<Integer, Integer> owners = new HashMap<>();
        for (int seq : c.openSequences()) {
            for (int l = 0; l < c.layers(); l++) {
                for (int h = 0; h < c.kvHeads(); h++) {
                    int[] pos = c.storedPositions(seq, l, h);
                    for (int i = 1; i < pos.length; i++) assertThat(pos[i]).as("positions increase").isGreaterThan(pos[i - 1]);
                    if (pos.length > 0) assertThat(pos[pos.length - 1]).isLessThan(c.length(seq));
                    for (int p : c.pages(seq, l, h)) owners.merge(p, 1, Integer::sum);
                    int state = c.lowRankStatePage(seq, l, h);
                    if (state >= 0) owners.merge(state, 1, Integer::sum);
                }
            }
        }
        PageAllocator a = c.allocator();
        long bytes = 0;
        int pages = 0;
        for (int p = 0; p < a.idLimit(); p++) {
            int owned = owners.getOrDefault(p, 0);
            assertThat(a.refCount(p)).as("reference count of page %d equals its owners (no page both free and owned)", p).isEqualTo(owned);
            assertThat(a.refCount(p)).isGreaterThanOrEqualTo(0);
            if (owned > 0) {
                bytes += a.segment(p).byteSize();
                pages++;
            }
        }
        assertThat(a.bytesInUse()).as("bytes in use").isEqualTo(bytes);
        assertThat(a.pagesInUse()).isEqualTo(pages);
    }
}
