package io.kvserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The engine reproduces llama2.c's greedy run of stories260K: every argmax over 256 positions,
 * and the full logit vectors recorded in stories260K.greedy.json within 1e-4, for the GGUF file and
 * the llama2.c checkpoints; with token-by-token decode and with batched prefill.
 */
class GoldenLogitsTest {
    static JsonNode golden() throws Exception {
        return new ObjectMapper().readTree(TestAssets.require("models/stories260K.greedy.json").toFile());
    }

    @ParameterizedTest
    @ValueSource(strings = {"models/stories260K.gguf", "models/stories260K.bin"})
    void teacherForcedLogitsMatchReference(String file) throws Exception {
        JsonNode g = golden();
        Path model = TestAssets.require(file);
        try (Model m = Model.load(model, TestAssets.require("models/tok512.bin"))) {
            for (JsonNode run : g.get("runs")) {
                for (int batch : new int[] {1, 7, 64}) {
                    checkRun(m, run, batch);
                }
            }
        }
    }

    private void checkRun(Model m, JsonNode run, int batch) {
        int[] prompt = ints(run.get("prompt_ids"));
        int[] next = ints(run.get("next_tokens"));
        int n = run.get("n_steps").asInt();
        int[] inputs = new int[n];
        inputs[0] = prompt[0];
        for (int p = 1; p < n; p++) inputs[p] = next[p - 1];
        ForwardPass fp = m.newForwardPass(batch, WorkerPool.shared());
        int vocab = m.config().vocabSize();
        try (KvCache cache = m.newContiguousCache(n)) {
            int seq = cache.open();
            float[] all = new float[n * vocab];
            for (int p = 0; p < n; p += batch) {
                int len = Math.min(batch, n - p);
                float[] logits = fp.forward(Batch.ofSequence(seq, inputs, p, len, p, true), cache);
                System.arraycopy(logits, 0, all, p * vocab, len * vocab);
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
