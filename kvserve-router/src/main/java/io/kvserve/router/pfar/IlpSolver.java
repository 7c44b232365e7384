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
        // SCIP found better incumbents than CP-SAT (1 or 2 workers) on the benchmark instances within the same limit
        return solveReducedScip(inst, timeLimitSeconds, warmStart);
    }

    /** The program variants {@code route pfar-bench --ilp} compares. */
    public enum Method {
        /** {@link #solveScip}: one binary per flow and candidate path, as first written. */
        SCIP_PLAIN,
        /** {@link #solveReducedScip}: the {@link ReducedProgram} on SCIP with few root cut rounds (the default). */
        SCIP,
        /** {@link #solveReducedCpSat}: the {@link ReducedProgram} on CP-SAT. */
        CP_SAT;

        public static Method parse(String s) {
            return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "scip-plain" -> SCIP_PLAIN;
                case "scip" -> SCIP;
                case "cpsat", "cp-sat" -> CP_SAT;
                default -> throw new IllegalArgumentException("unknown ILP method '" + s + "': use scip, scip-plain or cpsat");
            };
        }

        public String label() {
            return switch (this) {
                case SCIP_PLAIN -> "scip-plain";
                case SCIP -> "scip";
                case CP_SAT -> "cpsat";
            };
        }
    }

    /** Runs {@code method}; {@code workers} is CP-SAT's worker count (SCIP in OR-Tools is single-threaded). */
    public static PfarSolution solve(PfarInstance inst, Method method, double timeLimitSeconds, int[] warmStart, int workers) {
        return switch (method) {
            case SCIP_PLAIN -> solveScip(inst, timeLimitSeconds, warmStart);
            case SCIP -> solveReducedScip(inst, timeLimitSeconds, warmStart);
            case CP_SAT -> solveReducedCpSat(inst, timeLimitSeconds, warmStart, workers);
        };
    }

    /**
     * SCIP's root cut rounds. Measured on waxman 20 nodes / 500 flows (card flow model): with SCIP's default the whole 20-30 s went to
     * root separation (14+ rounds of knapsack cover cuts that moved the dual bound by 0.005%) before any branching;
     * with 2 rounds it branches after 4 s and its heuristics find better incumbents (gap 0.77% vs 1.26% at 30 s).
     */
    static final int ROOT_CUT_ROUNDS = 2;

    /** The {@link ReducedProgram} on SCIP: integer counts per flow class and path, reject counts, binding links only. */
    public static PfarSolution solveReducedScip(PfarInstance inst, double timeLimitSeconds, int[] warmStart) {
        load();
        long t0 = System.nanoTime();
        ReducedProgram rp = new ReducedProgram(inst);
        MPSolver solver = MPSolver.createSolver("SCIP");
        if (solver == null) return solveScip(inst, timeLimitSeconds, warmStart);
        try {
            solver.setTimeLimit(Math.max(1, (long) (timeLimitSeconds * 1000)));
            solver.setNumThreads(1);
            solver.setSolverSpecificParametersAsString("separating/maxroundsroot = " + ROOT_CUT_ROUNDS + "\nseparating/maxrounds = 1\n");
            MPObjective obj = solver.objective();
            obj.setMaximization();
            MPVariable[][] z = new MPVariable[rp.classes.size()][];
            int[][] hint = warmStart == null ? null : rp.counts(warmStart);
            List<MPVariable> hintVars = new ArrayList<>();
            List<Double> hintVals = new ArrayList<>();
            for (int c = 0; c < rp.classes.size(); c++) {
                ReducedProgram.FlowClass fc = rp.classes.get(c);
                int n = fc.size();
                z[c] = new MPVariable[fc.paths().length];
                MPVariable reject = solver.makeIntVar(0, n, "r" + c);
                MPConstraint all = solver.makeConstraint(n, n, "n" + c);
                all.setCoefficient(reject, 1);
                int admitted = 0;
                for (int j = 0; j < z[c].length; j++) {
                    MPVariable v = n == 1 ? solver.makeBoolVar("z" + c + "_" + j) : solver.makeIntVar(0, n, "z" + c + "_" + j);
                    z[c][j] = v;
                    all.setCoefficient(v, 1);
                    obj.setCoefficient(v, fc.value());
                    if (hint != null) {
                        hintVars.add(v);
                        hintVals.add((double) hint[c][j]);
                        admitted += hint[c][j];
                    }
                }
                if (hint != null) {
                    hintVars.add(reject);
                    hintVals.add((double) (n - admitted));
                }
            }
            for (ReducedProgram.Row r : rp.rows) {
                MPConstraint cap = solver.makeConstraint(Double.NEGATIVE_INFINITY, r.link().capacity(), "cap" + r.link().id());
                for (int i = 0; i < r.classIdx().length; i++) {
                    MPVariable v = z[r.classIdx()[i]][r.pathIdx()[i]];
                    cap.setCoefficient(v, cap.getCoefficient(v) + rp.classes.get(r.classIdx()[i]).demand());
                }
            }
            if (hint != null) solver.setHint(hintVars.toArray(MPVariable[]::new), hintVals.stream().mapToDouble(Double::doubleValue).toArray());
            MPSolver.ResultStatus status = solver.solve();
            double secs = (System.nanoTime() - t0) / 1e9;
            if (status != MPSolver.ResultStatus.OPTIMAL && status != MPSolver.ResultStatus.FEASIBLE) {
                return new PfarSolution(new int[inst.flows().size()], 0, secs, false, inst.totalValue());
            }
            int[][] counts = new int[z.length][];
            for (int c = 0; c < z.length; c++) {
                counts[c] = new int[z[c].length];
                for (int j = 0; j < z[c].length; j++) counts[c][j] = (int) Math.round(z[c][j].solutionValue());
            }
            int[] choice = rp.expand(counts);
            boolean optimal = status == MPSolver.ResultStatus.OPTIMAL;
            double value = inst.evaluate(choice);
            return new PfarSolution(choice, value, secs, optimal, optimal ? value : Math.max(value, obj.bestBound()));
        } finally {
            solver.delete();
        }
    }

    /**
     * The {@link ReducedProgram} on CP-SAT with {@code workers} workers. Coefficients are integer-scaled as in
     * {@link #solveCpSat}; whole-number demands and values (the card's flow model) are exact at scale 1, which keeps
     * CP-SAT's linear relaxation free of the x1000 blow-up.
     */
    public static PfarSolution solveReducedCpSat(PfarInstance inst, double timeLimitSeconds, int[] warmStart, int workers) {
        load();
        long t0 = System.nanoTime();
        ReducedProgram rp = new ReducedProgram(inst);
        boolean whole = true;
        for (ReducedProgram.FlowClass fc : rp.classes) whole &= fc.demand() == Math.rint(fc.demand()) && fc.value() == Math.rint(fc.value());
        for (ReducedProgram.Row r : rp.rows) whole &= r.link().capacity() == Math.rint(r.link().capacity());
        double scale = whole ? 1 : SCALE;
        com.google.ortools.sat.CpModel model = new com.google.ortools.sat.CpModel();
        com.google.ortools.sat.IntVar[][] z = new com.google.ortools.sat.IntVar[rp.classes.size()][];
        int[][] hint = warmStart == null ? null : rp.counts(warmStart);
        List<com.google.ortools.sat.IntVar> objVars = new ArrayList<>();
        List<Long> objW = new ArrayList<>();
        for (int c = 0; c < rp.classes.size(); c++) {
            ReducedProgram.FlowClass fc = rp.classes.get(c);
            z[c] = new com.google.ortools.sat.IntVar[fc.paths().length];
            for (int j = 0; j < z[c].length; j++) {
                z[c][j] = model.newIntVar(0, fc.size(), "z" + c + "_" + j);
                objVars.add(z[c][j]);
                objW.add(Math.round(fc.value() * scale));
                if (hint != null) model.addHint(z[c][j], hint[c][j]);
            }
            if (z[c].length > 1 || fc.size() > 1) model.addLessOrEqual(com.google.ortools.sat.LinearExpr.sum(z[c]), fc.size());
        }
        for (ReducedProgram.Row r : rp.rows) {
            com.google.ortools.sat.IntVar[] vs = new com.google.ortools.sat.IntVar[r.classIdx().length];
            long[] ws = new long[vs.length];
            for (int i = 0; i < vs.length; i++) {
                vs[i] = z[r.classIdx()[i]][r.pathIdx()[i]];
                ws[i] = (long) Math.ceil(rp.classes.get(r.classIdx()[i]).demand() * scale - 1e-6);
            }
            model.addLessOrEqual(com.google.ortools.sat.LinearExpr.weightedSum(vs, ws), (long) Math.floor(r.link().capacity() * scale + 1e-6));
        }
        model.maximize(com.google.ortools.sat.LinearExpr.weightedSum(objVars.toArray(com.google.ortools.sat.IntVar[]::new), objW.stream().mapToLong(Long::longValue).toArray()));
        com.google.ortools.sat.CpSolver solver = new com.google.ortools.sat.CpSolver();
        solver.getParameters().setMaxTimeInSeconds(timeLimitSeconds).setNumWorkers(workers).setRandomSeed(1);
        com.google.ortools.sat.CpSolverStatus status = solver.solve(model);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (status != com.google.ortools.sat.CpSolverStatus.OPTIMAL && status != com.google.ortools.sat.CpSolverStatus.FEASIBLE) {
            return new PfarSolution(new int[inst.flows().size()], 0, secs, false, inst.totalValue());
        }
        int[][] counts = new int[z.length][];
        for (int c = 0; c < z.length; c++) {
            counts[c] = new int[z[c].length];
            for (int j = 0; j < z[c].length; j++) counts[c][j] = (int) solver.value(z[c][j]);
        }
        int[] choice = rp.expand(counts);
        double value = inst.evaluate(choice);
        boolean optimal = status == com.google.ortools.sat.CpSolverStatus.OPTIMAL;
        return new PfarSolution(choice, value, secs, optimal, optimal ? value : Math.max(value, solver.bestObjectiveBound() / scale));
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
