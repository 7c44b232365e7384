package io.kvserve.kvcache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.transformer.ForwardPass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Iterator;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * With no press and F32 storage the paged cache changes nothing: stories260K reproduces llama2.c's
 * greedy run (every argmax over 256 positions, the recorded logits within 1e-4) through it, with
 * token-by-token decode and with batched prefill, with 3-token pages (so many page boundaries are crossed).
 */
class PagedGoldenLogitsTest {
    @ParameterizedTest
    @ValueSource(ints = {3})
    void goldenRunThroughPagedF32Cache(int tokensPerPage) throws Exception {
        JsonNode g = new ObjectMapper().readTree(TestAssets.require("models/stories260K.greedy.json").toFile());
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            for (JsonNode run : g.get("runs")) {
                for (int batch : new int[] {1, 7, 64}) check(m, run, batch, tokensPerPage);
            }
        }
    }

    private void check(Model m, JsonNode run, int batch, int tokensPerPage) {
        int[] prompt = ints(run.get("prompt_ids"));
        int[] next = ints(run.get("next_tokens"));
        int n = run.get("n_steps").asInt();
        int[] inputs = new int[n];
        inputs[0] = prompt[0];
        for (int p = 1; p < n; p++) inputs[p] = next[p - 1];
        ForwardPass fp = m.newForwardPass(batch, WorkerPool.shared());
        int vocab = m.config().vocabSize();
        var c = m.config();
        try (PagedKvCache cache = new PagedKvCache(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), n,
                KvStorage.of(KvElementType.F32), tokensPerPage, 1L << 30, null)) {
            int seq = cache.open();
            float[] all = new float[n * vocab];
            for (int p = 0; p < n; p += batch) {
                int len = Math.min(batch, n - p);
                float[] logits = fp.forward(Batch.ofSequence(seq, inputs, p, len, p, true), cache);
                System.arraycopy(logits, 0, all, p * vocab, len * vocab);
                cache.stepDone(seq);
            }
            for (int p = 0; p < n; p++) {
                assertThat(argmax(all, p * vocab, vocab)).as("argmax at position %d (batch %d)", p, batch)
                        .isEqualTo(run.get("steps").get(p).get("argmax").asInt());
            }
            Iterator<Map.Entry<String, JsonNode>> it = run.get("full_logits_at_pos").properties().iterator();
            while (it.hasNext()) {
                var e = it.next();
                int p = Integer.parseInt(e.getKey());
                for (int i = 0; i < vocab; i++) {
                    assertThat((double) all[p * vocab + i]).as("logit %d at position %d (batch %d)", i, p, batch)
                            .isCloseTo(e.getValue().get(i).asDouble(), within(1e-4));
                }
            }
            long perToken = 2L * c.nLayers() * c.nKvHeads() * c.headDim() * 4;
            long pages = (n + tokensPerPage - 1) / tokensPerPage;
            assertThat(cache.bytesInUse()).isEqualTo(pages * tokensPerPage * perToken);
            cache.release(seq);
            assertThat(cache.bytesInUse()).isZero();
        }
    }

    static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
        return best;
    }

    static int[] ints(JsonNode arr) {
        int[] r = new int[arr.size()];
        for (int i = 0; i < r.length; i++) r[i] = arr.get(i).asInt();
        return r;
    }
}
