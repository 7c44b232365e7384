package io.kvserve.router.pfar;

import io.jenetics.Genotype;
import io.jenetics.IntegerChromosome;
import io.jenetics.IntegerGene;
import io.jenetics.Mutator;
import io.jenetics.TournamentSelector;
import io.jenetics.UniformCrossover;
import io.jenetics.engine.Engine;
import io.jenetics.engine.EvolutionInit;
import io.jenetics.engine.EvolutionResult;
import io.jenetics.engine.Limits;
import io.jenetics.util.ISeq;
import io.jenetics.util.RandomRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The PFAR heuristic: a genetic algorithm (Jenetics) that runs for a fixed wall-clock budget. One gene per flow: 0
 * rejects it, i routes it on its i-th candidate path (genes above a flow's path count wrap around). Each individual
 * is repaired into a feasible solution before scoring: while a link is overloaded, the flow with the lowest
 * priority per unit of demand on the most overloaded link is rejected; rejected flows are then re-admitted greedily in
 * descending priority. Fitness is the repaired objective. Tournament selection (3), uniform crossover, mutation
 * 1/|F| per gene, elitism through Jenetics' survivor selection; the initial population holds the greedy solution.
 *
 * @param populationSize individuals per generation (default 60)
 */
public record GeneticSolver(int populationSize) {
    public GeneticSolver {
        if (populationSize < 4) throw new IllegalArgumentException("population " + populationSize + " < 4");
    }

    public static GeneticSolver defaults() {
        return new GeneticSolver(60);
    }

    /** Runs for {@code budget} wall time. */
    public PfarSolution solve(PfarInstance inst, Duration budget, long seed) {
        return run(inst, budget, -1, seed);
    }

    /** Runs a fixed number of generations (deterministic for a seed). */
    public PfarSolution solveGenerations(PfarInstance inst, int generations, long seed) {
        return run(inst, null, generations, seed);
    }

    private PfarSolution run(PfarInstance inst, Duration budget, int generations, long seed) {
        long t0 = System.nanoTime();
        int nf = inst.flows().size();
        int maxK = Math.max(1, inst.maxPaths());
        Repair repair = new Repair(inst);
        int[] greedy = GreedySolver.solve(inst).choice();
        SplittableRandom rnd = new SplittableRandom(seed);
        Genotype<IntegerGene> best = RandomRegistry.with(new SplittableRandom(seed ^ 0x5DEECE66DL), r -> {
            Engine<IntegerGene, Double> engine = Engine.builder((Genotype<IntegerGene> g) -> repair.value(decode(g)), Genotype.of(IntegerChromosome.of(0, maxK, nf)))
                    .populationSize(populationSize)
                    .selector(new TournamentSelector<>(3))
                    .alterers(new UniformCrossover<>(0.3, 0.2), new Mutator<>(Math.min(1.0, 1.0 / Math.max(1, nf))))
                    .executor(Runnable::run)
                    .build();
            List<Genotype<IntegerGene>> init = new ArrayList<>();
            init.add(encode(greedy, maxK));
            init.add(encode(repair.repaired(shortestAll(nf)), maxK));
            while (init.size() < populationSize) {
                int[] c = new int[nf];
                for (int f = 0; f < nf; f++) c[f] = rnd.nextInt(maxK + 1);
                init.add(encode(c, maxK));
            }
            var stream = engine.stream(EvolutionInit.of(ISeq.of(init), 1));
            var limited = budget != null ? stream.limit(Limits.byExecutionTime(budget)) : stream.limit(generations);
            return limited.collect(EvolutionResult.toBestGenotype());
        });
        int[] choice = repair.repaired(decode(best));
        return new PfarSolution(choice, inst.evaluate(choice), (System.nanoTime() - t0) / 1e9, false, inst.totalValue());
    }

    private static int[] shortestAll(int nf) {
        int[] c = new int[nf];
        Arrays.fill(c, 1);
        return c;
    }

    static int[] decode(Genotype<IntegerGene> g) {
        var ch = g.chromosome();
        int[] c = new int[ch.length()];
        for (int i = 0; i < c.length; i++) c[i] = ch.get(i).intValue();
        return c;
    }

    static Genotype<IntegerGene> encode(int[] choice, int maxK) {
        List<IntegerGene> genes = new ArrayList<>(choice.length);
        for (int c : choice) genes.add(IntegerGene.of(c, 0, maxK + 1));
        return Genotype.of(IntegerChromosome.of(genes));
    }

    /** Turns any gene vector into a feasible choice vector. */
    static final class Repair {
        private final PfarInstance inst;
        private final List<Integer> byPriority;

        Repair(PfarInstance inst) {
            this.inst = inst;
            this.byPriority = IntStream.range(0, inst.flows().size()).boxed()
                    .sorted(Comparator.comparingDouble((Integer f) -> -inst.flows().get(f).priority()).thenComparingDouble(f -> inst.flows().get(f).demand())).toList();
        }

        double value(int[] genes) {
            int[] c = repaired(genes);
            double v = 0;
            for (int f = 0; f < c.length; f++) if (c[f] > 0) v += inst.flows().get(f).value();
            return v;
        }

        int[] repaired(int[] genes) {
            int nf = genes.length;
            int[] c = new int[nf];
            for (int f = 0; f < nf; f++) {
                int paths = inst.candidates().get(f).size();
                c[f] = paths == 0 ? 0 : genes[f] % (paths + 1);
            }
            double[] load = inst.loads(c);
            List<Link> links = inst.network().links();
            // per link, the flows on it
            List<List<Integer>> on = new ArrayList<>();
            for (int l = 0; l < links.size(); l++) on.add(new ArrayList<>());
            for (int f = 0; f < nf; f++) if (c[f] > 0) for (int l : inst.candidates().get(f).get(c[f] - 1).links()) on.get(l).add(f);
            while (true) {
                int worst = -1;
                double over = 1e-9;
                for (Link l : links) {
                    double o = load[l.id()] - l.capacity();
                    if (o > over) {
                        over = o;
                        worst = l.id();
                    }
                }
                if (worst < 0) break;
                int victim = -1;
                double ratio = Double.POSITIVE_INFINITY;
                for (int f : on.get(worst)) {
                    if (c[f] == 0) continue;
                    Flow fl = inst.flows().get(f);
                    double r = fl.priority() / fl.demand();
                    if (r < ratio) {
                        ratio = r;
                        victim = f;
                    }
                }
                for (int l : inst.candidates().get(victim).get(c[victim] - 1).links()) load[l] -= inst.flows().get(victim).demand();
                c[victim] = 0;
            }
            double[] residual = new double[links.size()];
            for (Link l : links) residual[l.id()] = l.capacity() - load[l.id()];
            GreedySolver.admitInOrder(inst, byPriority, c, residual);
            return c;
        }
    }
}
