package io.kvserve.kvcache.reuse;

import io.kvserve.kvcache.KvElementType;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static io.kvserve.kvcache.reuse.ReuseFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Segment capture, placement at a new offset and selective recompute on stories260K: a segment
 * computed after prefix A, placed after prefix B and recomputed in full reproduces dense prefill of
 * B + segment exactly; placement alone already reproduces layer 0 (which sees no context).
 */
class SelectiveRecomputeTest {
    static Model model;
    static int[] prefixA, prefixB, segment, suffix;

    @BeforeAll
    static void load() throws Exception {
        model = Model.load(TestAssets.require("models/stories260K.gguf"), null);
        var tok = model.tokenizer();
        prefixA = tok.encode("Once upon a time, there was a little girl named Lily.", true, false);
        prefixB = tok.encode("Tom had a big red ball. He liked to play with it every day in the park near his house.", true, false);
        segment = tok.encode(" One day, she saw a cat in the garden. The cat was sad.", false, false);
        suffix = tok.encode(" She asked the cat why", false, false);
        assertThat(prefixA.length).isNotEqualTo(prefixB.length);
    }

    @AfterAll
    static void close() throws Exception {
        model.close();
    }

    static KvCache contiguous() {
        return model.newContiguousCache(model.config().contextLength());
    }

    static PagedKvCache paged() {
        var c = model.config();
        return new PagedKvCache(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), c.contextLength(), KvStorage.of(KvElementType.F32), 5, 1L << 28, null);
    }

    /** The segment's KV as computed after prefix A. */
    static SegmentKv segmentAfterA(ForwardPass fp) {
        try (KvCache c = contiguous()) {
            int s = c.open();
            prefill(fp, c, s, concat(prefixA, segment));
            return SegmentKv.capture(c, s, prefixA.length, segment);
        }
    }

    @Test
    void placementReRotatesLayerZeroExactly() {
        ForwardPass fp = pass(model, 64);
        SegmentKv seg = segmentAfterA(fp);
        try (KvCache dense = contiguous(); KvCache reused = contiguous()) {
            int d = dense.open(), r = reused.open();
            prefill(fp, dense, d, concat(prefixB, segment));
            prefill(fp, reused, r, prefixB);
            int at = KvPlacement.place(reused, r, seg, fp.rope());
            assertThat(at).isEqualTo(prefixB.length);
            assertThat(reused.length(r)).isEqualTo(prefixB.length + segment.length);
            int kvDim = model.config().kvDim();
            float[] a = new float[2 * kvDim], b = new float[2 * kvDim];
            float layer0 = 0, deeper = 0;
            for (int p = prefixB.length; p < reused.length(r); p++) {
                dense.read(0, d, p, a, 0, a, kvDim);
                reused.read(0, r, p, b, 0, b, kvDim);
                layer0 = Math.max(layer0, maxAbsDiff(a, b));
                dense.read(3, d, p, a, 0, a, kvDim);
                reused.read(3, r, p, b, 0, b, kvDim);
                deeper = Math.max(deeper, maxAbsDiff(a, b));
            }
            assertThat(layer0).isLessThan(2e-5f);
            // deeper layers saw prefix A, not B: the reused KV deviates there (what recompute repairs)
            assertThat(deeper).isGreaterThan(1e-2f);
        }
    }

    @Test
    void recomputingEveryReusedPositionEqualsDensePrefill() {
        ForwardPass fp = pass(model, 16);   // several micro-batches
        SegmentKv seg = segmentAfterA(fp);
        int[] prompt = concat(prefixB, segment, suffix);
        for (boolean usePaged : new boolean[] {false, true}) {
            try (KvCache dense = usePaged ? paged() : contiguous(); KvCache reused = usePaged ? paged() : contiguous()) {
                int d = dense.open(), r = reused.open();
                float[] want = prefill(fp, dense, d, prompt);
                prefill(fp, reused, r, prefixB);
                KvPlacement.place(reused, r, seg, fp.rope());
                int from = prefixB.length;
                int[] positions = range(from, prompt.length);
                int[] tokens = java.util.Arrays.copyOfRange(prompt, from, prompt.length);
                float[] got = SelectiveRecompute.recompute(fp, reused, r, positions, tokens, true);
                assertThat(reused.length(r)).isEqualTo(prompt.length);
                assertThat(maxAbsDiff(got, want)).isLessThan(1e-4f);
                assertThat(maxAbsDiff(kv(reused, r, 0, prompt.length), kv(dense, d, 0, prompt.length))).isLessThan(1e-4f);
            }
        }
    }

    @Test
    void recomputingOnlyTheSuffixKeepsTheReusedKvAndDiffers() {
        ForwardPass fp = pass(model, 64);
        SegmentKv seg = segmentAfterA(fp);
        int[] prompt = concat(prefixB, segment, suffix);
        try (KvCache dense = contiguous(); KvCache reused = contiguous()) {
            int d = dense.open(), r = reused.open();
            float[] want = prefill(fp, dense, d, prompt);
            prefill(fp, reused, r, prefixB);
            KvPlacement.place(reused, r, seg, fp.rope());
            int from = prefixB.length, segEnd = from + segment.length;
            float[] placed = kv(reused, r, from, segEnd);
            int[] positions = range(segEnd, prompt.length);
            float[] got = SelectiveRecompute.recompute(fp, reused, r, positions, suffix, true);
            assertThat(kv(reused, r, from, segEnd)).containsExactly(placed);
            assertThat(maxAbsDiff(got, want)).isGreaterThan(1e-3f);
        }
    }

    @Test
    void overwriteInAForkCopiesSharedPagesAndLeavesTheParent() {
        ForwardPass fp = pass(model, 64);
        int[] prompt = concat(prefixB, segment);
        try (PagedKvCache cache = paged()) {
            int parent = cache.open();
            prefill(fp, cache, parent, prompt);
            float[] before = kv(cache, parent, 0, prompt.length);
            int child = cache.fork(parent, prompt.length);
            int kvDim = model.config().kvDim();
            float[] k = new float[kvDim], v = new float[kvDim];
            java.util.Arrays.fill(k, 3f);
            java.util.Arrays.fill(v, -2f);
            cache.overwrite(2, child, 7, k, 0, v, 0);
            assertThat(kv(cache, parent, 0, prompt.length)).containsExactly(before);
            float[] rk = new float[kvDim], rv = new float[kvDim];
            cache.read(2, child, 7, rk, 0, rv, 0);
            assertThat(rk).containsOnly(3f);
            assertThat(rv).containsOnly(-2f);
        }
    }
}
