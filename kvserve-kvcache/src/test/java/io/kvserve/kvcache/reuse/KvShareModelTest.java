package io.kvserve.kvcache.reuse;

import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static io.kvserve.kvcache.reuse.ReuseFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

/** KVShare end to end on stories260K: a segment cached after prefix A, reused after prefix B. */
class KvShareModelTest {
    static Model model;
    static int[] prefixA, prefixB, segment, suffix;

    @BeforeAll
    static void load() throws Exception {
        model = Model.load(TestAssets.require("models/stories260K.gguf"), null);
        var tok = model.tokenizer();
        prefixA = tok.encode("Once upon a time, there was a little girl named Lily.", true, false);
        prefixB = tok.encode("Tom had a big red ball. He liked to play with it every day in the park near his house.", true, false);
        segment = tok.encode(" One day, she saw a cat in the garden. The cat was sad and did not want to play.", false, false);
        suffix = tok.encode(" She asked the cat why", false, false);
    }

    @AfterAll
    static void close() throws Exception {
        model.close();
    }

    static SegmentStore storeWithSegment(ForwardPass fp) {
        SegmentStore store = new SegmentStore(4, Long.MAX_VALUE);
        try (KvCache c = model.newContiguousCache(model.config().contextLength())) {
            int s = c.open();
            prefill(fp, c, s, concat(prefixA, segment));
            store.put("tenant", SegmentKv.capture(c, s, prefixA.length, segment));
        }
        return store;
    }

    @Test
    void ratioOneEqualsDensePrefillAndDecode() {
        ForwardPass fp = pass(model, 128);
        SegmentStore store = storeWithSegment(fp);
        int[] prompt = concat(prefixB, segment, suffix);
        try (KvCache dense = model.newContiguousCache(512); KvCache reuse = model.newContiguousCache(512)) {
            int d = dense.open(), r = reuse.open();
            float[] want = prefill(fp, dense, d, prompt);
            KvShareSession s = new KvShare(1.0, 3, 1, KvShare.Selection.DHD).prefill(fp, reuse, r, "tenant", prompt, store);
            assertThat(s.reusedTokens()).isEqualTo(segment.length);
            assertThat(s.prefillRecomputed()).isEqualTo(segment.length);
            assertThat(s.reuseRate()).isZero();
            assertThat(maxAbsDiff(s.logits(), want)).isLessThan(1e-4f);
            assertThat(maxAbsDiff(kv(reuse, r, 0, prompt.length), kv(dense, d, 0, prompt.length))).isLessThan(1e-4f);
            for (int step = 0; step < 4; step++) {
                int tok = argmax(want);
                want = Arrays.copyOf(fp.forward(Batch.ofSequence(d, new int[] {tok}, 0, 1, prompt.length + step, false), dense), model.config().vocabSize());
                assertThat(maxAbsDiff(s.decode(tok), want)).isLessThan(1e-4f);
            }
            assertThat(s.decodeRecomputed()).isZero();                 // nothing left to recompute
        }
    }

    @Test
    void partialRecomputeReusesTheRestAndTheDecodeStageRecomputesMore() {
        ForwardPass fp = pass(model, 128);
        SegmentStore store = storeWithSegment(fp);
        int[] prompt = concat(prefixB, segment, suffix);
        try (KvCache dense = model.newContiguousCache(512); KvCache reuse = model.newContiguousCache(512); KvCache naive = model.newContiguousCache(512)) {
            float[] want = prefill(fp, dense, dense.open(), prompt);
            KvShareSession s = new KvShare(0.2, 3, 1, KvShare.Selection.DHD).prefill(fp, reuse, reuse.open(), "tenant", prompt, store);
            int budget = (int) Math.ceil(0.2 * segment.length);
            assertThat(s.prefillRecomputed()).isEqualTo(budget);
            assertThat(s.reuseRate()).isCloseTo((double) (segment.length - budget) / prompt.length, org.assertj.core.data.Offset.offset(1e-9));
            for (int p = prefixB.length; p < prefixB.length + segment.length; p++) assertThat(s.deviation(p)).isPositive();
            KvShareSession n = new KvShare(0, 0, 1, KvShare.Selection.NONE).prefill(fp, naive, naive.open(), "tenant", prompt, store);
            assertThat(n.reuseRate()).isEqualTo((double) segment.length / prompt.length);
            // recomputing the deviating tokens moves the first distribution towards dense prefill
            assertThat(kl(want, s.logits())).isLessThan(kl(want, n.logits()));
            s.decode(argmax(s.logits()));
            s.decode(5);
            assertThat(s.decodeRecomputed()).isEqualTo(3);              // chosen at step 1, recomputed at step 2
            assertThat(s.recomputedPositions()).hasSize(budget + 3);
        }
    }

    @Test
    void aPromptDifferingByOneTokenNeverReusesIt() {
        ForwardPass fp = pass(model, 128);
        SegmentStore store = storeWithSegment(fp);
        int[] changed = segment.clone();
        int at = segment.length / 2;
        changed[at] = (changed[at] + 1) % model.config().vocabSize();
        int[] prompt = concat(prefixB, changed, suffix);
        try (KvCache reuse = model.newContiguousCache(512)) {
            KvShareSession s = new KvShare(0, 0, 1, KvShare.Selection.NONE).prefill(fp, reuse, reuse.open(), "tenant", prompt, store);
            assertThat(s.isReusedAsPlaced(prefixB.length + at)).isFalse();
            assertThat(s.reusedTokens()).isEqualTo(segment.length - 1);
            assertThat(s.isReusedAsPlaced(prefixB.length + at - 1)).isTrue();
            assertThat(s.isReusedAsPlaced(prefixB.length + at + 1)).isTrue();
        }
        try (KvCache reuse = model.newContiguousCache(512)) {
            KvShareSession s = new KvShare().prefill(fp, reuse, reuse.open(), "other tenant", prompt, store);
            assertThat(s.reusedTokens()).isZero();
        }
    }

    static int argmax(float[] l) {
        int b = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[b]) b = i;
        return b;
    }

    /** KL(softmax(p) || softmax(q)). */
    static double kl(float[] p, float[] q) {
        double[] a = softmax(p), b = softmax(q);
        double s = 0;
        for (int i = 0; i < a.length; i++) if (a[i] > 0) s += a[i] * Math.log(a[i] / b[i]);
        return s;
    }

    static double[] softmax(float[] l) {
        double m = Double.NEGATIVE_INFINITY, z = 0;
        for (float x : l) m = Math.max(m, x);
        double[] out = new double[l.length];
        for (int i = 0; i < l.length; i++) z += out[i] = Math.exp(l[i] - m);
        for (int i = 0; i < l.length; i++) out[i] /= z;
        return out;
    }
}
