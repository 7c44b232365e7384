package io.kvserve.router.pfar;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class KShortestPathsTest {
    @Test
    void yenListsLoopFreePathsInWeightOrder() {
        // 0-1-3 (w 2), 0-2-3 (w 3), 0-1-2-3 (w 1+1+2=4), 0-2-1-3 (2+1+1=4)
        Network g = new Network(4);
        g.addBidirectional(0, 1, 10, 1);
        g.addBidirectional(1, 3, 10, 1);
        g.addBidirectional(0, 2, 10, 2);
        g.addBidirectional(2, 3, 10, 1);
        g.addBidirectional(1, 2, 10, 1);
        List<Path> ps = KShortestPaths.yen(g, 0, 3, 10);
        assertThat(ps).extracting(Path::weight).containsExactly(2.0, 3.0, 3.0, 4.0);
        assertThat(ps.getFirst().nodes()).containsExactly(0, 1, 3);
        assertThat(new HashSet<>(ps.stream().map(Path::nodes).toList())).hasSize(ps.size());
        for (Path p : ps) {
            assertThat(new HashSet<>(p.nodes())).hasSize(p.nodes().size()); // loop-free
            for (int i = 0; i < p.links().size(); i++) {
                Link l = g.link(p.links().get(i));
                assertThat(l.from()).isEqualTo(p.nodes().get(i));
                assertThat(l.to()).isEqualTo(p.nodes().get(i + 1));
            }
        }
        assertThat(KShortestPaths.yen(g, 0, 3, 2)).hasSize(2);
    }

    @Test
    void unreachableTargetHasNoPath() {
        Network g = new Network(3);
        g.addLink(0, 1, 5, 1);
        assertThat(KShortestPaths.yen(g, 0, 2, 3)).isEmpty();
        assertThat(KShortestPaths.yen(g, 1, 0, 3)).isEmpty();
    }
}
