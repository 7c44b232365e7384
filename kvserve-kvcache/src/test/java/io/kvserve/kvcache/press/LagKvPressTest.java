package io.kvserve.kvcache.press;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/** LagKV on a 9-token stream, sinks 1, lag 2: partitions [1,2] [3,4] [5,6] scored, [7,8] the last reference. */
class LagKvPressTest {
    // keys (dim 2); values are all zero in FakeContext, so their softmax is uniform and only keys rank
    static final float[] KEYS = {
            9, 9,          // 0 sink
            1, 2, 2, 0,    // P0, normalised by P1's min (0,0) and max (2,4): z (.5,.5) std 0, z (1,0) std .707 -> token 2
            0, 0, 2, 4,    // P1, by P2's min (1,0) max (4,4): z (-1/3,0) std .236, z (1/3,1) std .471 -> token 4
            1, 0, 4, 4,    // P2, by P3's min (0,0) max (1,1): z (1,0) std .707, z (4,4) std 0 -> token 5
            0, 0, 1, 1};   // P3, reference only: kept whole

    @Test
    void scoresAreWithinPartitionRanksOfLagNormalisedStd() {
        float[] s = LagKvPress.scores(KEYS, new float[KEYS.length], 9, 2, 1, 2);
        assertThat(s).containsExactly(Float.POSITIVE_INFINITY, 0, 0.5f, 0, 0.5f, 0.5f, 0, 1, 1);
        // the softmax inside P0 of the stds (0, 1/sqrt 2)
        float[] p = LagKvPress.lagSoftmax(KEYS, 1, 3, 2, 2);
        double e = Math.exp(Math.sqrt(0.5));
        assertThat(p[0]).isCloseTo((float) (1 / (1 + e)), offset(1e-5f));
        assertThat(p[1]).isCloseTo((float) (e / (1 + e)), offset(1e-5f));
    }

    @Test
    void keepsSinkLastPartitionAndTheSameShareOfEveryScoredPartition() {
        FakeContext c = new FakeContext(1, 1, 2, 1, 9);
        c.keys[0][0] = KEYS.clone();
        // ratio 0.4: floor(3.6) = 3 evicted, 6 kept = sink + P3 + the best of each scored partition
        new LagKvPress(0.4, 1, 2).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(0, 2, 4, 5, 7, 8);
    }

    @Test
    void aStreamShorterThanSinksPlusTwoLagsIsNotScored() {
        float[] s = LagKvPress.scores(new float[8 * 2], new float[8 * 2], 8, 2, 1, 4);
        assertThat(s).containsExactly(Float.POSITIVE_INFINITY, 1, 1, 1, 1, 1, 1, 1);
    }
}
