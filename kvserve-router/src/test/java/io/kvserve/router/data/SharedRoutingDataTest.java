package io.kvserve.router.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The real LLMRouter 14-task file in ../shared: loads whole, and the grouped split removes its train/test leak. */
class SharedRoutingDataTest {
    static Path sharedFile() {
        String env = System.getenv("KVSERVE_SHARED");
        Path shared = env != null ? Path.of(env) : Path.of("../../shared");
        Path f = shared.resolve("data/routing/llmrouter_14task.jsonl");
        if (!Files.isRegularFile(f)) {
            if ("true".equals(System.getenv("CI"))) fail("CI=true but the routing data " + f.toAbsolutePath() + " is missing: lay out ../shared beside the repository");
            Assumptions.abort("skipped: " + f.toAbsolutePath() + " is missing (../shared not laid out beside the repository)");
        }
        return f;
    }

    @Test
    void loadsTheLlmRouterFileAndTheGroupedSplitKeepsDuplicatesTogether() {
        RoutingDataset d = RoutingDataLoader.load(sharedFile());
        assertThat(d.size()).isEqualTo(6108);
        assertThat(d.models()).hasSize(9).contains("llama-3.1-nemotron-51b-instruct", "gemma-2-9b-it");
        assertThat(d.costSource()).startsWith("price x estimated prompt tokens");
        int gemma = d.modelIndex("gemma-2-9b-it"), nemo = d.modelIndex("llama-3.1-nemotron-51b-instruct");
        RoutingExample e = d.examples().getFirst();
        assertThat(e.costs()[nemo] / e.costs()[gemma]).isCloseTo(9.0, org.assertj.core.data.Offset.offset(1e-9)); // $0.90 vs $0.10 per 1M
        // the oracle's mean score (PROVENANCE.md: 0.797)
        double oracle = d.examples().stream().mapToDouble(x -> x.outcomes()[x.bestModel()]).average().orElseThrow();
        assertThat(oracle).isCloseTo(0.797, org.assertj.core.data.Offset.offset(0.001));
        GroupedSplit.Parts p = GroupedSplit.split(d, 0.7, 0.1, 42);
        Map<String, Integer> partOf = new HashMap<>();
        int[] i = {0};
        for (RoutingDataset part : new RoutingDataset[] {p.train(), p.validation(), p.test()}) {
            for (RoutingExample x : part.examples()) {
                Integer prev = partOf.put(GroupedSplit.groupKey(x.prompt()), i[0]);
                assertThat(prev == null || prev == i[0]).as("text of %s appears in two parts", x.id()).isTrue();
            }
            i[0]++;
        }
    }
}
