package io.kvserve.router.pfar;

import com.google.ortools.Loader;
import com.google.ortools.linearsolver.MPConstraint;
import com.google.ortools.linearsolver.MPObjective;
import com.google.ortools.linearsolver.MPSolver;
import com.google.ortools.linearsolver.MPVariable;
import java.util.ArrayList;
import java.util.List;

/**
 * The exact PFAR solver: the path-based integer program of the method card, solved with OR-Tools (SCIP by default,
 * CP-SAT as an alternative).
 * <pre>
 * maximise   sum_f p_f b_f sum_k y_fk
 * subject to sum_k y_fk &lt;= 1                       for every flow f   (admit on at most one path)
 *            sum_{f,k: e in P_fk} b_f y_fk &lt;= c_e    for every link e
 *            y_fk in {0,1}
 * </pre>
 * Exact over the K candidate paths of each flow.
 */
public final class IlpSolver {
    private static volatile boolean loaded;

    private IlpSolver() {}

    static synchronized void load() {
        if (!loaded) {
            Loader.loadNativeLibraries();
            loaded = true;
        }
    }

    /**
     * @param timeLimitSeconds wall limit; the result says whether optimality was proven
     * @param warmStart        a feasible choice vector given to the solver as a hint, or null
     */
    public static PfarSolution solve(PfarInstance inst, double timeLimitSeconds, int[] warmStart) {
        // SCIP found better incumbents than single-worker CP-SAT on the benchmark instances within the same limit
        return solveScip(inst, timeLimitSeconds, warmStart);
    }

    /** Demands, capacities and objective weights are scaled by this and rounded (demands up, capacities down) for CP-SAT. */
    static final double SCALE = 1000;

    /**
     * The same program on CP-SAT, which needs integer coefficients: demands are scaled by {@link #SCALE} and rounded
     * up, capacities rounded down, so a CP-SAT solution is always feasible for the real numbers; the returned
     * objective is recomputed from the real numbers.
     */
    public static PfarSolution solveCpSat(PfarInstance inst, double timeLimitSeconds, int[] warmStart, int workers) {
        load();
        long t0 = System.nanoTime();
        com.google.ortools.sat.CpModel model = new com.google.ortools.sat.CpModel();
        List<Flow> flows = inst.flows();
        List<Link> links = inst.network().links();
        com.google.ortools.sat.BoolVar[][] y = new com.google.ortools.sat.BoolVar[flows.size()][];
        List<List<com.google.ortools.sat.BoolVar>> onLink = new ArrayList<>();
        List<List<Long>> wOnLink = new ArrayList<>();
        for (int l = 0; l < links.size(); l++) {
            onLink.add(new ArrayList<>());
            wOnLink.add(new ArrayList<>());
        }
        List<com.google.ortools.sat.BoolVar> all = new ArrayList<>();
        List<Long> objW = new ArrayList<>();
        for (Flow f : flows) {
            List<Path> paths = inst.candidates().get(f.id());
            y[f.id()] = new com.google.ortools.sat.BoolVar[paths.size()];
            long d = (long) Math.ceil(f.demand() * SCALE - 1e-6);
            long w = Math.round(f.value() * SCALE);
            for (int k = 0; k < paths.size(); k++) {
                var v = model.newBoolVar("y" + f.id() + "_" + k);
                y[f.id()][k] = v;
                all.add(v);
                objW.add(w);
                for (int l : paths.get(k).links()) {
                    onLink.get(l).add(v);
                    wOnLink.get(l).add(d);
                }
                if (warmStart != null) model.addHint(v, warmStart[f.id()] == k + 1);
            }
            if (paths.size() > 1) model.addAtMostOne(y[f.id()]);
        }
        for (Link l : links) {
            if (onLink.get(l.id()).isEmpty()) continue;
            model.addLessOrEqual(com.google.ortools.sat.LinearExpr.weightedSum(onLink.get(l.id()).toArray(com.google.ortools.sat.BoolVar[]::new),
                    wOnLink.get(l.id()).stream().mapToLong(Long::longValue).toArray()), (long) Math.floor(l.capacity() * SCALE + 1e-6));
        }
        model.maximize(com.google.ortools.sat.LinearExpr.weightedSum(all.toArray(com.google.ortools.sat.BoolVar[]::new), objW.stream().mapToLong(Long::longValue).toArray()));
        com.google.ortools.sat.CpSolver solver = new com.google.ortools.sat.CpSolver();
        solver.getParameters().setMaxTimeInSeconds(timeLimitSeconds).setNumWorkers(workers).setRandomSeed(1);
        com.google.ortools.sat.CpSolverStatus status = solver.solve(model);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (status != com.google.ortools.sat.CpSolverStatus.OPTIMAL && status != com.google.ortools.sat.CpSolverStatus.FEASIBLE) {
            return new PfarSolution(new int[flows.size()], 0, secs, false, inst.totalValue());
        }
        int[] choice = new int[flows.size()];
        for (int f = 0; f < flows.size(); f++) for (int k = 0; k < y[f].length; k++) if (solver.booleanValue(y[f][k])) choice[f] = k + 1;
        double value = inst.evaluate(choice);
        boolean optimal = status == com.google.ortools.sat.CpSolverStatus.OPTIMAL;
        return new PfarSolution(choice, value, secs, optimal, optimal ? value : Math.max(value, solver.bestObjectiveBound() / SCALE));
    }

