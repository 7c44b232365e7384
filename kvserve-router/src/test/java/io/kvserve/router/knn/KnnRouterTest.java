package io.kvserve.router.knn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.kvserve.router.embed.HashingEmbedder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KnnRouterTest {
    static float[] unit(float... v) {
        return io.kvserve.router.embed.Embedder.normalize(v);
    }

    @Test
    void uniformPredictionIsTheNeighbourMean() {
        KnnRouter r = new KnnRouter(new ExactIndex(2), 2, 2, KnnRouter.Weighting.UNIFORM);
        r.add(unit(1, 0), new double[] {1, 0}, new double[] {10, 1});
        r.add(unit(1, 0.1f), new double[] {0, 0}, new double[] {20, 3});
        r.add(unit(-1, 0), new double[] {0, 1}, new double[] {99, 99}); // far away, not among the 2 nearest
        KnnRouter.Prediction p = r.predict(unit(1, 0.05f));
        assertThat(p.quality()).containsExactly(0.5, 0.0);
        assertThat(p.cost()).containsExactly(15.0, 2.0);
        assertThat(p.neighbours()).extracting(Neighbour::id).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void inverseDistanceWeightsFavourTheCloserNeighbour() {
        KnnRouter r = new KnnRouter(new ExactIndex(2), 1, 2, KnnRouter.Weighting.INVERSE_COSINE);
        r.add(unit(1, 0), new double[] {1}, new double[] {1});
        r.add(unit(0, 1), new double[] {0}, new double[] {1});
        double q = r.predict(unit(1, 0.2f)).quality()[0];
        assertThat(q).isGreaterThan(0.75);
        float simNear = (float) (1 / Math.sqrt(1.04)), simFar = (float) (0.2 / Math.sqrt(1.04));
        double wn = 1 / (1 - simNear + 0.01), wf = 1 / (1 - simFar + 0.01);
        assertThat(q).isCloseTo(wn / (wn + wf), offset(1e-6));
    }

    @Test
    void policiesPickAsDefined() {
        double[] q = {0.9, 0.85, 0.5};
        double[] c = {10, 2, 1};
        assertThat(new RoutingPolicy.BestQuality().choose(q, c)).isZero();
        assertThat(new RoutingPolicy.CheapestWithinMargin(0.05).choose(q, c)).isEqualTo(1);
        assertThat(new RoutingPolicy.CheapestWithinMargin(0.5).choose(q, c)).isEqualTo(2);
        assertThat(new RoutingPolicy.MaxUtility(0.0).choose(q, c)).isZero();
        assertThat(new RoutingPolicy.MaxUtility(0.01).choose(q, c)).isEqualTo(1); // 0.8 vs 0.83 vs 0.49
        assertThat(new RoutingPolicy.MaxUtility(Double.POSITIVE_INFINITY).choose(q, c)).isEqualTo(2);
        assertThat(new RoutingPolicy.BestQuality().choose(new double[] {1, 1}, new double[] {5, 3})).isEqualTo(1); // tie -> cheaper
        assertThat(RoutingPolicy.parse("margin:0.1")).isEqualTo(new RoutingPolicy.CheapestWithinMargin(0.1));
        assertThatThrownBy(() -> RoutingPolicy.parse("fastest")).hasMessageContaining("unknown routing policy 'fastest'");
        assertThatThrownBy(() -> new RoutingPolicy.MaxUtility(-1)).hasMessageContaining("lambda");
    }

    @Test
    void feedbackExtendsTheIndexOnline() {
        HashingEmbedder emb = new HashingEmbedder(64);
        KnnRouter r = new KnnRouter(new ExactIndex(64), 2, 1, KnnRouter.Weighting.UNIFORM);
        ModelChooser chooser = new ModelChooser(emb, r, List.of("small", "large"));
        chooser.feedback("what is the integral of x squared", Map.of("small", 0.0, "large", 1.0), Map.of("small", 1.0, "large", 5.0));
        chooser.feedback("name a colour of the sky", Map.of("small", 1.0, "large", 1.0), Map.of("small", 1.0, "large", 5.0));
        assertThat(r.size()).isEqualTo(2);
        assertThat(chooser.choose("what is the integral of x cubed", new RoutingPolicy.BestQuality()).model()).isEqualTo("large");
        assertThat(chooser.choose("name a colour of grass", new RoutingPolicy.BestQuality()).model()).isEqualTo("small");
        assertThat(chooser.choose("what is the integral of x cubed", new RoutingPolicy.BestQuality(), List.of("small")).model()).isEqualTo("small");
        assertThatThrownBy(() -> chooser.feedback("x", Map.of("gpt-9", 1.0), null)).hasMessageContaining("unknown model 'gpt-9'");
    }
}
