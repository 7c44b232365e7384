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
 * The PFAR heuristic: a genetic algorithm (Jenetics) that runs for a fixed wall-clock budget. Two genes per flow: a
 * path gene (0 = admit only in the second pass, i = prefer its i-th candidate path; genes above a flow's path count
 * wrap around) and a random key that, scaled by the flow's priority per unit of demand, sets the admission order. The
 * decoder admits flows in that order, each on its preferred path if it fits, else on its first candidate that fits;
 * so every individual is feasible. Fitness is the admitted priority-weighted demand. Tournament selection (3),
 * uniform crossover, mutation 3/|F| per gene; the initial population holds the greedy solution (keys all equal,
 * shortest paths).
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
            Engine<IntegerGene, Double> engine = Engine.builder((Genotype<IntegerGene> g) -> repair.value(genes(g), keys(g)),
                            Genotype.of(IntegerChromosome.of(0, maxK, nf), IntegerChromosome.of(0, KEYS - 1, nf)))
                    .populationSize(populationSize)
                    .selector(new TournamentSelector<>(3))
                    .alterers(new UniformCrossover<>(0.3, 0.2), new Mutator<>(Math.min(1.0, 3.0 / Math.max(1, nf))))
                    .executor(Runnable::run)
                    .build();
            List<Genotype<IntegerGene>> init = new ArrayList<>();
            int[] flat = new int[nf];
            java.util.Arrays.fill(flat, KEYS / 2);
            init.add(encode(shortestAll(nf), flat, maxK));
            init.add(encode(greedy, flat, maxK));
            while (init.size() < populationSize) {
                int[] c = new int[nf], k = new int[nf];
                for (int f = 0; f < nf; f++) {
                    c[f] = rnd.nextInt(maxK + 1);
                    k[f] = rnd.nextInt(KEYS);
                }
                init.add(encode(c, k, maxK));
            }
            var stream = engine.stream(EvolutionInit.of(ISeq.of(init), 1)).limit(er -> {
                if (DEBUG && er.generation() % 20 == 0) System.err.println("gen " + er.generation() + " best " + er.bestFitness() + " worst " + er.worstFitness());
                return true;
            });
            var limited = budget != null ? stream.limit(Limits.byExecutionTime(budget)) : stream.limit(generations);
            return limited.collect(EvolutionResult.toBestGenotype());
        });
        int[] choice = repair.repaired(genes(best), keys(best));
        return new PfarSolution(choice, inst.evaluate(choice), (System.nanoTime() - t0) / 1e9, false, inst.totalValue());
    }

    private static int[] shortestAll(int nf) {
        int[] c = new int[nf];
        Arrays.fill(c, 1);
        return c;
    }

    static final int KEYS = 1000;
    static final boolean DEBUG = Boolean.getBoolean("kvserve.pfar.debug");

    static int[] genes(Genotype<IntegerGene> g) {
        return ints(g.get(0));
    }

    static int[] keys(Genotype<IntegerGene> g) {
        return ints(g.get(1));
    }

    private static int[] ints(io.jenetics.Chromosome<IntegerGene> ch) {
        int[] c = new int[ch.length()];
        for (int i = 0; i < c.length; i++) c[i] = ch.get(i).intValue();
        return c;
    }

    static Genotype<IntegerGene> encode(int[] choice, int[] keys, int maxK) {
        List<IntegerGene> genes = new ArrayList<>(choice.length), ks = new ArrayList<>(keys.length);
        for (int c : choice) genes.add(IntegerGene.of(c, 0, maxK + 1));
        for (int k : keys) ks.add(IntegerGene.of(k, 0, KEYS));
        return Genotype.of(IntegerChromosome.of(genes), IntegerChromosome.of(ks));
    }

    /** Turns any (path genes, keys) pair into a feasible choice vector. Primitive arrays: it runs per fitness call. */
    static final class Repair {
        private final int nf;
        private final double[] demand, value, base, density;
        private final int[][][] paths; // (flow, path, link ids)
        private final double[] capacity;

        Repair(PfarInstance inst) {
            nf = inst.flows().size();
            demand = new double[nf];
            value = new double[nf];
            base = new double[nf];
            density = new double[nf];
            paths = new int[nf][][];
            for (int f = 0; f < nf; f++) {
                Flow fl = inst.flows().get(f);
                demand[f] = fl.demand();
                value[f] = fl.value();
                base[f] = fl.priority() * 1e3;
                density[f] = fl.priority() / fl.demand();
                List<Path> ps = inst.candidates().get(f);
                paths[f] = new int[ps.size()][];
                for (int p = 0; p < ps.size(); p++) paths[f][p] = ps.get(p).links().stream().mapToInt(Integer::intValue).toArray();
            }
            capacity = inst.network().links().stream().mapToDouble(Link::capacity).toArray();
        }

        double value(int[] genes, int[] keys) {
            int[] c = repaired(genes, keys);
            double v = 0;
            for (int f = 0; f < c.length; f++) if (c[f] > 0) v += value[f];
            return v;
        }

        int[] repaired(int[] genes, int[] keys) {
            // priority dominates; the key reorders flows within a priority and trades demand against it
            long[] order = new long[nf];
            for (int f = 0; f < nf; f++) {
                float score = (float) (base[f] + density[f] * (0.5 + keys[f] / (double) KEYS));
                // descending score: flip the (positive) float's bits; the low half carries the flow id
                order[f] = ((long) (Integer.MAX_VALUE - Float.floatToIntBits(score)) << 32) | f;
            }
            Arrays.sort(order);
            double[] residual = capacity.clone();
            int[] c = new int[nf];
            for (int pass = 0; pass < 2; pass++) {
                for (long o : order) {
                    int f = (int) o;
                    if (c[f] != 0) continue;
                    int[][] ps = paths[f];
                    if (ps.length == 0) continue;
                    int g = genes[f] % (ps.length + 1);
                    if (pass == 0 && g == 0) continue;
                    double d = demand[f];
                    if (g > 0 && fits(ps[g - 1], d, residual)) {
                        take(ps[g - 1], d, residual);
                        c[f] = g;
                        continue;
                    }
                    for (int p = 0; p < ps.length; p++) {
                        if (fits(ps[p], d, residual)) {
                            take(ps[p], d, residual);
                            c[f] = p + 1;
                            break;
                        }
                    }
                }
            }
            return c;
        }

        private static boolean fits(int[] links, double d, double[] residual) {
            for (int l : links) if (residual[l] < d - 1e-9) return false;
            return true;
        }

        private static void take(int[] links, double d, double[] residual) {
            for (int l : links) residual[l] -= d;
        }
    }
}
