package io.kvserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.kvserve.model.kv.KvCache;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The engine reproduces llama2.c's greedy run of stories260K: every argmax over 256 positions,
 * and the full logit vectors recorded in stories260K.greedy.json within 1e-4, for the GGUF file and
 * the llama2.c checkpoint; with token-by-token decode and with batched prefill.
 */
class GoldenLogitsTest {
    @ParameterizedTest
    @ValueSource(strings = {"models/stories260K.gguf", "models/stories260K.bin"})
    void teacherForcedLogitsMatchReference(String file) throws Exception {
        JsonNode g = GoldenReference.load();
        try (Model m = Model.load(TestAssets.require(file), TestAssets.require("models/tok512.bin"))) {
            for (JsonNode run : g.get("runs")) {
                for (int batch : new int[] {1, 7, 64}) {
                    try (KvCache cache = m.newContiguousCache(run.get("n_steps").asInt())) {
                        GoldenReference.check(m, run, batch, cache, seq -> {});
                    }
                }
            }
        }
    }
}
