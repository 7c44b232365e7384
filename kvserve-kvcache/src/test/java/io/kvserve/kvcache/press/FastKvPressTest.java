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
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** FastKV's GQA-aware scores and TSP selection by hand, and its prefill bookkeeping on stories260K. */
class FastKvPressTest {
    /** 6 tokens, window = positions 4 and 5, 2 query heads per KV head: (w, group, n) attention rows. */
    private static FakeContext sixTokens(int heads) {
        FakeContext c = new FakeContext(1, heads, 2, 2, 6);
        c.windowPositions = new int[] {4, 5};
        for (int h = 0; h < heads; h++) c.window[0][h] = new float[2 * 2 * 6];
        // KV head 0: query head 0 looks at token 0, query head 1 at token 3
        float[] a = c.window[0][0];
        a[0 * 6 + 0] = 0.5f;  a[2 * 6 + 0] = 0.4f;   // window query 0 and 1, head 0, token 0: sum 0.9
        a[1 * 6 + 3] = 0.2f;  a[3 * 6 + 3] = 0.3f;   // head 1, token 3: sum 0.5
        a[1 * 6 + 1] = 0.1f;                          // head 1, token 1: 0.1
        return c;
    }

    @Test
    void scoresSumWindowThenPoolPerQueryHeadThenSumOverTheGroup() {
        FakeContext c = sixTokens(1);
        // kernel 1: no pooling; head 0 [0.9,0,0,0] + head 1 [0,0.1,0,0.5]
        assertThat(FastKvPress.kvHeadScores(c, 0, 0, 1, true)).containsExactly(0.9f, 0.1f, 0f, 0.5f, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY);
        // kernel 3 max pool over the 4 tokens before the window, per query head:
        // head 0 [0.9,0.9,0,0], head 1 [0.1,0.1,0.5,0.5] -> [1.0, 1.0, 0.5, 0.5]
        float[] s = FastKvPress.kvHeadScores(c, 0, 0, 3, true);
        assertThat(s[0]).isCloseTo(1.0f, within(1e-6f));
        assertThat(s[1]).isCloseTo(1.0f, within(1e-6f));
        assertThat(s[2]).isCloseTo(0.5f, within(1e-6f));
        assertThat(s[3]).isCloseTo(0.5f, within(1e-6f));
        // average pooling instead: head 0 [0.45, 0.3, 0, 0] + head 1 [0.05, 0.1/3, 0.2, 0.25]
        float[] avg = FastKvPress.kvHeadScores(c, 0, 0, 3, false);
        assertThat(avg[0]).isCloseTo(0.5f, within(1e-6f));
        assertThat(avg[1]).isCloseTo(0.3f + 0.1f / 3, within(1e-6f));
        assertThat(avg[2]).isCloseTo(0.2f, within(1e-6f));
        assertThat(avg[3]).isCloseTo(0.25f, within(1e-6f));
    }

    @Test
    void tspSelectionSumsKvHeadsAndAlwaysKeepsTheWindow() {
        FakeContext c = sixTokens(2);
        // KV head 1: query head 0 on token 2 (0.7), nothing else; kernel 1 -> head sums [0.9,0.1,0.7,0.5]
        c.window[0][1][0 * 6 + 2] = 0.7f;
        // tsp_len 3 = the 2-token window + the best earlier token (token 0: 0.9 beats token 2: 0.7)
        assertThat(FastKvPress.propagatedTokens(c, 0, 3, 1, true)).containsExactly(0, 4, 5);
        assertThat(FastKvPress.propagatedTokens(c, 0, 4, 1, true)).containsExactly(0, 2, 4, 5);
        // with KV head 1 favouring token 3 instead, the shared sum picks 3 over 2: [0.9, 0.1, 0, 1.2]
        c.window[0][1][0 * 6 + 2] = 0f;
        c.window[0][1][0 * 6 + 3] = 0.7f;
        assertThat(FastKvPress.propagatedTokens(c, 0, 4, 1, true)).containsExactly(0, 3, 4, 5);
        // a budget below the window still keeps the window (and so the last token)
        assertThat(FastKvPress.propagatedTokens(c, 0, 1, 1, true)).containsExactly(4, 5);
    }

    @Test
    void specsParseRoundTripAndBadParametersSayWhat() {
        FastKvPress p = (FastKvPress) PressRegistry.parse("fastkv:ratio=0.75,tsp_layer=2");
        assertThat(p.tspRate()).isEqualTo(0.5);           // 2 x the kept fraction, the paper's 0.2 / 0.1
        assertThat(p.tspLayerOf(5)).isEqualTo(2);
        assertThat(((FastKvPress) PressRegistry.parse("fastkv")).tspLayerOf(32)).isEqualTo(15);
        assertThat(PressRegistry.parse(p.spec()).spec()).isEqualTo(p.spec());
        assertThatThrownBy(() -> p.tspLayerOf(2)).hasMessageContaining("tsp_layer 2 is outside the model's 2 layers");
        assertThatThrownBy(() -> PressRegistry.parse("fastkv:tsp_rate=0")).hasMessageContaining("tsp_rate");
        assertThatThrownBy(() -> PressRegistry.parse("fastkv:tsp_layer=top")).hasMessageContaining("'mid'");
    }

