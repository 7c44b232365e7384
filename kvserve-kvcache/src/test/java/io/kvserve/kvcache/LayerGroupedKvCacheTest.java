package io.kvserve.kvcache;

import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * KIVI with value groups across the KV heads of a layer ({@code group=layer}): round trip within
 * KIVI's bound, attention per KV head equal to naive attention over the dequantised cache, one
 * value group per token over 32 channels (hand-computed codes and bytes), and no press.
 */
class LayerGroupedKvCacheTest {
    static final int HEADS = 4, DIM = 8, GROUP = 2, W = HEADS * DIM;

    private static LayerGroupedKvCache cache(String type, int positions) {
        return (LayerGroupedKvCache) KvCaches.paged(2, HEADS, DIM, GROUP, positions, KvStorage.parse(type), 16, 1L << 26, null);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"'kivi2:residual=0,group=layer'", "'kivi4:residual=0,group=layer'", "'kivi2:residual=40,group=layer'", "'kivi4:group=layer'",
            "'kivi2:residual=0,group=layer,vresidual=0'", "'kivi4:residual=40,group=layer,vresidual=0'",
            "'kivi2:residual=0,group=layer,vresidual=0,meta=q8'", "'kivi4:residual=40,group=layer,meta=q8'"})
    void roundTripAndAttentionPerHead(String type) {
        int n = 150;
        SplittableRandom rnd = new SplittableRandom(type.hashCode());
        try (LayerGroupedKvCache c = cache(type, 512)) {
            int s = c.open();
            float[][] ks = new float[n][W], vs = new float[n][W];
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < W; i++) {
                    ks[p][i] = (float) (rnd.nextGaussian() * (1 + i % 3));
                    vs[p][i] = (float) (rnd.nextGaussian() * (1 + i / DIM));   // heads of different scales share a group
                }
                for (int l = 0; l < 2; l++) c.append(l, s, p, ks[p], 0, vs[p], 0);
            }
            assertThat(c.storedTokens(s, 1)).isEqualTo(n);
            float[] k = new float[n * W], v = new float[n * W];
            for (int p = 0; p < n; p++) c.read(1, s, p, k, p * W, v, p * W);
            double maxK = 0, maxV = 0, errK = 0, errV = 0;
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < W; i++) {
                    maxK = Math.max(maxK, Math.abs(ks[p][i]));
                    maxV = Math.max(maxV, Math.abs(vs[p][i]));
                    errK = Math.max(errK, Math.abs(k[p * W + i] - ks[p][i]));
                    errV = Math.max(errV, Math.abs(v[p * W + i] - vs[p][i]));
                }
            }
            double bound = StorageFidelityTest.bound(KvStorage.parse(type).type(), KvStorage.parse(type).metaBytes());
            assertThat(errK).as("largest key error").isLessThanOrEqualTo(bound * maxK + 1e-6);
            assertThat(errV).as("largest value error").isLessThanOrEqualTo(bound * maxV + 1e-6);
            assertThat(errV).as("values are quantised (or F16)").isGreaterThan(0);

            float[] q = new float[GROUP * DIM], out = new float[GROUP * DIM], scores = new float[n];
            float scale = (float) (1 / Math.sqrt(DIM));
            for (int h = 0; h < HEADS; h++) {
                for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
                for (int maxPos : new int[] {n - 1, 70, 5}) {
                    c.attend(1, s, h, q, 0, GROUP, maxPos, scale, out, 0, scores);
                    for (int j = 0; j < GROUP; j++) {
                        double[] want = naiveAttention(q, j * DIM, k, v, h * DIM, maxPos + 1, scale);
                        for (int i = 0; i < DIM; i++) {
                            assertThat((double) out[j * DIM + i]).as("head %d query %d maxPos %d channel %d", h, j, maxPos, i).isCloseTo(want[i], within(2e-4));
                        }
                    }
                }
            }
        }
    }

    /** softmax(scale q.k_t) v_t over the first m tokens, the head's channels at {@code at} of each (W)-row. */
    private static double[] naiveAttention(float[] q, int qOff, float[] k, float[] v, int at, int m, float scale) {
        double[] w = new double[m], o = new double[DIM];
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int t = 0; t < m; t++) {
            double d = 0;
            for (int i = 0; i < DIM; i++) d += (double) q[qOff + i] * k[t * W + at + i];
            w[t] = d * scale;
            max = Math.max(max, w[t]);
        }
        for (int t = 0; t < m; t++) sum += w[t] = Math.exp(w[t] - max);
        for (int t = 0; t < m; t++) for (int i = 0; i < DIM; i++) o[i] += w[t] / sum * v[t * W + at + i];
        return o;
    }

    /**
     * One value group per token spans all four heads: head 0 holds {0, 1.5}, head 1 holds 3. Over the
     * layer, min 0 and max 3 give KIVI-2 the step 1, so 1.5 is stored as code 2 and read back as 2
     * (a per-head group, min 0 and max 1.5, would have kept it exactly as step 0.5 times code 3).
     */
    @Test
    void aValueGroupSpansTheHeadsOfALayer() {
        for (String group : new String[] {"layer", "head"}) {
            try (KvCache c = KvCaches.paged(1, HEADS, DIM, GROUP, 64, KvStorage.parse("kivi2:residual=0,group=" + group), 16, 1L << 20, null)) {
                int s = c.open();
                float[] k = new float[W], v = new float[W];
                for (int p = 0; p < 32; p++) {
                    for (int i = 0; i < W; i++) {
                        k[i] = p % 4;   // per channel over 32 tokens: min 0, max 3, exact codes
                        v[i] = i < DIM ? (i % 2) * 1.5f : i < 2 * DIM ? 3f : 0f;
                    }
                    c.append(0, s, p, k, 0, v, 0);
                }
                float[] rk = new float[W], rv = new float[W];
                c.read(0, s, 5, rk, 0, rv, 0);
                assertThat(rk[0]).isEqualTo(1f);
                assertThat(rv[1]).as("value 1.5 of head 0 with group=%s", group).isEqualTo(group.equals("layer") ? 2f : 1.5f);
                assertThat(rv[DIM]).isEqualTo(3f);
                assertThat(rv[0]).isEqualTo(0f);
            }
        }
    }

    /**
     * 32 tokens of 4 heads x 8 channels in KIVI-2 with no residual are one group page. Layer groups:
     * keys 32 channels x (4 bytes scale and minimum + 8 bytes of codes) + values 32 tokens x (4 + 8)
     * = 768 bytes, 5.33x fewer than F16's 4096; per-head groups: 4 x (8 x 12 + 32 x (4 + 2)) = 1152.
     */
    @Test
    void bytesOfOneGroupPage() {
        assertThat(bytesAfter(32, "kivi2:residual=0,group=layer")).isEqualTo(768);
        assertThat(bytesAfter(32, "kivi2:residual=0")).isEqualTo(1152);
        assertThat(bytesAfter(32, "f16")).isEqualTo(4096);
        // KIVI-4: keys 32 x (4 + 16), values 32 x (4 + 16)
        assertThat(bytesAfter(32, "kivi4:residual=0,group=layer")).isEqualTo(1280);
    }

    /** At stories260K's shape over 2048 tokens the layout reaches KIVI-2's 5.33x once the F16 tail is small. */
    @Test
    void longContextsReachFiveTimesAtHeadDim8() {
        long f16 = bytesAfter(2048, "f16"), kivi2 = bytesAfter(2048, "kivi2:residual=0,group=layer");
        assertThat((double) f16 / kivi2).isGreaterThanOrEqualTo(5.0);
        assertThat((double) f16 / bytesAfter(2048, "kivi2:residual=0")).isLessThan(3.6);
    }

    static long bytesAfter(int n, String type) {
        SplittableRandom rnd = new SplittableRandom(1);
        try (KvCache c = KvCaches.paged(1, HEADS, DIM, GROUP, n, KvStorage.parse(type), 16, 1L << 30, null)) {
            int s = c.open();
            float[] k = new float[W], v = new float[W];
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < W; i++) {
                    k[i] = (float) rnd.nextGaussian();
                    v[i] = (float) rnd.nextGaussian();
                }
                c.append(0, s, p, k, 0, v, 0);
            }
            return c.bytesInUse();
        }
    }

    /**
     * {@code vresidual=0}: the value of a token is quantised when it is appended (head 0's 1.5 reads
     * back as 2 at once, as in {@link #aValueGroupSpansTheHeadsOfALayer}) while its key waits in F16
     * (1.5 exactly); when the group of 32 fills, the value rows move into the group page as they are.
     * Bytes after 40 tokens: the group page (768) plus one residual page of 16 slots x (64 bytes of F16
     * key + 12 bytes of KIVI-2 value row) = 1984, against 768 + 16 x 128 = 2816 with F16 values.
     */
    @Test
    void valuesQuantisedOnArrival() {
        try (KvCache c = KvCaches.paged(1, HEADS, DIM, GROUP, 64, KvStorage.parse("kivi2:residual=0,group=layer,vresidual=0"), 16, 1L << 20, null)) {
            int s = c.open();
            float[] k = new float[W], v = new float[W], rk = new float[W], rv = new float[W];
            float[][] before = new float[40][];
            for (int p = 0; p < 40; p++) {
                for (int i = 0; i < W; i++) {
                    k[i] = i < DIM ? (i % 2) * 1.5f + p : p;
                    v[i] = i < DIM ? (i % 2) * 1.5f : i < 2 * DIM ? 3f + p % 3 : 0f;
                }
                c.append(0, s, p, k, 0, v, 0);
                if (p == 0) {
                    c.read(0, s, 0, rk, 0, rv, 0);
                    assertThat(rk[1]).as("key in the F16 residual").isEqualTo(1.5f);
                    assertThat(rv[1]).as("value quantised on arrival").isEqualTo(2f);
                }
                if (p == 31) for (int t = 0; t < 32; t++) {
                    c.read(0, s, t, rk, 0, rv, 0);
                    before[t] = rv.clone();
                }
            }
            for (int t = 0; t < 32; t++) {
                c.read(0, s, t, rk, 0, rv, 0);
                assertThat(rv).as("value row of token %d after its group filled", t).containsExactly(before[t]);
            }
            assertThat(c.bytesInUse()).isEqualTo(768 + 16 * (64 + 12));
        }
        assertThat(bytesAfter(40, "kivi2:residual=0,group=layer")).isEqualTo(768 + 16 * 128);
    }

    /**
     * {@code quantize:type=kivi2,residual=0,group=layer} after an F16 prefill: 32 tokens take two F16
     * pages (2 x 16 x (64 + 64) = 4096 bytes) and read back exactly (1.5); after the press they are one
     * layer-grouped KIVI-2 group page (768 bytes) and 1.5 reads back as 2, as in
     * {@link #aValueGroupSpansTheHeadsOfALayer}.
     */
    @Test
    void quantizeAfterPrefillIntoLayerGroups() {
        var press = PressRegistry.parse("quantize:type=kivi2,residual=0,group=layer");
        assertThat(press.spec()).isEqualTo("quantize:type=kivi2,residual=0,group=layer");
        try (KvCache c = KvCaches.paged(1, HEADS, DIM, GROUP, 64, KvStorage.parse("f16"), 16, 1L << 20, press)) {
            assertThat(c).isInstanceOf(LayerGroupedKvCache.class);
            int s = c.open();
            float[] k = new float[W], v = new float[W], rk = new float[W], rv = new float[W];
            for (int p = 0; p < 32; p++) {
                for (int i = 0; i < W; i++) {
                    k[i] = p % 4;
                    v[i] = i < DIM ? (i % 2) * 1.5f : i < 2 * DIM ? 3f : 0f;
                }
                c.append(0, s, p, k, 0, v, 0);
            }
            assertThat(c.bytesInUse()).isEqualTo(4096);
            c.read(0, s, 5, rk, 0, rv, 0);
            assertThat(rv[1]).isEqualTo(1.5f);
            c.stepDone(s);
            assertThat(c.bytesInUse()).isEqualTo(768);
            c.read(0, s, 5, rk, 0, rv, 0);
            assertThat(rv[1]).isEqualTo(2f);
            assertThat(rk[0]).isEqualTo(1f);
        }
    }

    @Test
    void aLayerGroupConversionNeedsTheLayerGroupedCache() {
        var composed = PressRegistry.parse("streamingllm:ratio=0.5>quantize:type=kivi4,group=layer");
        try (KvCache c = KvCaches.paged(1, HEADS, DIM, GROUP, 64, KvStorage.parse("f16"), 16, 1L << 20, composed)) {
            assertThat(c).isInstanceOf(PagedKvCache.class);
            int s = c.open();
            float[] k = new float[W], v = new float[W];
            for (int p = 0; p < 20; p++) c.append(0, s, p, k, 0, v, 0);
            assertThatThrownBy(() -> c.stepDone(s)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("use group=head");
        }
        assertThatThrownBy(() -> KvCaches.paged(1, HEADS, DIM, GROUP, 64, KvStorage.parse("kivi2"), 16, 1L << 20,
                PressRegistry.parse("quantize:type=kivi4,group=layer"))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row type");
        assertThatThrownBy(() -> PressRegistry.parse("quantize:type=q8_0,group=layer")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KIVI");
    }

    @Test
    void forkAndTruncateKeepEveryHeadAligned() {
        try (LayerGroupedKvCache c = cache("kivi2:residual=0,group=layer", 128)) {
            int s = c.open();
            float[] k = new float[W], v = new float[W];
            for (int p = 0; p < 70; p++) {
                for (int i = 0; i < W; i++) k[i] = v[i] = p + i;
                for (int l = 0; l < 2; l++) c.append(l, s, p, k, 0, v, 0);
            }
            int f = c.fork(s, 40);
            assertThat(c.length(f)).isEqualTo(40);
            assertThat(c.storedTokens(f, 0)).isEqualTo(40);
            c.truncate(s, 33);
            assertThat(c.storedTokens(s, 1)).isEqualTo(33);
            c.release(f);
            c.release(s);
            assertThat(c.bytesInUse()).isZero();
        }
    }

    @Test
    void pressesAndOtherTypesAreRefusedWithAReason() {
        assertThatThrownBy(() -> KvCaches.paged(2, HEADS, DIM, GROUP, 64, KvStorage.parse("kivi2:group=layer"), 16, 1 << 20,
                PressRegistry.parse("snapkv:ratio=0.5")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("snapkv").hasMessageContaining("per KV head").hasMessageContaining("group=head");
        assertThatThrownBy(() -> new PagedKvCache(2, HEADS, DIM, GROUP, 64, KvStorage.parse("kivi4:group=layer"), 16, 1 << 20, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("LayerGroupedKvCache").hasMessageContaining("kivi4");
        assertThatThrownBy(() -> KvStorage.parse("q8_0:group=layer")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only the KIVI types");
        assertThatThrownBy(() -> KvStorage.parse("kivi2:group=row")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("head or layer");
        assertThat(KvStorage.parse("kivi2:residual=0,group=layer").toString()).isEqualTo("kivi2:residual=0,group=layer");
        assertThat(KvStorage.parse("kivi4:group=layer")).isEqualTo(new KvStorage(KvElementType.KIVI4, 128, true));
        assertThat(KvStorage.parse("kivi4:group=head").toString()).isEqualTo("kivi4");
        assertThat(KvStorage.parse("kivi2:vresidual=0,group=layer,residual=0").toString()).isEqualTo("kivi2:residual=0,group=layer,vresidual=0");
        assertThatThrownBy(() -> KvStorage.parse("kivi2:vresidual=32")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only 0");
    }

    /**
     * On stories260K, with a residual long enough that nothing is quantised, the layer-wide stream
     * (zero-padded queries, sliced outputs) gives the logits of the per-head F16 cache.
     */
    @Test
    void stories260KThroughTheLayerStreamEqualsPerHeadF16() throws Exception {
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            var c = m.config();
            int[] tok = m.tokenizer().encode("Once upon a time, there was a little girl named Lily. She loved to play outside.", true, true);
            ForwardPass fp = m.newForwardPass(8, WorkerPool.shared());
            float[] a = run(fp, tok, KvCaches.paged(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), 256, KvStorage.parse("kivi4:residual=1000,group=layer"), 16, 1L << 30, null));
            float[] b = run(fp, tok, KvCaches.paged(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), 256, KvStorage.parse("f16"), 16, 1L << 30, null));
            for (int i = 0; i < a.length; i++) assertThat(a[i]).as("logit %d", i).isCloseTo(b[i], within(1e-4f));
        }
    }

    private static float[] run(ForwardPass fp, int[] tok, KvCache cache) {
        try (cache) {
            int s = cache.open();
            float[] logits = null;
            for (int p = 0; p < tok.length; p += 8) logits = fp.forward(Batch.ofSequence(s, tok, p, Math.min(8, tok.length - p), p, false), cache);
            return logits.clone();
        }
    }
}
