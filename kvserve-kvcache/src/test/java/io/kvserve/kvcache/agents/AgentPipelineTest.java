package io.kvserve.kvcache.agents;

import io.kvserve.kvcache.kvcomm.KvcommConfig;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A whole pipeline on stories260K: turns, messages passed on, and what each mode reuses. */
class AgentPipelineTest {
    static Model model;
    static WorkerPool pool;
    static List<String> stories = new ArrayList<>();

    @BeforeAll
    static void load() throws Exception {
        model = Model.load(TestAssets.require("models/stories260K.gguf"), null);
        pool = new WorkerPool(1);
        for (String p : Files.readString(TestAssets.require("data/tinystories_val.txt")).split("\\n\\s*\\n")) {
            if (!p.isBlank()) stories.add(p.strip().replaceAll("\\s+", " "));
            if (stories.size() > 40) break;
        }
    }

    @AfterAll
    static void close() throws Exception {
        if (pool != null) pool.close();
        if (model != null) model.close();
    }

    private List<AgentPipeline.Turn> run(String mode, int agents, int rounds) {
        AgentRuntime rt = new AgentRuntime(model, pool, 512);
        var templates = AgentWorkload.RAG.agents(agents, model.tokenizer(), stories, 32);
        String input = AgentWorkload.RAG.input(0, model.tokenizer(), stories, 48);
        return new AgentPipeline(rt, templates, AgentPipeline.mode(mode, rt, new KvcommConfig(0.3, 20, 5, 1.0, 0.9), 0.15)).run(input, rounds, 16);
    }

    @Test
    void denseComputesEveryTokenAndPrefixReuseGivesTheSameAnswers() {
        var dense = run("dense", 3, 2);
        var prefix = run("prefix", 3, 2);
        assertThat(dense).hasSize(6);
        assertThat(dense).allSatisfy(t -> assertThat(t.recomputedTokens()).isEqualTo(t.promptTokens()));
        assertThat(dense.stream().map(AgentPipeline.Turn::agent).toList()).containsExactly("Lily", "Tom", "Mia", "Lily", "Tom", "Mia");
        // an identical prefix is reused exactly: the same prompts and the same greedy answers, fewer tokens computed
        for (int i = 0; i < dense.size(); i++) {
            assertThat(prefix.get(i).response()).isEqualTo(dense.get(i).response());
            assertThat(prefix.get(i).promptTokens()).isEqualTo(dense.get(i).promptTokens());
        }
        assertThat(prefix.stream().mapToInt(AgentPipeline.Turn::recomputedTokens).sum())
                .isLessThan(dense.stream().mapToInt(AgentPipeline.Turn::recomputedTokens).sum());
        // round 2 reads round 1's answers: the prompts grow or change with them
        assertThat(dense.get(3).promptTokens()).isNotEqualTo(dense.get(0).promptTokens());
    }

    @Test
    void kvcommReusesMostOfThePromptOnceItsAnchorsExist() {
        var turns = run("kvcomm", 2, 4);
        assertThat(turns).hasSize(8);
        assertThat(turns.getFirst().densePrefill()).as("the first prompt makes anchors").isTrue();
        assertThat(turns.stream().anyMatch(t -> !t.densePrefill() && t.reuseRate() > 0.5)).as("a later prompt is assembled from reused KV").isTrue();
        assertThat(turns).allSatisfy(t -> assertThat(t.response()).isNotBlank());
    }

    @Test
    void badArgumentsAreNamed() {
        AgentRuntime rt = new AgentRuntime(model, pool, 64);
        assertThatThrownBy(() -> AgentPipeline.mode("fast", rt, new KvcommConfig(0.3, 20, 5, 1.0, 0.9), 0.15))
                .hasMessageContaining("unknown mode 'fast'");
        var one = AgentWorkload.RAG.agents(2, model.tokenizer(), stories, 32).subList(0, 1);
        assertThatThrownBy(() -> new AgentPipeline(rt, one, new DensePrefill(rt))).hasMessageContaining("2 to 5 agents");
    }
}
