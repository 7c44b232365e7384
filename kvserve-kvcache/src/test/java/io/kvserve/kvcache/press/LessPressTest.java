package io.kvserve.kvcache.press;

import io.kvserve.kvcache.AttentionFeatureMap;
import io.kvserve.kvcache.CacheInvariants;
import io.kvserve.kvcache.KvElementType;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** LESS's bookkeeping through the press, on one stream whose evictions are worked out by hand. */
class LessPressTest {
    static final int D = 2, RANK = 4;

    static float[] key(int p) {
        return new float[] {(float) Math.sin(p), (float) Math.cos(0.5 * p)};
    }

    static float[] value(int p) {
        return new float[] {p, -2f * p};
    }

    static void append(PagedKvCache c, int p) {
        c.append(0, 0, p, key(p), 0, value(p), 0);
    }

    /** The state the positions should have left: z = sum psi(k_p), H = sum psi(k_p)^T v_p. */
    static float[] expectedState(AttentionFeatureMap map, int... positions) {
        float[] s = new float[RANK * (D + 1)];
        float[] psi = new float[RANK];
        for (int p : positions) {
            map.key(key(p), 0, psi);
            for (int a = 0; a < RANK; a++) {
                for (int c = 0; c < D; c++) s[a * D + c] += psi[a] * value(p)[c];
                s[RANK * D + a] += psi[a];
            }
        }
        return s;
    }

    @Test
    void absorbsExactlyWhatStreamingLlmEvictsAfterPrefillAndDuringDecode() {
        LessPress press = (LessPress) PressRegistry.parse("less:rank=4,map=random/decode:every=2/streamingllm:ratio=0.5,sinks=1");
        AttentionFeatureMap map = LessFeatureMaps.random(1, 1, D, RANK, 0).map(0, 0);
        try (PagedKvCache c = new PagedKvCache(1, 1, D, 1, 64, KvStorage.of(KvElementType.F32), 4, 1 << 20, press)) {
            c.open();
            for (int p = 0; p < 10; p++) append(c, p);
            c.stepDone(0);
            // 10 tokens, ratio 0.5: keep 5 = the sink 0 and the recent 6..9; absorb 1..5
            assertThat(c.storedPositions(0, 0, 0)).containsExactly(0, 6, 7, 8, 9);
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(5);
            assertThat(c.lowRankState(0, 0, 0)).containsExactly(expectedState(map, 1, 2, 3, 4, 5), within(1e-5f));
            long bytesAfterPrefill = c.bytesInUse();

            append(c, 10);
            c.stepDone(0);                                   // one new token: not yet time to compress
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(5);
            append(c, 11);
            c.stepDone(0);                                   // back to 5: sink 0 + 8..11; absorb 6 and 7
            assertThat(c.storedPositions(0, 0, 0)).containsExactly(0, 8, 9, 10, 11);
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(7);
            assertThat(c.lowRankState(0, 0, 0)).containsExactly(expectedState(map, 1, 2, 3, 4, 5, 6, 7), within(1e-5f));
            assertThat(c.bytesInUse()).as("same tokens stored, same constant state").isEqualTo(bytesAfterPrefill);

            c.stepDone(0);                                   // nothing new: nothing absorbed twice
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(7);
            CacheInvariants.check(c);
        }
    }

    @Test
    void stateChangesTheAttentionOfLaterQueriesOnly() {
        LessPress press = (LessPress) PressRegistry.parse("less:map=random,rank=4/streamingllm:ratio=0.5,sinks=1");
        float[] q = {0.3f, -0.8f};
        float[][] outs = new float[2][];
        for (int run = 0; run < 2; run++) {
            KvPress p = run == 0 ? press.inner() : press;
            try (PagedKvCache c = new PagedKvCache(1, 1, D, 1, 64, KvStorage.of(KvElementType.F32), 4, 1 << 20, p)) {
                c.open();
                for (int i = 0; i < 10; i++) append(c, i);
                c.stepDone(0);
                outs[run] = new float[D];
                c.attend(0, 0, 0, q, 0, 1, 9, (float) (1 / Math.sqrt(D)), outs[run], 0, new float[16]);
            }
        }
        // the state pulls the output towards the absorbed values (positions 1..5, whose v0 is below the kept ones' mean)
        assertThat(outs[1][0]).isLessThan(outs[0][0]);
    }

    @Test
    void specsRoundTripAndMistakesAreNamed() {
        KvPress p = PressRegistry.parse("less/snapkv:ratio=0.75");
        assertThat(p.spec()).isEqualTo("less:rank=8,map=fit,ridge=0.01,seed=0/snapkv:ratio=0.75,window=32,kernel=5");
        assertThat(PressRegistry.parse(p.spec()).spec()).isEqualTo(p.spec());
        assertThat(((LessPress) p).needsFit()).isTrue();
        assertThat(p.observationWindow()).isEqualTo(32);
        assertThatThrownBy(() -> PressRegistry.parse("less:rank=0/h2o")).hasMessageContaining("rank");
        assertThatThrownBy(() -> PressRegistry.parse("less:map=learned/h2o")).hasMessageContaining("fit").hasMessageContaining("random");
        assertThatThrownBy(() -> PressRegistry.parse("less")).hasMessageContaining("wraps");
        assertThatThrownBy(() -> PressRegistry.parse("decode/less/h2o")).hasMessageContaining("scoring press");
        try (PagedKvCache c = new PagedKvCache(1, 1, D, 1, 64, KvStorage.of(KvElementType.F32), 4, 1 << 20, p)) {
            c.open();
            for (int i = 0; i < 40; i++) append(c, i);
            assertThatThrownBy(() -> c.stepDone(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("map=random");
        }
    }
}
