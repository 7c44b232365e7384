package io.kvserve.kvcache.press;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** DynamicKV's budgets on a hand-made window-attention pattern: 2 layers, 2 KV heads of 2 query heads, 6 tokens, window 1. */
class DynamicKvPressTest {
    static final float[][][] PATTERN = {
            {{0.50f, 0.40f, 0.30f, 0.03f, 0.02f, 0.01f}, {0.45f, 0.35f, 0.25f, 0.20f, 0.04f, 0.01f}},
            {{0.19f, 0.18f, 0.17f, 0.16f, 0.15f, 0.01f}, {0.14f, 0.21f, 0.17f, 0.16f, 0.18f, 0.01f}}};

    @Test
    void concentratedLayerGetsTheBudgetAndEachKvHeadChoosesItsOwnTokens() {
        FakeContext c = new FakeContext(2, 2, 2, 2, 6);
        c.windowPositions = new int[] {5};
        for (int l = 0; l < 2; l++) {
            for (int h = 0; h < 2; h++) {
                float[] a = new float[2 * 6];          // (w = 1, group 2, tokens 6): both query heads see the pattern
                System.arraycopy(PATTERN[l][h], 0, a, 0, 6);
                System.arraycopy(PATTERN[l][h], 0, a, 6, 6);
                c.window[l][h] = a;
            }
        }
        // ratio 0.5: 3 kept per head, B = 3 - window 1 = 2, so B L = 4 per head. The global top
        // B heads L = 8 of the 20 scores: .5 .45 .4 .35 .3 .25 (layer 0), .21 (layer 1), .2 (layer 0):
        // 7 in layer 0, 1 in layer 1 -> layer 0 keeps floor(4 * 7/8) = 3, layer 1 the rest, 1
        new DynamicKvPress(0.5, 1, 1, 10, 4).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(0, 1, 2, 5);
        assertThat(c.kept[0][1]).containsExactly(0, 1, 2, 5);
        assertThat(c.kept[1][0]).containsExactly(0, 5);
        assertThat(c.kept[1][1]).containsExactly(1, 5);
        // storage stays per KV head: 2 streams per layer, the total is SnapKV's 2 layers x 2 heads x 3
        int total = 0;
        for (int[][] layer : c.kept) for (int[] head : layer) total += head.length;
        assertThat(total).isEqualTo(12);
    }

    @Test
    void intermediateReallocationTruncatesEarlyLayersForGood() {
        // 3 layers, 1 head, 4 scored tokens each, B = 1, rmax 2, re-allocation after every layer.
        float[][][] s = {{{4, 3, 2, 1}}, {{9, 8, 7, 6}}, {{0.5f, 0.4f, 0.3f, 0.2f}}};
        // layer 0 holds min(2, 4) = 2; re-allocating over layer 0 alone gives it 3, capped at 2.
        // after layer 1 (holds 2): top 2 of layers 0..1 are both layer 1 -> layer 0 drops to 0, layer 1 gets 3, capped 2.
        // last: top 3 of all are layer 1's 9, 8, 7 -> layer 0 floor(0) = 0, layer 1 floor(3) = 3 -> 2, layer 2 gets 3 - 3 = 0.
        assertThat(DynamicKvPress.layerBudgets(s, new int[] {4, 4, 4}, 1, 2, 1)).containsExactly(0, 2, 0);
    }

    @Test
    void badParametersNameTheProblem() {
        assertThatThrownBy(() -> PressRegistry.parse("dynamickv:kernel=4")).hasMessageContaining("kernel must be an odd width");
        assertThatThrownBy(() -> PressRegistry.parse("dynamickv:ratio=1")).hasMessageContaining("ratio");
    }
}
