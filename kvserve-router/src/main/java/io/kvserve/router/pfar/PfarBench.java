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

    /** Settings. */
    public record Config(List<Shape> shapes, List<Double> budgets, int k, double ilpLimitSeconds, double maxDemand, int priorities, long seed) {
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
            List<Flow> flows = TopologyGenerator.flows(g, s.flows(), cfg.maxDemand(), cfg.priorities(), seed + 1);
            PfarInstance inst = PfarInstance.of(g, flows, cfg.k());
            PfarSolution greedy = GreedySolver.solve(inst);
            PfarSolution ilp = IlpSolver.solve(inst, cfg.ilpLimitSeconds(), greedy.choice());
            log.accept(String.format("%s n=%d links=%d flows=%d: ILP %.2f s %s objective %.1f (admits %d), greedy %.3f of it",
                    s.topology(), s.nodes(), g.links().size(), s.flows(), ilp.seconds(), ilp.optimal() ? "optimal" : "NOT proven optimal",
                    ilp.objective(), ilp.admitted(), greedy.objective() / ilp.objective()));
            for (double b : cfg.budgets()) {
                PfarSolution ga = GeneticSolver.defaults().solve(inst, Duration.ofMillis(Math.round(b * 1000)), seed + 7);
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
                rows.add(o);
                log.accept(String.format("   GA %.1f s: %.4f of ILP", b, ga.objective() / ilp.objective()));
            }
        }
        return rows;
    }

    static double round(double x) {
        return Math.round(x * 1e4) / 1e4;
    }

    /** A Markdown table of the rows. */
    public static String table(List<Map<String, Object>> rows) {
        StringBuilder sb = new StringBuilder("| topology | nodes | links | flows | ILP s | optimal | ILP gap | ILP admits | greedy/ILP | GA budget s | GA/ILP | GA/bound |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> r : rows) {
            sb.append(String.format("| %s | %s | %s | %s | %.2f | %s | %.4f | %s | %.3f | %s | %.3f | %.3f |%n", r.get("topology"), r.get("nodes"), r.get("links"), r.get("flows"),
                    (double) r.get("ilp_seconds"), r.get("ilp_optimal"), (double) r.get("ilp_gap"), r.get("ilp_admitted"), (double) r.get("greedy_ratio"),
                    r.get("ga_budget_s"), (double) r.get("ga_ratio"), (double) r.get("ga_ratio_to_bound")));
        }
        return sb.toString();
    }
}
