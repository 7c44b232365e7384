package io.kvserve.router.pfar;

import com.google.ortools.Loader;
import com.google.ortools.linearsolver.MPConstraint;
import com.google.ortools.linearsolver.MPObjective;
import com.google.ortools.linearsolver.MPSolver;
import com.google.ortools.linearsolver.MPVariable;
import java.util.ArrayList;
import java.util.List;

/**
 * The exact PFAR solver: the path-based integer program of the method card, solved with OR-Tools (SCIP).
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
