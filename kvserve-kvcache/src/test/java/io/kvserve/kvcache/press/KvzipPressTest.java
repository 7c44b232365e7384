package io.kvserve.kvcache.press;

import io.kvserve.kvcache.CacheInvariants;
import io.kvserve.kvcache.KvElementType;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.transformer.ForwardPass;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** KVzip's reconstruction scores by hand, its global pool, chunking, and its fork bookkeeping on stories260K. */
class KvzipPressTest {
    private static final float LN2 = (float) Math.log(2), LN3 = (float) Math.log(3), LN4 = (float) Math.log(4);

    /** One layer, one KV head of head dim 2, two query heads; context keys (0,0), (1,0), (0,1). */
    private static PagedKvCache tinyContext() {
        PagedKvCache c = new PagedKvCache(1, 1, 2, 2, 16, KvStorage.of(KvElementType.F32), 4, 1L << 20, null);
        int seq = c.open();
        float[][] keys = {{0, 0}, {1, 0}, {0, 1}};
        for (int p = 0; p < 3; p++) c.append(0, seq, p, keys[p], 0, new float[] {p, p}, 0);
        return c;
    }

    /** Runs two reconstruction queries (keys (0,0) at positions 3 and 4) through the probe. */
    private static float[] probe(PagedKvCache c, int nSink, int c0, int c1) {
        float[][][] keys = {{c.pressContext(0).keys(0, 0)}};
        float[][][] scores = {{new float[3]}};
        int fork = c.fork(0, 3);
        var probe = new KvzipPress.ReconstructionProbe(c, 3, keys, scores, nSink, c0, c1, 2);
        float[] out = new float[4], scratch = new float[16];
        probe.append(0, fork, 3, new float[] {0, 0}, 0, new float[] {0, 0}, 0);
        probe.attend(0, fork, 0, new float[] {LN2, 0, 0, LN3}, 0, 2, 3, 1f, out, 0, scratch);
        probe.append(0, fork, 4, new float[] {0, 0}, 0, new float[] {0, 0}, 0);
        probe.attend(0, fork, 0, new float[] {LN4, 0, 0, 0}, 0, 2, 4, 1f, out, 0, scratch);
        c.release(fork);
        return scores[0][0];
    }

    @Test
    void scoreIsTheMaxAttentionOverReconstructionQueriesAndHeads() {
        try (PagedKvCache c = tinyContext()) {
            // query 1, head 0 (ln2, 0): logits [0, ln2, 0 | 0] -> [0.2, 0.4, 0.2 | 0.2]
            //          head 1 (0, ln3): logits [0, 0, ln3 | 0] -> [1/6, 1/6, 0.5 | 1/6]
            // query 2, head 0 (ln4, 0): [0, ln4, 0 | 0, 0]   -> [0.125, 0.5, 0.125 | ...]
            //          head 1 (0, 0):   uniform over 5       -> 0.2 each
            // max per context token: [0.2, 0.5, 0.5]
            float[] s = probe(c, 0, 0, 3);
            assertThat(s[0]).isCloseTo(0.2f, within(1e-6f));
            assertThat(s[1]).isCloseTo(0.5f, within(1e-6f));
            assertThat(s[2]).isCloseTo(0.5f, within(1e-6f));
            assertThat(c.openSequences()).containsExactly(0);
        }
    }

    @Test
    void aChunkSeesOnlyTheSinksItsOwnKeysAndTheReconstruction() {
        try (PagedKvCache c = tinyContext()) {
            // sink = token 0, chunk = token 2: key set {k0, k2, reconstruction}
            // query 1: head 0 (ln2, 0) -> [0, 0 | 0] -> 1/3; head 1 (0, ln3) -> [0, ln3 | 0] -> 0.6
            // query 2: head 0 (ln4, 0) -> 0.25 each of 4; head 1 uniform 0.25  -> token 2 scores 0.6
            float[] s = probe(c, 1, 2, 3);
            assertThat(s[0]).isZero();   // the sink is not scored by the probe (the press sets it to +inf)
            assertThat(s[1]).isZero();   // outside the chunk
            assertThat(s[2]).isCloseTo(0.6f, within(1e-6f));
        }
    }

