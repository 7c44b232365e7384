package io.kvserve.router.plot;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Plots of the PFAR benchmark rows. */
public final class PfarCharts {
    private PfarCharts() {}

    public static void write(List<Map<String, Object>> rows, Path dir) {
        Map<String, double[][]> ga = new LinkedHashMap<>();
        Map<String, List<Map<String, Object>>> byInstance = new LinkedHashMap<>();
        Object firstSolver = rows.isEmpty() ? null : rows.getFirst().get("ilp_solver");
        for (Map<String, Object> r : rows) {
            if (firstSolver != null && !firstSolver.equals(r.get("ilp_solver"))) continue; // plots show the first ILP method
            byInstance.computeIfAbsent(r.get("topology") + " n=" + r.get("nodes") + " F=" + r.get("flows"), k -> new java.util.ArrayList<>()).add(r);
        }
        byInstance.forEach((name, rs) -> ga.put(name, new double[][] {
                rs.stream().mapToDouble(r -> ((Number) r.get("ga_budget_s")).doubleValue()).toArray(),
                rs.stream().mapToDouble(r -> ((Number) r.get("ga_ratio")).doubleValue()).toArray()}));
        Charts.lines("PFAR: GA objective / best ILP solution vs GA time budget", "GA budget (s)", "GA / ILP incumbent", ga, true, dir.resolve("pfar_ga_ratio.png"));
        Map<String, double[][]> ilp = new LinkedHashMap<>();
        Map<Object, List<Map<String, Object>>> byTopo = new LinkedHashMap<>();
        byInstance.values().forEach(rs -> byTopo.computeIfAbsent(rs.getFirst().get("topology"), k -> new java.util.ArrayList<>()).add(rs.getFirst()));
        byTopo.forEach((t, rs) -> ilp.put(t.toString(), new double[][] {
                rs.stream().mapToDouble(r -> ((Number) r.get("flows")).doubleValue()).toArray(),
                rs.stream().mapToDouble(r -> ((Number) r.get("ilp_seconds")).doubleValue()).toArray()}));
        Charts.lines("PFAR: ILP (OR-Tools SCIP, path formulation) wall time (capped at the limit)", "flows", "seconds", ilp, true, dir.resolve("pfar_ilp_time.png"));
    }
}
