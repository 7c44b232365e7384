package io.kvserve.router.pfar;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The PFAR experiment at the paper's scale: for each generated instance, the ILP's time to optimality and the GA's
 * objective as a share of the ILP's at fixed wall-clock budgets.
 */
public final class PfarBench {
    /** One instance shape. */
    public record Shape(String topology, int nodes, int flows) {}

    /**
     * Settings. {@code ilp} lists the programs run on every instance (one set of rows each, back to back on the same
     * instance); {@code ilpWorkers} is CP-SAT's worker count; {@code gaHintSeconds} &gt; 0 runs the GA that long first and
     * gives its solution to the ILP as the hint (the time counts in {@code ilp_seconds}), else the greedy solution is the
     * hint.
     */
    public record Config(List<Shape> shapes, List<Double> budgets, int k, double ilpLimitSeconds, double maxDemand, int priorities, long seed,
                         TopologyGenerator.FlowModel flowModel, List<IlpSolver.Method> ilp, int ilpWorkers, double gaHintSeconds) {
        public Config {
            if (ilp.isEmpty()) throw new IllegalArgumentException("no ILP method to run");
            if (ilpWorkers < 1) throw new IllegalArgumentException("ILP workers " + ilpWorkers + " must be >= 1");
            if (gaHintSeconds < 0) throw new IllegalArgumentException("GA hint time " + gaHintSeconds + " must be >= 0");
        }

        /** The first benchmark's settings: weighted-demand flows, the reduced program on SCIP, greedy hint. */
        public Config(List<Shape> shapes, List<Double> budgets, int k, double ilpLimitSeconds, double maxDemand, int priorities, long seed) {
            this(shapes, budgets, k, ilpLimitSeconds, maxDemand, priorities, seed, TopologyGenerator.FlowModel.WEIGHTED_DEMAND, List.of(IlpSolver.Method.SCIP), 2, 0);
        }

        public static Config defaults() {
            List<Shape> shapes = new ArrayList<>();
            for (String t : List.of("waxman", "barabasi-albert")) {
                shapes.add(new Shape(t, 10, 200));
                shapes.add(new Shape(t, 20, 500));
                shapes.add(new Shape(t, 30, 1000));
                shapes.add(new Shape(t, 50, 2000));
            }
            return new Config(shapes, List.of(0.1, 1.0, 5.0), 5, 60, 20, 5, 2020);
        }
    }

    private PfarBench() {}

    public static Network topology(Shape s, long seed) {
        return switch (s.topology()) {
            case "waxman" -> TopologyGenerator.waxman(s.nodes(), 0.4, 0.4, seed);
            case "barabasi-albert", "ba" -> TopologyGenerator.barabasiAlbert(s.nodes(), 2, seed);
            default -> throw new IllegalArgumentException("unknown topology '" + s.topology() + "': use waxman or barabasi-albert");
        };
    }

