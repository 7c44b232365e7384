package io.kvserve.kvcache;

import com.fasterxml.jackson.databind.JsonNode;
import io.kvserve.model.GoldenReference;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;


import static org.assertj.core.api.Assertions.assertThat;

/**
 * With no press and F32 storage the paged cache changes nothing: stories260K reproduces llama2.c's
 * greedy run (every argmax over 256 positions, the recorded logits within 1e-4) through it, with
 * token-by-token decode and with batched prefill, with 3-token pages (so many page boundaries are crossed).
 */
class PagedGoldenLogitsTest {
    @ParameterizedTest
    @ValueSource(ints = {3})
    void goldenRunThroughPagedF32Cache(int tokensPerPage) throws Exception {
        JsonNode g = GoldenReference.load();
        try (Model m = Model.load(TestAssets.require("models/stories260K.gguf"), null)) {
            for (JsonNode run : g.get("runs")) {
                for (int batch : new int[] {1, 7, 64}) check(m, run, batch, tokensPerPage);
            }
        }
    }

    private void check(Model m, JsonNode run, int batch, int tokensPerPage) {
        int n = run.get("n_steps").asInt();
        var c = m.config();
        try (PagedKvCache cache = new PagedKvCache(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), n,
                KvStorage.of(KvElementType.F32), tokensPerPage, 1L << 30, null)) {
            int seq = GoldenReference.check(m, run, batch, cache, cache::stepDone);
            long perToken = 2L * c.nLayers() * c.nKvHeads() * c.headDim() * 4;
            long pages = (n + tokensPerPage - 1) / tokensPerPage;
            assertThat(cache.bytesInUse()).isEqualTo(pages * tokensPerPage * perToken);
            cache.release(seq);
            assertThat(cache.bytesInUse()).isZero();
        }
    }
}
