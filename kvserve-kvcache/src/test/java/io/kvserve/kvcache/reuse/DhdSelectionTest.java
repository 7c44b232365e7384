package io.kvserve.kvcache.reuse;

import io.kvserve.model.Batch;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.RopeLayout;
import io.kvserve.model.kv.ContiguousKvCache;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The check-layer selection on a case small enough to do by hand: one layer, one head, head dim 2;
 * positions 0..3 reused, position 4 new (the only query). The query (sqrt2 ln2, 0) against fresh keys
 * with x = 0, 1, 2, 0, 0 gives softmax weights 1, 2, 4, 1, 1 over 9, so alpha = (1, 2, 4, 1) / 9.
 * Value deviations ||dV||_1 = (3, 2, 1, 2.5): DHD scores alpha * dV = (3, 4, 4, 2.5) / 9 -> top half
 * {1, 2}; deviation alone would pick {0, 3}. Key deviations ||dK||^2 = (1, 0, 4, 0.25) -> CacheBlend
 * picks {0, 2}.
 */
class DhdSelectionTest {
    static final ModelConfig ONE_HEAD = new ModelConfig("llama", 2, 1, 1, 1, 2, 4, 8, 16, 1e-5f, 10000f, 2, RopeLayout.ADJACENT_PAIRS, null, 1f);

    static int[] select(KvShare share, KvShareSession[] out) {
        ContiguousKvCache cache = new ContiguousKvCache(1, 1, 2, 16);
        int seq = cache.open();
        float[] freshK = {0, 0, 1, 0, 2, 0, 0, 0, 0, 0};
        float[] keyShift = {1, 0, 0, 0, 2, 0, 0.5f, 0};
        float[] freshV = {3, 0, 0, 2, -1, 0, 1, 1.5f, 7, 7};
        for (int p = 0; p < 4; p++) {
            float[] oldK = {freshK[2 * p] + keyShift[2 * p], freshK[2 * p + 1]};
            cache.append(0, seq, p, oldK, 0, new float[2], 0);                       // old values are zero
        }
        cache.append(0, seq, 4, new float[2], 0, new float[2], 0);                    // placeholder of the new token
        int[] prompt = {1, 2, 3, 4, 5};
        boolean[] reused = {true, true, true, true, false};
        KvShareSession s = new KvShareSession(share, null, ONE_HEAD, cache, seq, prompt, reused);
        out[0] = s;
        float[] q = new float[10];
        q[8] = (float) (Math.sqrt(2) * Math.log(2));
        Batch b = new Batch(prompt, new int[5], new int[] {0, 1, 2, 3, 4}, new boolean[] {false, false, false, false, true}, 5);
        return s.selectAtPrefill(0, b, new int[] {0, 1, 2, 3, 4}, 5, q, freshK, freshV, cache);
    }

    @Test
    void dhdWeighsValueDeviationByAttention() {
        KvShareSession[] s = new KvShareSession[1];
        int[] keep = select(new KvShare(0.5, 1, 0, KvShare.Selection.DHD), s);
        assertThat(keep).containsExactly(1, 2, 4);                                   // the new token always continues
        assertThat(s[0].attention(0)).isCloseTo(1 / 9.0, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(s[0].attention(2)).isCloseTo(4 / 9.0, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(s[0].deviation(3)).isCloseTo(2.5, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(s[0].recomputedPositions()).containsExactly(1, 2);
        assertThat(s[0].prefillRecomputed()).isEqualTo(2);
        // decode stage: the remaining reused tokens by alpha * dV: 0 (3/9) before 3 (2.5/9)
        assertThat(s[0].nextDecodeRecompute()).containsExactly(0);
    }

    @Test
    void cacheBlendRanksBySquaredKeyDeviation() {
        int[] keep = select(new KvShare(0.5, 0, 0, KvShare.Selection.KEY_DEVIATION), new KvShareSession[1]);
        assertThat(keep).containsExactly(0, 2, 4);
    }

    @Test
    void ratioZeroAndOneAreTheEnds() {
        assertThat(select(new KvShare(0, 0, 0, KvShare.Selection.DHD), new KvShareSession[1])).containsExactly(4);
        assertThat(select(new KvShare(1, 0, 0, KvShare.Selection.DHD), new KvShareSession[1])).containsExactly(0, 1, 2, 3, 4);
        assertThat(select(new KvShare(0.25, 0, 0, KvShare.Selection.DHD), new KvShareSession[1])).containsExactly(1, 4);   // tie: lower position
    }

    @Test
    void parsingAndBadParameters() {
        assertThat(KvShare.parse("kvshare")).isEqualTo(new KvShare());
        assertThat(KvShare.parse("kvshare:ratio=0.3,decode=0,check=2")).isEqualTo(new KvShare(0.3, 0, 2, KvShare.Selection.DHD));
        assertThat(KvShare.parse("cacheblend:ratio=0.15")).isEqualTo(new KvShare(0.15, 0, 1, KvShare.Selection.KEY_DEVIATION));
        assertThat(KvShare.parse("naive")).isEqualTo(new KvShare(0, 0, 1, KvShare.Selection.NONE));
        assertThatThrownBy(() -> KvShare.parse("kvshare:ratio=1.5")).hasMessageContaining("ratio must be in [0, 1]");
        assertThatThrownBy(() -> KvShare.parse("kvshare:ratio=abc")).hasMessageContaining("needs a number");
        assertThatThrownBy(() -> KvShare.parse("kvshare:foo=1")).hasMessageContaining("unknown reuse parameter 'foo'");
        assertThatThrownBy(() -> KvShare.parse("epic")).hasMessageContaining("unknown reuse method 'epic'");
    }
}
