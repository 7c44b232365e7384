package io.kvserve.router.pfar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class PfarSolversTest {
    /** Exhaustive search over every choice vector: the oracle for tiny instances. */
    static double bruteForce(PfarInstance inst) {
        int nf = inst.flows().size();
        int[] c = new int[nf];
        double best = 0;
        while (true) {
            try {
                best = Math.max(best, inst.evaluate(c));
            } catch (IllegalStateException overloaded) {
                // infeasible: skip
            }
            int i = 0;
            while (i < nf && ++c[i] > inst.candidates().get(i).size()) c[i++] = 0;
            if (i == nf) return best;
        }
    }

    static PfarInstance tiny(long seed, int flows) {
        Network g = TopologyGenerator.waxman(6, 0.6, 0.6, seed);
        return PfarInstance.of(g, TopologyGenerator.flows(g, flows, 150, 5, seed + 1), 2);
    }

    @Test
    void ilpMatchesExhaustiveSearchOnTinyInstances() {
        for (long seed = 1; seed <= 4; seed++) {
            PfarInstance inst = tiny(seed, 8);
            double best = bruteForce(inst);
            for (IlpSolver.Method m : IlpSolver.Method.values()) {
                PfarSolution s = IlpSolver.solve(inst, m, 20, GreedySolver.solve(inst).choice(), 2);
                assertThat(s.optimal()).as("%s seed %d", m.label(), seed).isTrue();
                assertThat(s.objective()).as("%s seed %d", m.label(), seed).isCloseTo(best, org.assertj.core.data.Offset.offset(1e-6));
                assertThat(inst.evaluate(s.choice())).isEqualTo(s.objective()); // feasible
            }
        }
    }

    @Test
    void priorityWinsABottleneck() {
        // one link of capacity 10; a priority-5 flow of 8 and two priority-1 flows of 5: the ILP keeps the first (40 > 10)
        Network g = new Network(2);
        g.addLink(0, 1, 10, 1);
        List<Flow> flows = List.of(new Flow(0, 0, 1, 5, 1), new Flow(1, 0, 1, 8, 5), new Flow(2, 0, 1, 5, 1));
        PfarInstance inst = PfarInstance.of(g, flows, 3);
        PfarSolution s = IlpSolver.solve(inst, 5, null);
        assertThat(s.choice()).containsExactly(0, 1, 0);
        assertThat(s.objective()).isEqualTo(40.0);
        assertThat(GreedySolver.solve(inst).choice()).containsExactly(0, 1, 0);
    }

    @Test
    void geneticNeverBeatsTheOptimumAndReachesItOnTinyInstances() {
        for (long seed = 1; seed <= 3; seed++) {
            PfarInstance inst = tiny(seed, 8);
            double opt = IlpSolver.solve(inst, 20, null).objective();
            PfarSolution ga = new GeneticSolver(20).solveGenerations(inst, 60, seed);
            assertThat(inst.evaluate(ga.choice())).isEqualTo(ga.objective());
            assertThat(ga.objective()).isLessThanOrEqualTo(opt + 1e-6);
            assertThat(ga.objective()).as("seed %d", seed).isCloseTo(opt, org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    @Test
    void geneticIsDeterministicForASeedAndRespectsItsBudget() {
        Network g = TopologyGenerator.barabasiAlbert(15, 2, 3);
        PfarInstance inst = PfarInstance.of(g, TopologyGenerator.flows(g, 100, 40, 5, 4), 3);
        PfarSolution a = new GeneticSolver(20).solveGenerations(inst, 10, 9);
        PfarSolution b = new GeneticSolver(20).solveGenerations(inst, 10, 9);
        assertThat(a.choice()).containsExactly(b.choice());
        PfarSolution timed = GeneticSolver.defaults().solve(inst, Duration.ofMillis(300), 1);
        assertThat(timed.seconds()).isLessThan(2.0);
        assertThat(timed.objective()).isGreaterThanOrEqualTo(GreedySolver.solve(inst).objective());
        assertThat(timed.objective()).isLessThanOrEqualTo(IlpSolver.solve(inst, 30, null).bound() + 1e-6);
    }

    @Test
    void decoderAlwaysYieldsAFeasibleSolution() {
        PfarInstance inst = tiny(7, 40);
        GeneticSolver.Repair repair = new GeneticSolver.Repair(inst);
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        for (int t = 0; t < 200; t++) {
            int[] genes = new int[40], keys = new int[40];
            for (int f = 0; f < 40; f++) {
                genes[f] = r.nextInt(4);
                keys[f] = r.nextInt(GeneticSolver.KEYS);
            }
            int[] c = repair.repaired(genes, keys);
            assertThat(inst.evaluate(c)).isEqualTo(repair.value(genes, keys));
        }
    }

    @Test
    void invalidInputIsRejectedClearly() {
        Network g = new Network(3);
        assertThatThrownBy(() -> g.addLink(0, 5, 1, 1)).hasMessageContaining("link 0->5");
        assertThatThrownBy(() -> new Flow(0, 1, 1, 1, 1)).hasMessageContaining("source and target");
        assertThatThrownBy(() -> new Flow(0, 0, 1, -2, 1)).hasMessageContaining("demand -2");
        assertThatThrownBy(() -> PfarInstance.of(g, List.of(new Flow(0, 0, 7, 1, 1)), 2)).hasMessageContaining("outside nodes");
        PfarInstance ok = PfarInstance.of(g, List.of(new Flow(0, 0, 1, 1, 1)), 2);
        assertThatThrownBy(() -> ok.evaluate(new int[] {3})).hasMessageContaining("flow 0: path 3");
    }
}