    /** The MIP on SCIP through OR-Tools' linear solver wrapper. */
    public static PfarSolution solveScip(PfarInstance inst, double timeLimitSeconds, int[] warmStart) {
        load();
        long t0 = System.nanoTime();
        MPSolver solver = MPSolver.createSolver("SCIP");
        if (solver == null) solver = MPSolver.createSolver("CBC");
        if (solver == null) throw new IllegalStateException("OR-Tools has neither SCIP nor CBC in this build");
        try {
            solver.setTimeLimit(Math.max(1, (long) (timeLimitSeconds * 1000)));
            solver.setNumThreads(1);
            List<Flow> flows = inst.flows();
            List<Link> links = inst.network().links();
            MPVariable[][] y = new MPVariable[flows.size()][];
            MPConstraint[] cap = new MPConstraint[links.size()];
            for (Link l : links) cap[l.id()] = solver.makeConstraint(Double.NEGATIVE_INFINITY, l.capacity(), "cap" + l.id());
            MPObjective obj = solver.objective();
            obj.setMaximization();
            List<MPVariable> hintVars = new ArrayList<>();
            List<Double> hintVals = new ArrayList<>();
            for (Flow f : flows) {
                List<Path> paths = inst.candidates().get(f.id());
                y[f.id()] = new MPVariable[paths.size()];
                MPConstraint one = solver.makeConstraint(0, 1, "one" + f.id());
                for (int k = 0; k < paths.size(); k++) {
                    MPVariable v = solver.makeBoolVar("y" + f.id() + "_" + k);
                    y[f.id()][k] = v;
                    one.setCoefficient(v, 1);
                    obj.setCoefficient(v, f.value());
                    for (int l : paths.get(k).links()) cap[l].setCoefficient(v, f.demand());
                    if (warmStart != null) {
                        hintVars.add(v);
                        hintVals.add(warmStart[f.id()] == k + 1 ? 1.0 : 0.0);
                    }
                }
            }
            if (warmStart != null) {
                solver.setHint(hintVars.toArray(MPVariable[]::new), hintVals.stream().mapToDouble(Double::doubleValue).toArray());
            }
            MPSolver.ResultStatus status = solver.solve();
            double secs = (System.nanoTime() - t0) / 1e9;
            if (status != MPSolver.ResultStatus.OPTIMAL && status != MPSolver.ResultStatus.FEASIBLE) {
                // no incumbent within the limit: everything rejected is always feasible
                return new PfarSolution(new int[flows.size()], 0, secs, false, inst.totalValue());
            }
            int[] choice = new int[flows.size()];
            for (int f = 0; f < flows.size(); f++) {
                for (int k = 0; k < y[f].length; k++) if (y[f][k].solutionValue() > 0.5) choice[f] = k + 1;
            }
            boolean optimal = status == MPSolver.ResultStatus.OPTIMAL;
            double value = inst.evaluate(choice);
            double bound = optimal ? value : Math.max(value, obj.bestBound());
            return new PfarSolution(choice, value, secs, optimal, bound);
        } finally {
            solver.delete();
        }
    }
}
