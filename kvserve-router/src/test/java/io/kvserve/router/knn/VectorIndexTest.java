package io.kvserve.router.knn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvserve.router.embed.Embedder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class VectorIndexTest {
    static List<float[]> randomUnit(int n, int dim, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] v = new float[dim];
            for (int j = 0; j < dim; j++) v[j] = (float) r.nextGaussian();
            out.add(Embedder.normalize(v));
        }
        return out;
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void exactIndexMatchesSortingEveryDistance() {
        List<float[]> vs = randomUnit(1021, 33, 1);
        ExactIndex idx = new ExactIndex(33);
        vs.forEach(idx::add);
        float[] q = randomUnit(1, 33, 2).getFirst();
        List<Integer> expected = IntStream.range(0, vs.size()).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -dot(vs.get(i), q))).limit(13).toList();
        List<Neighbour> got = idx.search(q, 13);
        assertThat(got).extracting(Neighbour::id).containsExactlyElementsOf(expected);
        assertThat(got.getFirst().similarity()).isCloseTo((float) dot(vs.get(expected.getFirst()), q), org.assertj.core.data.Offset.offset(1e-5f));
        assertThat(idx.search(q, 5000)).hasSize(1021);
        assertThat(new ExactIndex(4).search(new float[4], 3)).isEmpty();
        assertThatThrownBy(() -> idx.add(new float[5])).hasMessageContaining("dimension 5");
    }

    @Test
    void hnswRecallAgainstExactIsHigh() {
        int dim = 32;
        List<float[]> vs = randomUnit(1500, dim, 3);
        ExactIndex exact = new ExactIndex(dim);
        try (HnswIndex hnsw = new HnswIndex(dim, 100)) {
            for (float[] v : vs) {
                exact.add(v);
                hnsw.add(v);
            }
            int hits = 0, total = 0;
            for (float[] q : randomUnit(50, dim, 4)) {
                var e = exact.search(q, 10).stream().map(Neighbour::id).toList();
                var h = hnsw.search(q, 10);
                assertThat(h).hasSize(10);
                for (Neighbour n : h) {
                    if (e.contains(n.id())) hits++;
                    assertThat(n.similarity()).isCloseTo((float) dot(vs.get(n.id()), q), org.assertj.core.data.Offset.offset(1e-4f));
                }
                total += 10;
            }
            assertThat(hits / (double) total).isGreaterThan(0.9);
            // online adds are visible to the next search
            float[] probe = randomUnit(1, dim, 99).getFirst();
            int id = hnsw.add(probe);
            assertThat(hnsw.search(probe, 1).getFirst().id()).isEqualTo(id);
            assertThat(hnsw.size()).isEqualTo(1501);
        }
    }
}
