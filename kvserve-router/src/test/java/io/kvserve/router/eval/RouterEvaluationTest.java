package io.kvserve.router.eval;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvserve.router.data.RoutingDataset;
import io.kvserve.router.data.RoutingExample;
import io.kvserve.router.embed.HashingEmbedder;
import io.kvserve.router.knn.KnnRouter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** A synthetic task where the topic decides which model is right: kNN must find it, and stay below the oracle. */
class RouterEvaluationTest {
    static final String[][] TOPICS = {
            {"integral", "derivative", "equation", "algebra", "matrix"},
            {"poem", "sonnet", "rhyme", "verse", "stanza"},
            {"python", "function", "compile", "loop", "variable"}};

    static RoutingDataset synthetic(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<RoutingExample> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int t = r.nextInt(3);
            StringBuilder sb = new StringBuilder();
            for (int w = 0; w < 6; w++) sb.append(TOPICS[t][r.nextInt(5)]).append(' ');
            sb.append("item").append(i);
            double[] q = new double[3];
            for (int m = 0; m < 3; m++) q[m] = r.nextDouble() < (m == t ? 0.9 : 0.2) ? 1 : 0;
            rows.add(new RoutingExample("r" + i, sb.toString(), "topic" + t, q, new double[] {1, 2, 3}));
        }
        return new RoutingDataset(List.of("math", "poet", "coder"), rows, "per-row costs");
    }

    @Test
    void knnFindsTheTopicModelAndBaselinesOrderAsExpected() {
        RoutingDataset d = synthetic(1200, 5);
        HashingEmbedder e = new HashingEmbedder(128);
        List<float[]> emb = d.examples().stream().map(x -> e.embed(x.prompt())).toList();
        var cfg = new RouterEvaluation.Config(List.of(5, 25), List.of(KnnRouter.Weighting.UNIFORM, KnnRouter.Weighting.INVERSE_COSINE),
                List.of(1e-3), 150, 1, 0.7, 0.1);
        RouterEvaluation.Report rep = RouterEvaluation.run(d, emb, cfg, s -> {});
        Map<String, RouterResult> by = rep.routers().stream().collect(Collectors.toMap(RouterResult::router, x -> x));
        double knn = by.get("knn (tuned)").accuracy();
        assertThat(knn).isGreaterThan(0.8);
        assertThat(by.get("random").accuracy()).isBetween(0.3, 0.5);
        assertThat(by.get("best single").accuracy()).isBetween(0.35, 0.55);
        assertThat(by.get("oracle").accuracy()).isGreaterThanOrEqualTo(knn);
        assertThat(by.get("logistic regression").accuracy()).isGreaterThan(0.75);
        assertThat(by.get("oracle").auc()).isGreaterThanOrEqualTo(by.get("knn (tuned)").auc());
        assertThat(by.get("knn (tuned)").auc()).isGreaterThan(by.get("zero router").auc());
        assertThat(rep.train() + rep.validation() + rep.test()).isEqualTo(1200);
        assertThat(rep.singleModels()).hasSize(3);
        assertThat(EvalRunner.summary(rep).getFirst()).containsKeys("router", "accuracy", "mean_cost", "auc");
    }
}
