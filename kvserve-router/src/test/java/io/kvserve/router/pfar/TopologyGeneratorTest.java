package io.kvserve.router.pfar;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TopologyGeneratorTest {
    static boolean allReachable(Network g) {
        for (int t = 1; t < g.nodes(); t++) if (KShortestPaths.yen(g, 0, t, 1).isEmpty()) return false;
        return true;
    }

    @Test
    void waxmanIsConnectedAndReproducible() {
        Network a = TopologyGenerator.waxman(30, 0.2, 0.3, 5);
        Network b = TopologyGenerator.waxman(30, 0.2, 0.3, 5);
        assertThat(allReachable(a)).isTrue();
        assertThat(a.links()).isEqualTo(b.links());
        assertThat(a.links().size() % 2).isZero();
        assertThat(TopologyGenerator.waxman(30, 0.2, 0.3, 6).links()).isNotEqualTo(a.links());
    }

    @Test
    void barabasiAlbertHasTheExpectedEdgeCount() {
        int n = 40, m = 2;
        Network g = TopologyGenerator.barabasiAlbert(n, m, 1);
        int undirected = m * (m + 1) / 2 + (n - m - 1) * m;
        assertThat(g.links()).hasSize(2 * undirected);
        assertThat(allReachable(g)).isTrue();
        assertThat(g.links()).allMatch(l -> l.capacity() == 100 || l.capacity() == 200 || l.capacity() == 400);
    }

    @Test
    void flowsHaveDistinctEndpointsAndBoundedDemand() {
        Network g = TopologyGenerator.barabasiAlbert(10, 2, 1);
        var flows = TopologyGenerator.flows(g, 500, 20, 5, 2);
        assertThat(flows).hasSize(500).allMatch(f -> f.source() != f.target() && f.demand() >= 1 && f.demand() <= 20 && f.priority() >= 1 && f.priority() <= 5);
        assertThat(flows.stream().mapToDouble(Flow::priority).distinct().count()).isEqualTo(5);
    }
}
