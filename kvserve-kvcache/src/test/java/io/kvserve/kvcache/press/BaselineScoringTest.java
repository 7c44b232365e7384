package io.kvserve.kvcache.press;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Each baseline on a case small enough to work out by hand. */
class BaselineScoringTest {
    @Test
    void streamingLlmKeepsSinksAndTheRecentWindow() {
        FakeContext c = new FakeContext(1, 1, 2, 1, 10);
        new StreamingLlmPress(0.5, 2).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(0, 1, 7, 8, 9);
    }

    @Test
    void h2oKeepsHeavyHittersPlusRecentTokens() {
        FakeContext c = new FakeContext(1, 1, 2, 1, 8);
        c.attention[0][0] = new float[] {5, 0.1f, 3, 0.2f, 0.3f, 0.1f, 0f, 0f};
        // budget 4: recent 0.5 * 4 = 2 tokens (6, 7), heavy hitters 0 and 2
        new H2oPress(0.5, 0.5).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(0, 2, 6, 7);
    }

    @Test
    void snapKvAveragesWindowAttentionPoolsAndKeepsTheWindow() {
        FakeContext c = new FakeContext(1, 1, 2, 2, 6);
        c.windowPositions = new int[] {5};
        // one window query, two heads of the group: mean attention = (0.4, 0, 0, 0.1, 0, 0.5) -> token 0 wins
        c.window[0][0] = new float[] {0.8f, 0, 0, 0, 0, 0.2f, 0, 0, 0, 0.2f, 0, 0.8f};
        new SnapKvPress(0.5, 1, 1).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(0, 3, 5);
        // kernel 3 smooths token 2 up to (0 + 0 + 0.1)/3 and token 1 to (0.4 + 0 + 0)/3: token 1 now beats 3
        float[] pooled = SnapKvPress.pool(new float[] {0.4f, 0, 0, 0.1f, 0, 0.5f}, 3);
        assertThat(pooled[0]).isEqualTo(0.2f);
        assertThat(pooled[1]).isCloseTo(0.4f / 3, org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void tovaUsesOnlyTheLastQuery() {
        FakeContext c = new FakeContext(1, 1, 2, 1, 4);
        c.windowPositions = new int[] {2, 3};
        c.window[0][0] = new float[] {1, 0, 0, 0, /* last */ 0.1f, 0.6f, 0.1f, 0.2f};
        new TovaPress(0.5).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(1, 3);
    }

    @Test
    void keyNormKeepsTheSmallestKeys() {
        FakeContext c = new FakeContext(1, 1, 2, 1, 4);
        c.keys[0][0] = new float[] {3, 4, 0, 1, 1, 1, 10, 0};   // norms 5, 1, 1.41, 10
        new KeyNormPress(0.5).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(1, 2);
    }

    @Test
    void pyramidBudgetsFallLinearlyAndAverageToTheRatio() {
        // n = 100, ratio 0.5: avg 50, min 50/20 = 2.5, max 97.5
        int[] b = new int[5];
        int sum = 0;
        for (int l = 0; l < 5; l++) sum += b[l] = PyramidKvPress.layerBudget(100, l, 5, 0.5, 20);
        assertThat(b).containsExactly(98, 74, 50, 26, 3);
        assertThat(sum).isBetween(249, 251);
        // clamp: ratio 0.1 gives max 175.5 > n, so max = 100 and min = 2 * 90 - 100 = 80
        assertThat(PyramidKvPress.layerBudget(100, 0, 5, 0.1, 20)).isEqualTo(100);
        assertThat(PyramidKvPress.layerBudget(100, 4, 5, 0.1, 20)).isEqualTo(80);
    }

    @Test
    void randomKeepsTheBudgetAndRepeats() {
        FakeContext a = new FakeContext(1, 1, 2, 1, 20), b = new FakeContext(1, 1, 2, 1, 20);
        new RandomPress(0.25, 3).afterPrefill(a);
        new RandomPress(0.25, 3).afterPrefill(b);
        assertThat(a.kept[0][0]).hasSize(15).containsExactly(b.kept[0][0]);
    }

    @Test
    void adaKvSharesOneLayerBudgetAcrossHeadsByScore() {
        FakeContext c = new FakeContext(1, 2, 2, 1, 4);
        // head 0 has one strong token, head 1 spreads its attention: head 1 should get more of the budget
        c.attention[0][0] = new float[] {9, 0, 0, 0};
        c.attention[0][1] = new float[] {3, 3, 3, 0};
        new AdaKvPress(new H2oPress(0.5, 0), 0).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(0);
        assertThat(c.kept[0][1]).containsExactly(0, 1, 2);
    }

    @Test
    void perLayerBudgetsFollowTheList() {
        FakeContext c = new FakeContext(2, 1, 2, 1, 10);
        new PerLayerBudgetPress(new StreamingLlmPress(0, 0), new double[] {0.8, 0.3}).afterPrefill(c);
        assertThat(c.kept[0][0]).containsExactly(2, 3, 4, 5, 6, 7, 8, 9);
        assertThat(c.kept[1][0]).containsExactly(7, 8, 9);
        assertThatThrownBy(() -> new PerLayerBudgetPress(new StreamingLlmPress(0, 0), new double[] {0.5, 0.5, 0.5}).afterPrefill(c))
                .hasMessageContaining("3 fractions but the model has 2 layers");
    }

    @Test
    void badParametersAreClearErrors() {
        assertThatThrownBy(() -> PressRegistry.parse("snapkv:ratio=1.5")).hasMessageContaining("ratio").hasMessageContaining("[0, 1)");
        assertThatThrownBy(() -> PressRegistry.parse("snapkv:kernel=4")).hasMessageContaining("odd");
        assertThatThrownBy(() -> PressRegistry.parse("snapkv:windw=4")).hasMessageContaining("no parameter windw").hasMessageContaining("window");
        assertThatThrownBy(() -> PressRegistry.parse("h2o:ratio=abc")).hasMessageContaining("must be a number");
        assertThatThrownBy(() -> PressRegistry.parse("adakv")).hasMessageContaining("wraps another press");
        assertThatThrownBy(() -> PressRegistry.parse("adakv/quantize:type=q8_0")).hasMessageContaining("wraps a scoring press");
        assertThatThrownBy(() -> PressRegistry.parse("nope:ratio=0.5")).hasMessageContaining("unknown press 'nope'");
        assertThat(PressRegistry.parse("none")).isNull();
        assertThat(PressRegistry.parse("decode:every=4/adakv/snapkv:ratio=0.25>quantize:type=kivi2").spec())
                .isEqualTo("decode:every=4/adakv:safeguard=0.2/snapkv:ratio=0.25,window=32,kernel=5>quantize:type=kivi2,residual=128");
    }
}
