package io.kvserve.router.pfar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import java.util.List;
import org.junit.jupiter.api.Test;

class ReducedProgramTest {
    /**
     * Nodes 0 -> 1 over one link of capacity 10, plus a spare link 2 -> 3 of capacity 100. Flows: three identical
     * (0 -> 1, demand 4, priority 1), one too big for the link (demand 12), one (0 -> 1, demand 3, priority 5), one on
     * the spare link. By hand: the priority-5 flow (value 15) and one of the three (4) fill 7 of 10; two of the three
     * would need 11. Optimum 15 + 4 + 2 x 1 (the spare flow) = 21.
     */
    static PfarInstance handMade() {
        Network g = new Network(4);
        g.addLink(0, 1, 10, 1);
        g.addLink(2, 3, 100, 1);
        List<Flow> flows = List.of(new Flow(0, 0, 1, 4, 1), new Flow(1, 0, 1, 4, 1), new Flow(2, 0, 1, 12, 1), new Flow(3, 0, 1, 4, 1),
                new Flow(4, 0, 1, 3, 5), new Flow(5, 2, 3, 1, 2));
        return PfarInstance.of(g, flows, 3);
    }

    @Test
    void identicalFlowsShareOneClassUnfitPathsAndSlackLinksDropOut() {
        ReducedProgram rp = new ReducedProgram(handMade());
        assertThat(rp.classes).hasSize(3); // {0,1,3}, {4}, {5}; flow 2 fits no path
        assertThat(rp.classes.getFirst().flows()).containsExactly(0, 1, 3);
        assertThat(rp.droppedPaths).isEqualTo(1);
        assertThat(rp.variables()).isEqualTo(3);
        // link 0: worst case 3 x 4 + 3 = 15 > 10 binds; link 1 carries at most 1 of its 100: no row
        assertThat(rp.rows).hasSize(1);
        assertThat(rp.rows.getFirst().link().id()).isEqualTo(0);
        // counts and choices round trip: the class's flows fill its paths in id order
        int[] choice = {0, 1, 0, 1, 1, 1};
        int[][] z = rp.counts(choice);
        assertThat(z[0]).containsExactly(2);
        assertThat(rp.expand(z)).containsExactly(1, 1, 0, 0, 1, 1);
    }

    @Test
    void everyProgramFindsTheHandComputedOptimum() {
        PfarInstance inst = handMade();
        for (IlpSolver.Method m : IlpSolver.Method.values()) {
            PfarSolution s = IlpSolver.solve(inst, m, 10, null, 2);
            assertThat(s.optimal()).as(m.label()).isTrue();
            assertThat(s.objective()).as(m.label()).isCloseTo(21.0, offset(1e-9));
            assertThat(inst.evaluate(s.choice())).isEqualTo(21.0);
            assertThat(s.choice()[2]).isZero();
            assertThat(s.choice()[4]).isEqualTo(1);
            int ofClass = (s.choice()[0] > 0 ? 1 : 0) + (s.choice()[1] > 0 ? 1 : 0) + (s.choice()[3] > 0 ? 1 : 0);
            assertThat(ofClass).as(m.label()).isEqualTo(1);
        }
    }

    @Test
    void theCardFlowModelDrawsWholeDemandsAndValuesPriorities() {
        Network g = TopologyGenerator.waxman(8, 0.6, 0.6, 3);
        List<Flow> card = TopologyGenerator.flows(g, 300, 20, 5, 9, TopologyGenerator.FlowModel.CARD);
        List<Flow> weighted = TopologyGenerator.flows(g, 300, 20, 5, 9);
        for (int i = 0; i < card.size(); i++) {
            Flow c = card.get(i), w = weighted.get(i);
            assertThat(c.demand()).isBetween(1.0, 20.0).isEqualTo(Math.rint(c.demand()));
            assertThat(c.value()).isEqualTo(c.priority());
            assertThat(w.value()).isEqualTo(w.priority() * w.demand());
            assertThat(List.of(c.source(), c.target(), c.priority())).isEqualTo(List.of(w.source(), w.target(), w.priority()));
        }
        assertThat(card.stream().mapToDouble(Flow::demand).distinct().count()).isEqualTo(20);
    }
}