    public static List<Map<String, Object>> run(Config cfg, Consumer<String> log) {
        List<Map<String, Object>> rows = new ArrayList<>();
        int i = 0;
        for (Shape s : cfg.shapes()) {
            long seed = cfg.seed() + 1000L * i++;
            Network g = topology(s, seed);
            List<Flow> flows = TopologyGenerator.flows(g, s.flows(), cfg.maxDemand(), cfg.priorities(), seed + 1, cfg.flowModel());
            PfarInstance inst = PfarInstance.of(g, flows, cfg.k());
            PfarSolution greedy = GreedySolver.solve(inst);
            List<PfarSolution> gas = new ArrayList<>();
            for (double b : cfg.budgets()) gas.add(GeneticSolver.defaults().solve(inst, Duration.ofMillis(Math.round(b * 1000)), seed + 7));
            for (IlpSolver.Method method : cfg.ilp()) {
                double hintSeconds = 0;
                int[] hint = greedy.choice();
                if (cfg.gaHintSeconds() > 0) {
                    PfarSolution h = GeneticSolver.defaults().solve(inst, Duration.ofMillis(Math.round(cfg.gaHintSeconds() * 1000)), seed + 11);
                    hint = h.choice();
                    hintSeconds = h.seconds();
                }
                long cpu0 = processCpuNanos();
                PfarSolution solved = IlpSolver.solve(inst, method, Math.max(0.01, cfg.ilpLimitSeconds() - hintSeconds), hint, cfg.ilpWorkers());
                double cpuSeconds = (processCpuNanos() - cpu0) / 1e9;
                PfarSolution ilp = new PfarSolution(solved.choice(), solved.objective(), solved.seconds() + hintSeconds, solved.optimal(), solved.bound());
                log.accept(String.format("%s n=%d links=%d flows=%d %s: ILP %.2f s (%.2f s CPU) %s objective %.1f (admits %d, gap %.3f%%), greedy %.3f of it",
                        s.topology(), s.nodes(), g.links().size(), s.flows(), method.label(), ilp.seconds(), cpuSeconds, ilp.optimal() ? "optimal" : "NOT proven optimal",
                        ilp.objective(), ilp.admitted(), 100 * (ilp.bound() - ilp.objective()) / ilp.objective(), greedy.objective() / ilp.objective()));
                for (int bi = 0; bi < cfg.budgets().size(); bi++) {
                    double b = cfg.budgets().get(bi);
                    PfarSolution ga = gas.get(bi);
                    Map<String, Object> o = new LinkedHashMap<>();
                    o.put("topology", s.topology());
                    o.put("nodes", s.nodes());
                    o.put("links", g.links().size());
                    o.put("flows", s.flows());
                    o.put("k_paths", cfg.k());
                    o.put("ilp_seconds", round(ilp.seconds()));
                    o.put("ilp_optimal", ilp.optimal());
                    o.put("ilp_objective", round(ilp.objective()));
                    o.put("ilp_bound", round(ilp.bound()));
                    o.put("ilp_admitted", ilp.admitted());
                    o.put("ilp_gap", round((ilp.bound() - ilp.objective()) / ilp.objective()));
                    o.put("greedy_ratio", round(greedy.objective() / ilp.objective()));
                    o.put("ga_budget_s", b);
                    o.put("ga_seconds", round(ga.seconds()));
                    o.put("ga_objective", round(ga.objective()));
                    o.put("ga_admitted", ga.admitted());
                    o.put("ga_ratio", round(ga.objective() / ilp.objective()));
                    o.put("ga_ratio_to_bound", round(ga.objective() / ilp.bound()));
                    o.put("ilp_solver", method.label());
                    // on a shared machine the wall limit buys a varying amount of CPU: this is what the solve actually got
                    o.put("ilp_cpu_seconds", round(cpuSeconds));
                    o.put("ilp_hint", cfg.gaHintSeconds() > 0 ? "ga" : "greedy");
                    o.put("ilp_hint_seconds", round(hintSeconds));
                    o.put("flow_model", cfg.flowModel().name().toLowerCase(java.util.Locale.ROOT));
                    rows.add(o);
                    if (method == cfg.ilp().getFirst()) log.accept(String.format("   GA %.1f s: %.4f of ILP", b, ga.objective() / ilp.objective()));
                }
            }
        }
        return rows;
    }

    /** CPU time of this process (all threads: CP-SAT's workers too), or wall time where the JVM cannot tell. */
    static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long t = os.getProcessCpuTime();
            if (t >= 0) return t;
        }
        return System.nanoTime();
    }

    static double round(double x) {
        return Math.round(x * 1e4) / 1e4;
    }

    /** A Markdown table of the rows. */
    public static String table(List<Map<String, Object>> rows) {
        StringBuilder sb = new StringBuilder("| topology | nodes | links | flows | ILP | ILP s | ILP CPU s | optimal | ILP gap | ILP admits | greedy/ILP | GA budget s | GA/ILP | GA/bound |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> r : rows) {
            sb.append(String.format("| %s | %s | %s | %s | %s | %.2f | %.2f | %s | %.4f | %s | %.3f | %s | %.3f | %.3f |%n", r.get("topology"), r.get("nodes"), r.get("links"), r.get("flows"), r.get("ilp_solver"),
                    (double) r.get("ilp_seconds"), (double) r.get("ilp_cpu_seconds"), r.get("ilp_optimal"), (double) r.get("ilp_gap"), r.get("ilp_admitted"), (double) r.get("greedy_ratio"),
                    r.get("ga_budget_s"), (double) r.get("ga_ratio"), (double) r.get("ga_ratio_to_bound")));
        }
        return sb.toString();
    }
}
