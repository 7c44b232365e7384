package io.kvserve.router.pfar;

import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/** Flows in descending priority (then value per unit of demand): each takes its shortest candidate path that fits. */
public final class GreedySolver {
    private GreedySolver() {}

    public static PfarSolution solve(PfarInstance inst) {
        long t0 = System.nanoTime();
        List<Integer> order = IntStream.range(0, inst.flows().size()).boxed()
                .sorted(Comparator.comparingDouble((Integer f) -> -inst.flows().get(f).priority()).thenComparingDouble(f -> inst.flows().get(f).demand())).toList();
        int[] choice = new int[inst.flows().size()];
        double[] residual = inst.network().links().stream().mapToDouble(Link::capacity).toArray();
        admitInOrder(inst, order, choice, residual);
        return new PfarSolution(choice, inst.evaluate(choice), (System.nanoTime() - t0) / 1e9, false, inst.totalValue());
    }

    /** Tries every rejected flow in order on its candidate paths against the residual capacities (updated in place). */
    static void admitInOrder(PfarInstance inst, List<Integer> order, int[] choice, double[] residual) {
        for (int f : order) {
            if (choice[f] != 0) continue;
            double d = inst.flows().get(f).demand();
            List<Path> paths = inst.candidates().get(f);
            for (int p = 0; p < paths.size(); p++) {
                if (fits(paths.get(p), d, residual)) {
                    for (int l : paths.get(p).links()) residual[l] -= d;
                    choice[f] = p + 1;
                    break;
                }
            }
        }
    }

    static boolean fits(Path p, double demand, double[] residual) {
        for (int l : p.links()) if (residual[l] < demand - 1e-9) return false;
        return true;
    }
}
