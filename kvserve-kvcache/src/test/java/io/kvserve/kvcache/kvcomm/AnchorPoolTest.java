package io.kvserve.kvcache.kvcomm;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** KVCOMM's anchor decisions, delta weights and pool updates on hand-computed cases (1 head, 1 channel). */
class AnchorPoolTest {

    /** A (layers, 1 head, tokens, 1 channel) segment whose keys and values are both {@code xs} on every layer. */
    static KvSegment seg(int layers, double... xs) {
        KvSegment s = new KvSegment(layers, 1, 1, xs.length);
        for (int l = 0; l < layers; l++) {
            for (int t = 0; t < xs.length; t++) {
                s.setKey(l, 0, t, 0, (float) xs[t]);
                s.setValue(l, 0, t, 0, (float) xs[t]);
            }
        }
        return s;
    }

    static double entropyBits(double... p) {
        double e = 0;
        for (double x : p) e -= x * Math.log(x) / Math.log(2);
        return e;
    }

    @Test
    void emptyOrSingleAnchorPoolMakesEveryMessageAnAnchor() {
        AnchorPool pool = new AnchorPool(KvcommConfig.defaults());
        assertThat(pool.decide(seg(1, 0)).becomesAnchor()).isTrue();
        pool.add("a", seg(1, 0));
        assertThat(pool.decide(seg(1, 0)).becomesAnchor()).isTrue();   // one anchor: still an anchor, even when identical
    }

    @Test
    void confidentMatchIsReusedAndActivatesOnlyTheNucleus() {
        AnchorPool pool = new AnchorPool(KvcommConfig.defaults());
        Anchor a0 = pool.add("a0", seg(1, 0)), a1 = pool.add("a1", seg(1, 10));
        AnchorPool.Decision d = pool.decide(seg(1, 0));
        // diff = [0, 10]: p = [1/(1+e^-10), e^-10/(1+e^-10)], entropy ~ 0.0007 bits <= 0.3 * log2(2)
        double p0 = 1 / (1 + Math.exp(-10));
        assertThat(d.becomesAnchor()).isFalse();
        assertThat(d.probabilities()[0]).isCloseTo(p0, within(1e-9));
        assertThat(d.entropy()).isCloseTo(entropyBits(p0, 1 - p0), within(1e-9));
        assertThat(d.threshold()).isCloseTo(0.3, within(1e-12));
        assertThat(d.activated()).containsExactly(a0);
        assertThat(a0.activations()).isEqualTo(1);
        assertThat(a1.activations()).isZero();
    }

    @Test
    void ambiguousMatchAboveTheEntropyThresholdBecomesAnAnchor() {
        AnchorPool pool = new AnchorPool(KvcommConfig.defaults());
        pool.add("a0", seg(1, 0));
        pool.add("a1", seg(1, 1));
        // diff = [0.2, 0.8]: p = softmax(-0.2, -0.8) = [0.6457, 0.3543], entropy 0.938 bits > 0.3
        AnchorPool.Decision d = pool.decide(seg(1, 0.2));
        double p0 = 1 / (1 + Math.exp(-0.6));
        assertThat(d.entropy()).isCloseTo(entropyBits(p0, 1 - p0), within(1e-6)).isGreaterThan(0.3);
        assertThat(d.becomesAnchor()).isTrue();
        assertThat(pool.anchors()).allMatch(a -> a.activations() == 0);
    }

    @Test
    void onlyAnchorsAtLeastAsLongAsTheMessageAreCandidatesAndDistancesUseTheirFirstTokens() {
        AnchorPool pool = new AnchorPool(KvcommConfig.defaults());
        Anchor shortOne = pool.add("short", seg(1, 0));
        Anchor near = pool.add("near", seg(1, 1, 2, 99));     // first two tokens match exactly
        Anchor far = pool.add("far", seg(1, 9, 9, 0));
        AnchorPool.Decision d = pool.decide(seg(1, 1, 2));
        assertThat(d.available()).containsExactly(near, far);
        assertThat(d.becomesAnchor()).isFalse();
        assertThat(d.activated()).containsExactly(near);
        assertThat(shortOne.activations()).isZero();
        // longer than every anchor: no candidate, so it becomes an anchor
        assertThat(pool.decide(seg(1, 1, 2, 3, 4)).becomesAnchor()).isTrue();
    }

    @Test
    void nucleusTakesAnchorsWhileTheCumulativeMassStaysBelowTopP() {
        AnchorPool pool = new AnchorPool(new KvcommConfig(1.0, 20, 5, 1.0, 0.9));
        Anchor a0 = pool.add("a0", seg(1, 0)), a1 = pool.add("a1", seg(1, 0.5)), a2 = pool.add("a2", seg(1, 1));
        // diff = [0, 0.5, 1]: p = [0.5065, 0.3072, 0.1863]; cumulative 0.5065, 0.8137 (< 0.9), 1.0
        // entropy 1.472 bits <= 1.0 * log2(3) = 1.585: reusable
        AnchorPool.Decision d = pool.decide(seg(1, 0));
        double z = 1 + Math.exp(-0.5) + Math.exp(-1);
        assertThat(d.probabilities()).containsExactly(new double[] {1 / z, Math.exp(-0.5) / z, Math.exp(-1) / z}, within(1e-9));
        assertThat(d.becomesAnchor()).isFalse();
        assertThat(d.activated()).containsExactly(a0, a1);
        assertThat(List.of(a0.activations(), a1.activations(), a2.activations())).containsExactly(1, 1, 0);
    }

