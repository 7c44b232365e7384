package io.kvserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.util.Iterator;
import java.util.Map;
import java.util.function.IntConsumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * llama2.c's greedy run of stories260K (stories260K.greedy.json) as a reusable check: runs the
 * teacher-forced inputs through a forward pass and a cache in batches, then compares every argmax and
 * the recorded full logit vectors (1e-4).
 */
public final class GoldenReference {
    private GoldenReference() {}

    public static JsonNode load() throws Exception {
        return new ObjectMapper().readTree(TestAssets.require("models/stories260K.greedy.json").toFile());
    }

    /**
     * Feeds {@code run}'s inputs through {@code cache} in batches of {@code batch} tokens, calling
     * {@code afterStep} with the sequence id after each batch, and checks the logits against the reference.
     * Returns the sequence id (still open).
     */
    public static int check(Model m, JsonNode run, int batch, KvCache cache, IntConsumer afterStep) {
        int[] prompt = ints(run.get("prompt_ids"));
        int[] next = ints(run.get("next_tokens"));
        int n = run.get("n_steps").asInt();
        int[] inputs = new int[n];
        inputs[0] = prompt[0];
        for (int p = 1; p < n; p++) inputs[p] = next[p - 1];
        ForwardPass fp = m.newForwardPass(batch, WorkerPool.shared());
        int vocab = m.config().vocabSize();
        int seq = cache.open();
        float[] all = new float[n * vocab];
        for (int p = 0; p < n; p += batch) {
            int len = Math.min(batch, n - p);
            float[] logits = fp.forward(Batch.ofSequence(seq, inputs, p, len, p, true), cache);
            System.arraycopy(logits, 0, all, p * vocab, len * vocab);
            afterStep.accept(seq);
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
        return seq;
    }

    public static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
        return best;
    }

    public static int[] ints(JsonNode arr) {
        int[] r = new int[arr.size()];
        for (int i = 0; i < r.length; i++) r[i] = arr.get(i).asInt();
        return r;
    }
}
