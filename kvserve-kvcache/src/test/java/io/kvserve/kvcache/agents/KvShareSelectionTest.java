package io.kvserve.kvcache.agents;

import io.kvserve.kvcache.kvcomm.SegmentKvCache;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** KVShare's DHD choice at the check layer: attention received from new tokens times value deviation. */
class KvShareSelectionTest {
    @Test
    void recomputesTheReusedTokenWithTheLargestAttentionWeightedValueDeviation() {
        // 1 head, head dim 1, positions 0 and 1 reused, position 2 new; the cache holds V = 0 for all
        SegmentKvCache cache = new SegmentKvCache(2, 1, 1, 8);
        int seq = cache.open();
        for (int l = 0; l < 2; l++) for (int p = 0; p < 3; p++) cache.append(l, seq, p, new float[] {0}, 0, new float[] {0}, 0);
        int[] rows = {0, 1, 2};
        float[] q = {0, 0, 1}, k = {3, 0, 0}, v = {1, 5, 0};
        boolean[] reused = {true, true, false};
        // the new token's attention: softmax(1 * [3, 0, 0]) = [0.909, 0.045, 0.045]; |dV| = [1, 5]
        // DHD = [0.909, 0.227]: position 0 wins although position 1 deviates more
        int[] keep = KvSharePrefill.select(1, rows, 3, q, k, v, cache, seq, reused, 1, 1, 1, 1);
        assertThat(keep).containsExactly(0, 2);
        // with no attention preference (k = 0) the deviation decides
        keep = KvSharePrefill.select(1, rows, 3, q, new float[] {0, 0, 0}, v, cache, seq, reused, 1, 1, 1, 1);
        assertThat(keep).containsExactly(1, 2);
        // budget 0: only the new token continues
        assertThat(KvSharePrefill.select(1, rows, 3, q, k, v, cache, seq, reused, 0, 1, 1, 1)).containsExactly(2);
    }
}
