package io.kvserve.kvcache.reuse;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class SegmentStoreTest {
    /** A one-layer, one-head, head-dim-2 segment whose key floats encode (token index, layer). */
    static SegmentKv segment(int... tokens) {
        float[][] k = new float[1][tokens.length * 2], v = new float[1][tokens.length * 2];
        for (int i = 0; i < tokens.length; i++) {
            k[0][2 * i] = i;
            v[0][2 * i] = tokens[i];
        }
        return new SegmentKv(tokens, 0, 1, 2, k, v);
    }

    @Test
    void exactLookupIsPerTenantAndContent() {
        SegmentStore store = new SegmentStore(2, Long.MAX_VALUE);
        SegmentKv s = segment(5, 6, 7, 8);
        store.put("a", s);
        assertThat(store.get("a", new int[] {5, 6, 7, 8})).isSameAs(s);
        assertThat(store.get("b", new int[] {5, 6, 7, 8})).isNull();
        assertThat(store.get("a", new int[] {5, 6, 7, 9})).isNull();
        assertThat(store.get("a", new int[] {5, 6, 7})).isNull();
        assertThat(store.findFragments("b", new int[] {1, 5, 6, 7, 8})).isEmpty();
    }

    @Test
    void fragmentsCoverExactlyTheMatchingRuns() {
        SegmentStore store = new SegmentStore(3, Long.MAX_VALUE);
        SegmentKv s = segment(10, 11, 12, 13, 14, 15, 16, 17);
        store.put("t", s);
        // prompt: new prefix, segment tokens 1..4, a new token, segment tokens 5..7, then a too-short run
        int[] prompt = {1, 2, 11, 12, 13, 14, 99, 15, 16, 17, 3, 10, 11};
        List<Fragment> f = store.findFragments("t", prompt);
        assertThat(f).extracting(Fragment::promptStart, Fragment::segmentOffset, Fragment::length)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(2, 1, 4), org.assertj.core.groups.Tuple.tuple(7, 5, 3));
    }

    @Test
    void aDifferingTokenIsNeverReused() {
        // seeded property loop: prompts that copy a stored segment with one token changed
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 200; trial++) {
            SegmentStore store = new SegmentStore(1 + rnd.nextInt(4), Long.MAX_VALUE);
            int len = 8 + rnd.nextInt(40);
            int[] tokens = new int[len];
            for (int i = 0; i < len; i++) tokens[i] = rnd.nextInt(6);   // small vocabulary: many repeats
            store.put("t", segment(tokens));
            int pre = rnd.nextInt(5);
            int[] prompt = new int[pre + len];
            for (int i = 0; i < pre; i++) prompt[i] = 100 + i;
            System.arraycopy(tokens, 0, prompt, pre, len);
            int changed = pre + rnd.nextInt(len);
            prompt[changed] = 6 + rnd.nextInt(3);                      // a token no segment holds
            for (Fragment fr : store.findFragments("t", prompt)) {
                assertThat(changed >= fr.promptStart() && changed < fr.promptEnd()).as("fragment covers the changed token").isFalse();
                for (int i = 0; i < fr.length(); i++) assertThat(prompt[fr.promptStart() + i]).isEqualTo(fr.segment().token(fr.segmentOffset() + i));
            }
        }
    }

    @Test
    void leastRecentlyUsedSegmentsLeaveAtTheBudget() {
        long one = segment(1, 2, 3, 4).bytes();
        SegmentStore store = new SegmentStore(2, 2 * one);
        store.put("t", segment(1, 2, 3, 4));
        store.put("t", segment(5, 6, 7, 8));
        store.get("t", new int[] {1, 2, 3, 4});                         // touch: 5..8 is now the oldest
        store.put("t", segment(9, 10, 11, 12));
        assertThat(store.size()).isEqualTo(2);
        assertThat(store.bytes()).isEqualTo(2 * one);
        assertThat(store.get("t", new int[] {5, 6, 7, 8})).isNull();
        assertThat(store.findFragments("t", new int[] {5, 6, 7, 8})).isEmpty();
        assertThat(store.findFragments("t", new int[] {0, 1, 2, 3, 4})).hasSize(1);
    }
}