    @Test
    void deepLayersHoldOnlyThePropagatedTokensAtTheirOriginalPositions() throws Exception {
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            var cfg = m.config();
            FastKvPress press = new FastKvPress(0.75, 2, 0.5, 8, 7, true);
            int t = 64, tspLen = 32;
            int[] prompt = new int[t];
            prompt[0] = 1;
            for (int i = 1; i < t; i++) prompt[i] = 260 + (i * 37) % 200;
            ForwardPass pass = m.newForwardPass(16, WorkerPool.shared());
            try (PagedKvCache c = new PagedKvCache(cfg.nLayers(), cfg.nKvHeads(), cfg.headDim(), cfg.groupSize(), 512,
                    KvStorage.of(KvElementType.F32), 16, 1L << 26, press)) {
                int seq = c.open();
                float[] logits = c.prefillDriver().prefill(m, pass, seq, prompt, 0);
                assertThat(logits).hasSize(cfg.vocabSize());
                assertThat(c.length(seq)).isEqualTo(t);
                int[] all = IntStream.range(0, t).toArray();
                // the TSP layer (2) and those before it still hold the whole prompt, so its selection can be recomputed
                int[] expected = FastKvPress.propagatedTokens(c.pressContext(seq), 2, tspLen, 7, true);
                assertThat(expected).hasSize(tspLen).contains(t - 1).contains(IntStream.range(t - 8, t).toArray());
                assertThat(expected).isNotEqualTo(IntStream.range(t - tspLen, t).toArray()); // not just recency
                for (int l = 0; l < cfg.nLayers(); l++) {
                    for (int h = 0; h < cfg.nKvHeads(); h++) {
                        assertThat(c.storedPositions(seq, l, h)).as("layer %d head %d", l, h).containsExactly(l <= 2 ? all : expected);
                    }
                }
                CacheInvariants.check(c);
                // then the GQA-aware compression: T - floor(0.75 T) = 16 tokens in every layer, window included
                c.stepDone(seq);
                for (int l = 0; l < cfg.nLayers(); l++) {
                    for (int h = 0; h < cfg.nKvHeads(); h++) {
                        int[] pos = c.storedPositions(seq, l, h);
                        assertThat(pos).hasSize(16).contains(IntStream.range(t - 8, t).toArray());
                        if (l > 2) assertThat(expected).contains(pos);
                    }
                }
                // decoding continues the original numbering in every layer
                pass.forward(io.kvserve.model.Batch.ofSequence(seq, new int[] {300}, 0, 1, t, false), c);
                for (int l = 0; l < cfg.nLayers(); l++) {
                    int[] pos = c.storedPositions(seq, l, 0);
                    assertThat(pos[pos.length - 1]).isEqualTo(t);
                }
                CacheInvariants.check(c);
                c.release(seq);
                assertThat(c.bytesInUse()).isZero();
            }
            // the propagated tokens' deep-layer KV: the same as running those tokens at their positions by hand
            try (PagedKvCache a = new PagedKvCache(cfg.nLayers(), cfg.nKvHeads(), cfg.headDim(), cfg.groupSize(), 512,
                    KvStorage.of(KvElementType.F32), 16, 1L << 26, press)) {
                int seq = a.open();
                float[] logits = a.prefillDriver().prefill(m, pass, seq, prompt, 0).clone();
                int[] sel = a.storedPositions(seq, 4, 0);
                float[] manual = manualTsp(m, pass, prompt, sel, 2);
                assertThat(logits).usingComparatorWithPrecision(1e-4f).containsExactly(manual);
            }
        }
    }

    /** Layers 0..tsp over every token, then the deeper layers over {@code sel} only, written out with plain ForwardPass calls. */
    private static float[] manualTsp(Model m, ForwardPass pass, int[] prompt, int[] sel, int tsp) {
        var cfg = m.config();
        int dim = cfg.dim(), t = prompt.length;
        try (PagedKvCache c = new PagedKvCache(cfg.nLayers(), cfg.nKvHeads(), cfg.headDim(), cfg.groupSize(), 512,
                KvStorage.of(KvElementType.F32), 16, 1L << 26, null)) {
            int seq = c.open();
            float[] hidden = new float[t * dim];
            for (int p = 0; p < t; p += 16) {
                var b = io.kvserve.model.Batch.ofSequence(seq, prompt, p, 16, p, false);
                pass.embed(b, hidden, p * dim);
                pass.runLayers(b, c, hidden, p * dim, 0, tsp + 1);
            }
            // one token at a time, each appended where it was in the prompt
            float[] row = new float[dim];
            float[] logits = null;
            for (int i = 0; i < sel.length; i++) {
                int p = sel[i];
                System.arraycopy(hidden, p * dim, row, 0, dim);
                var b = new io.kvserve.model.Batch(new int[] {prompt[p]}, new int[] {seq}, new int[] {p}, new boolean[] {i == sel.length - 1}, 1);
                pass.runLayers(b, new SparseView(c), row, 0, tsp + 1, cfg.nLayers());
                if (i == sel.length - 1) logits = Arrays.copyOf(pass.logitsOf(b, row, 0), cfg.vocabSize());
            }
            return logits;
        }
    }

    /** Appends past gaps, as the deep layers need. */
    private record SparseView(PagedKvCache c) implements io.kvserve.model.kv.KvCache {
        @Override public int layers() { return c.layers(); }
        @Override public int kvHeads() { return c.kvHeads(); }
        @Override public int headDim() { return c.headDim(); }
        @Override public int open() { return c.open(); }
        @Override public int fork(int src, int length) { return c.fork(src, length); }
        @Override public void truncate(int seq, int fromPos) { c.truncate(seq, fromPos); }
        @Override public void release(int seq) { c.release(seq); }
        @Override public int length(int seq) { return c.length(seq); }
        @Override public void reserve(int seq, int tokens) { c.reserve(seq, tokens); }
        @Override public long bytesInUse() { return c.bytesInUse(); }
        @Override public void close() {}
        @Override public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) { c.appendAt(layer, seq, pos, k, kOff, v, vOff); }
        @Override public void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale, float[] out, int outOff, float[] s) {
            c.attend(layer, seq, kvHead, q, qOff, nq, maxPos, scale, out, outOff, s);
        }
    }
}