    @Test
    void onePoolOverEveryLayerAndHeadGivesStreamsDifferentLengths() {
        // 2 layers x 1 head, 4 tokens; sinks +inf; ratio 0.375 of 8 -> floor(3) evicted, 5 kept
        PagedKvCache c = new PagedKvCache(2, 1, 2, 1, 16, KvStorage.of(KvElementType.F32), 4, 1L << 20, new KvzipPress(0.375, 2000, 1, 8, false));
        try (c) {
            int seq = c.open();
            for (int l = 0; l < 2; l++) for (int p = 0; p < 4; p++) c.append(l, seq, p, new float[2], 0, new float[2], 0);
            float inf = Float.POSITIVE_INFINITY;
            c.setPrefillScores(seq, new float[][][] {{{inf, 0.1f, 0.9f, 0.2f}}, {{inf, 0.8f, 0.7f, 0.3f}}});
            c.stepDone(seq);
            assertThat(c.storedPositions(seq, 0, 0)).containsExactly(0, 2);
            assertThat(c.storedPositions(seq, 1, 0)).containsExactly(0, 1, 2);
            CacheInvariants.check(c);
        }
        // uniform: every stream keeps 4 - floor(0.375 * 4) = 3
        PagedKvCache u = new PagedKvCache(2, 1, 2, 1, 16, KvStorage.of(KvElementType.F32), 4, 1L << 20, new KvzipPress(0.375, 2000, 1, 8, true));
        try (u) {
            int seq = u.open();
            for (int l = 0; l < 2; l++) for (int p = 0; p < 4; p++) u.append(l, seq, p, new float[2], 0, new float[2], 0);
            float inf = Float.POSITIVE_INFINITY;
            u.setPrefillScores(seq, new float[][][] {{{inf, 0.1f, 0.9f, 0.2f}}, {{inf, 0.8f, 0.7f, 0.3f}}});
            u.stepDone(seq);
            assertThat(u.storedPositions(seq, 0, 0)).containsExactly(0, 2, 3);
            assertThat(u.storedPositions(seq, 1, 0)).containsExactly(0, 1, 2);
        }
        // without a prefill driver there is nothing to score with: a clear error
        try (PagedKvCache n = new PagedKvCache(1, 1, 2, 1, 16, KvStorage.of(KvElementType.F32), 4, 1L << 20, new KvzipPress(0.5, 2000, 1, 8, false))) {
            int seq = n.open();
            n.append(0, seq, 0, new float[2], 0, new float[2], 0);
            assertThatThrownBy(() -> n.stepDone(seq)).hasMessageContaining("no reconstruction scores");
        }
    }

    @Test
    void chunkCoveringEverythingEqualsUnchunkedAndForksLeaveNoPages() throws Exception {
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            var cfg = m.config();
            int[] prompt = m.tokenizer().encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her dog.", true, true);
            int t = prompt.length;
            ForwardPass pass = m.newForwardPass(16, WorkerPool.shared());
            float[][][] whole = scores(m, pass, new KvzipPress(0.5, 2000, 4, 8, false), prompt);
            float[][][] exact = scores(m, pass, new KvzipPress(0.5, t - 4, 4, 8, false), prompt);
            float[][][] chunked = scores(m, pass, new KvzipPress(0.5, 8, 4, 8, false), prompt);
            for (int l = 0; l < cfg.nLayers(); l++) {
                for (int h = 0; h < cfg.nKvHeads(); h++) {
                    assertThat(exact[l][h]).containsExactly(whole[l][h]);
                    for (int p = 0; p < 4; p++) assertThat(whole[l][h][p]).isInfinite();
                    for (int p = 4; p < t; p++) assertThat(whole[l][h][p]).isBetween(0f, 1f).isPositive();
                    for (int p = 4; p < t; p++) assertThat(chunked[l][h][p]).isBetween(0f, 1f).isPositive();
                }
            }
            assertThat(Arrays.deepEquals(chunked, whole)).as("8-token chunks see fewer keys, so their scores differ").isFalse();
        }
    }

    /** Prefill through the driver; checks the forks were released and no page leaked. */
    private static float[][][] scores(Model m, ForwardPass pass, KvzipPress press, int[] prompt) {
        var cfg = m.config();
        long plainBytes;
        try (PagedKvCache plain = new PagedKvCache(cfg.nLayers(), cfg.nKvHeads(), cfg.headDim(), cfg.groupSize(), 512,
                KvStorage.of(KvElementType.F16), 4, 1L << 26, null)) {
            int seq = plain.open();
            PrefillPress.plainPrefill(new PrefillPress.Run(m, pass, plain, seq, prompt, 0));
            plainBytes = plain.bytesInUse();
        }
        try (PagedKvCache c = new PagedKvCache(cfg.nLayers(), cfg.nKvHeads(), cfg.headDim(), cfg.groupSize(), 512,
                KvStorage.of(KvElementType.F16), 4, 1L << 26, press)) {
            int seq = c.open();
            float[] logits = c.prefillDriver().prefill(m, pass, seq, prompt, 0);
            assertThat(logits).hasSize(cfg.vocabSize());
            assertThat(c.openSequences()).as("the reconstruction forks are released").containsExactly(seq);
            assertThat(c.bytesInUse()).as("no page of a fork is left").isEqualTo(plainBytes);
            CacheInvariants.check(c);
            int t = prompt.length;
            float[][][] s = new float[cfg.nLayers()][cfg.nKvHeads()][];
            var ctx = c.pressContext(seq);
            for (int l = 0; l < cfg.nLayers(); l++) for (int h = 0; h < cfg.nKvHeads(); h++) s[l][h] = ctx.prefillScores(l, h);
            assertThat(s[0][0]).hasSize(t);
            c.stepDone(seq);
            int kept = 0;
            for (int l = 0; l < cfg.nLayers(); l++) for (int h = 0; h < cfg.nKvHeads(); h++) kept += c.storedTokens(seq, l, h);
            int total = t * cfg.nLayers() * cfg.nKvHeads();
            assertThat(kept).isEqualTo(total - total / 2);
            CacheInvariants.check(c);
            return s;
        }
    }
}