    @Test
    void overfullPoolEvictsTheLeastActivatedAmongTheOldestWindow() {
        AnchorPool pool = new AnchorPool(new KvcommConfig(0.3, 3, 2, 1.0, 0.9));
        Anchor a0 = pool.add("a0", seg(1, 0)), a1 = pool.add("a1", seg(1, 1)), a2 = pool.add("a2", seg(1, 2));
        a0.activations = 2;
        a1.activations = 1;
        Anchor a3 = pool.add("a3", seg(1, 3));       // 4 > 3: window {a0, a1}, a1 has fewer activations
        assertThat(pool.anchors()).containsExactly(a0, a2, a3);
        Anchor a4 = pool.add("a4", seg(1, 4));       // window {a0, a2}: a2 (0) goes, although a3 (0) is as cold: it is outside the window
        assertThat(pool.anchors()).containsExactly(a0, a3, a4);
        a3.activations = 5;
        a4.activations = 5;
        Anchor a5 = pool.add("a5", seg(1, 5));       // window {a0 (2), a3 (5)}: a0
        assertThat(pool.anchors()).containsExactly(a3, a4, a5);
        assertThat(pool.find("a0")).isNull();
    }

    @Test
    void placeholderWeightsAreASoftmaxOverMeanAbsoluteDistancePerToken() {
        AnchorPool pool = new AnchorPool(KvcommConfig.defaults());
        pool.add("a", seg(1, 0, 5));
        pool.add("b", seg(1, 1, 5, 7));
        double[][] w = AnchorPool.placeholderWeights(seg(1, 0, 4), pool.anchors(), 1.0, false);
        // token 0: dist [0, 1] -> [0.7311, 0.2689]; token 1: dist [1, 1] -> [0.5, 0.5]
        assertThat(w[0]).containsExactly(new double[] {1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))}, within(1e-9));
        assertThat(w[1]).containsExactly(new double[] {0.5, 0.5}, within(1e-9));
        // tau = 2 halves the distances
        double[][] w2 = AnchorPool.placeholderWeights(seg(1, 0, 4), pool.anchors(), 2.0, false);
        assertThat(w2[0][0]).isCloseTo(1 / (1 + Math.exp(-0.5)), within(1e-9));
    }

    @Test
    void prefixWeightsUseTheL2NormOverTheLastTokensOfEachAnchor() {
        AnchorPool pool = new AnchorPool(KvcommConfig.defaults());
        pool.add("a", seg(1, 100, 3, 4));   // last two tokens (3, 4): distance 5 from (0, 0)
        pool.add("b", seg(1, 0, 1));        // distance 1
        double[][][][] w = AnchorPool.prefixWeights(seg(1, 0, 0), pool.anchors(), 1.0, true);
        double wa = Math.exp(-4) / (1 + Math.exp(-4));
        assertThat(w[0][0][0]).containsExactly(new double[] {wa, 1 - wa}, within(1e-9));
    }

    @Test
    void estimateMixesTheAgentsDeltasByTheWeightsAndLeavesLayerZeroUncorrected() {
        AnchorPool pool = new AnchorPool(KvcommConfig.defaults());
        Anchor a = pool.add("a", seg(2, 0)), b = pool.add("b", seg(2, 1));
        // deltas: anchor a +10 everywhere, anchor b +20 (layer 0 too, so that a layer-0 correction would show)
        a.setDeltas("lily", new Anchor.Deltas(seg(2, 10), seg(2, 10, 10)));
        b.setDeltas("lily", new Anchor.Deltas(seg(2, 20), seg(2, 20, 20)));
        b.setDeltas("tom", new Anchor.Deltas(seg(2, 99), seg(2, 99, 99)));
        assertThat(pool.usable(1, "lily")).containsExactly(a, b);
        assertThat(pool.usable(1, "tom")).containsExactly(b);
        Anchor.Deltas est = AnchorPool.estimate(seg(2, 0), pool.usable(1, "lily"), "lily", 1.0, 2);
        double wa = 1 / (1 + Math.exp(-1));      // distance [0, 1] for both weight kinds
        double expected = wa * 10 + (1 - wa) * 20;
        assertThat(est.placeholder().key(1, 0, 0, 0)).isCloseTo((float) expected, within(1e-4f));
        assertThat(est.placeholder().value(1, 0, 0, 0)).isCloseTo((float) expected, within(1e-4f));
        assertThat(est.prefix().key(1, 0, 1, 0)).isCloseTo((float) expected, within(1e-4f));
        assertThat(est.placeholder().key(0, 0, 0, 0)).isZero();
        assertThat(est.prefix().value(0, 0, 1, 0)).isZero();
        KvSegment target = seg(2, 1);
        AnchorPool.addDelta(target, seg(2, 5));
        assertThat(target.key(0, 0, 0, 0)).isEqualTo(1f);          // layer 0 never corrected
        assertThat(target.key(1, 0, 0, 0)).isEqualTo(6f);
    }
}
