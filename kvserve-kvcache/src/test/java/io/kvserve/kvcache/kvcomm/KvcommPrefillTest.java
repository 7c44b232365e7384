package io.kvserve.kvcache.kvcomm;

import io.kvserve.kvcache.agents.AgentPrompt;
import io.kvserve.kvcache.agents.AgentRuntime;
import io.kvserve.kvcache.agents.AgentTemplate;
import io.kvserve.kvcache.agents.DensePrefill;
import io.kvserve.kvcache.agents.PrefillMode;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * KVCOMM's assembly on stories260K: anchors first (dense prefills that record deltas), then a reused
 * prompt whose last token is recomputed over the assembled cache and whose layer 0 equals the dense
 * prefill's, while layers 1.. carry the estimated offset.
 */
class KvcommPrefillTest {
    static Model model;
    static WorkerPool pool;

    @BeforeAll
    static void load() throws Exception {
        model = Model.load(TestAssets.require("models/stories260K.gguf"), null);
        pool = new WorkerPool(1);
    }

    @AfterAll
    static void close() throws Exception {
        if (pool != null) pool.close();
        if (model != null) model.close();
    }

    static final AgentTemplate LILY = AgentTemplate.parse("Lily",
            "Lily likes to read stories. Here is a story.\n{input}\nTom said: {tom}\nThen Lily said: ");
    static final String[] INPUTS = {
            "Once upon a time, there was a little dog named Max. Max liked to run in the park with his ball.",
            "One day, a girl named Sue found a red box under a tree. She opened it and saw a shiny stone.",
            "There was a big cat who lived in a small house. The cat liked to sleep in the warm sun all day.",
    };
    static final String[] TOM = {"Max was happy and he played all day.", "Sue was surprised and she smiled.", "The cat was sleepy and warm."};

    static AgentPrompt prompt(AgentRuntime rt, int i) {
        return AgentPrompt.fill(rt.tokenizer(), LILY, Map.of("input", INPUTS[i], "tom", TOM[i]));
    }

    @Test
    void anchorsThenReuseWithTheLastTokenRecomputedAndLayerZeroExact() {
        AgentRuntime rt = new AgentRuntime(model, pool, 64);
        // gamma 100: once a slot has two anchors every message is reusable, so the third prompt reuses
        KvcommPrefill kvcomm = new KvcommPrefill(rt, new KvcommConfig(100, 20, 5, 1, 0.9));
        for (int i = 0; i < 2; i++) {
            PrefillMode.Prefill p = kvcomm.prefill("Lily", prompt(rt, i));
            assertThat(p.dense()).as("message %d is a new anchor: dense prefill", i).isTrue();
            assertThat(p.recomputed()).isEqualTo(prompt(rt, i).length());
            rt.cache().release(p.seq());
        }
        assertThat(kvcomm.pool("input").size()).isEqualTo(2);
        assertThat(kvcomm.pool("input").anchors().getFirst().deltas("Lily")).isNotNull();

        AgentPrompt p = prompt(rt, 2);
        int T = p.length();
        PrefillMode.Prefill reused = kvcomm.prefill("Lily", p);
        assertThat(reused.dense()).isFalse();
        assertThat(reused.recomputed()).isEqualTo(1);
        assertThat(kvcomm.pool("input").size()).isEqualTo(2);

        // the last prompt token was recomputed over the assembled cache: same logits and KV as a fresh step
        int check = rt.cache().fork(reused.seq(), T - 1);
        float[] fresh = rt.step(check, p.tokens()[T - 1], T - 1);
        assertThat(reused.logits()).containsExactly(fresh);
        KvSegment lastReused = rt.cache().read(reused.seq(), T - 1, T, rt.rope()), lastFresh = rt.cache().read(check, T - 1, T, rt.rope());
        for (int l = 0; l < lastReused.layers(); l++) {
            for (int h = 0; h < lastReused.kvHeads(); h++) assertThat(lastReused.values(l, h)).containsExactly(lastFresh.values(l, h));
        }

        PrefillMode.Prefill dense = new DensePrefill(rt).prefill("Lily", p);
        KvSegment a = rt.cache().read(reused.seq(), 0, T, rt.rope()), d = rt.cache().read(dense.seq(), 0, T, rt.rope());
        KvSegment base = rt.standAlone(INPUTS[2]);
        int s = p.slotStart()[0];
        double maxLayer0 = 0, corrected = 0;
        for (int h = 0; h < a.kvHeads(); h++) {
            for (int i = 0; i < T * a.headDim(); i++) maxLayer0 = Math.max(maxLayer0, Math.abs(a.values(0, h)[i] - d.values(0, h)[i]));
            for (int i = 0; i < base.tokens() * a.headDim(); i++) corrected += Math.abs(a.values(1, h)[s * a.headDim() + i] - base.values(1, h)[i]);
        }
        assertThat(maxLayer0).as("layer 0 is reused as is and equals the dense prefill").isLessThan(1e-4);
        assertThat(corrected).as("layers 1.. of the placeholder carry the estimated offset").isGreaterThan(1e-3);
    }
}
