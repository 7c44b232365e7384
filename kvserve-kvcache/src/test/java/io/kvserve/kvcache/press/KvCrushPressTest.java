package io.kvserve.kvcache.press;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * KVCrush over H2O (recent 0) on 10 tokens and 2 KV heads. Head 0 scores 10..1 (top half 0-4), head 1
 * scores 10,1,9,2,8,3,7,4,6,5 (top half 0,2,4,6,8). Signatures (head0 head1): t0 11, t1 10, t2 11,
 * t3 10, t4 11, t5 00, t6 01, t7 00, t8 01, t9 00.
 */
class KvCrushPressTest {
    @Test
    void representativesAreUniformlySpacedAlongHammingDistanceToTheMeanAnchor() {
        FakeContext c = new FakeContext(1, 2, 2, 1, 10);
        c.attention[0][0] = new float[] {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
        c.attention[0][1] = new float[] {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
        // budget 5 per head: 3 by score, floor(0.4 * 5) = 2 representatives
        PressRegistry.parse("kvcrush:crush=0.4/h2o:ratio=0.5,recent=0").afterPrefill(c);
        // head 0: candidates 3..9, anchor 00 (2 and 3 ones of 7), distances t3 1, t4 2, t5 0, t6 1, t7 0, t8 1, t9 0;
        // sorted t5 t7 t9 t3 t6 t8 t4, stride 7/2 = 3 -> t5 and t3
        assertThat(c.kept[0][0]).containsExactly(0, 1, 2, 3, 5);
        // head 1: candidates 1,3,5,6,7,8,9: sorted t5 t7 t9 t1 t3 t6 t8 -> t5 and t1
        assertThat(c.kept[0][1]).containsExactly(0, 1, 2, 4, 5);
    }

    @Test
    void signaturesAnchorsAndPicks() {
        int[][] pos = {{0, 1, 2, 3}, {0, 2, 3}};
        boolean[][] top = {{true, false, true, false}, {false, true, true}};
        assertThat(KvCrushPress.signature(2, pos, top)).containsExactly(true, true);
        assertThat(KvCrushPress.signature(1, pos, top)).containsExactly(false, false);   // head 1 no longer holds token 1
        boolean[][] sig = {{true, true}, {false, false}, {true, false}, {true, true}, {false, true}};
        // to anchor 11: distances 0 2 1 0 1 -> order 0 3 2 4 1; 2 picks, stride 2 -> 0 and 2
        assertThat(KvCrushPress.representatives(sig, new boolean[] {true, true}, 2)).containsExactly(0, 2);
        assertThat(KvCrushPress.topHalf(new float[] {1, 3, 2, 3})).containsExactly(false, true, false, true);
    }

    @Test
    void keepsTheInnerPressBudgetAndRoundTripsItsSpec() {
        KvPress p = PressRegistry.parse("kvcrush/snapkv:ratio=0.75");
        assertThat(PressRegistry.parse(p.spec()).spec()).isEqualTo(p.spec());
        FakeContext c = new FakeContext(2, 2, 2, 1, 16);
        c.windowPositions = new int[] {15};
        for (int l = 0; l < 2; l++) for (int h = 0; h < 2; h++) {
            float[] a = new float[16];
            for (int t = 0; t < 16; t++) a[t] = (t * 7 + l * 3 + h) % 11;
            c.window[l][h] = a;
        }
        p.afterPrefill(c);
        for (int[][] layer : c.kept) for (int[] head : layer) assertThat(head).hasSize(4).contains(15);
    }
}
