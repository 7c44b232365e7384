package io.kvserve.router.pfar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The path program of {@link IlpSolver} with what cannot change the optimum taken out before a solver sees it:
 * <ul>
 *   <li>a candidate path with a link whose capacity is below the flow's demand gets no variable (it can never carry
 *       the flow); a flow with no such path is rejected up front;</li>
 *   <li>identical flows (same source, destination, demand, objective value and kept paths) form one class with a
 *       general integer per path, {@code z_ck in [0, n_c]}: how many of the class's {@code n_c} flows take path k. This
 *       removes the n_c! equivalent orderings a binary model has (SCIP in OR-Tools is built without symmetry
 *       detection);</li>
 *   <li>each class has a reject count {@code r_c >= 0} with {@code sum_k z_ck + r_c = n_c} (an equality: the
 *       set-partitioning form solvers recognise);</li>
 *   <li>a capacity row only for links that some kept path crosses and whose worst case (every such flow on it) exceeds
 *       the capacity: the others can never bind.</li>
 * </ul>
 * {@link #expand} maps class counts back to one choice per flow.
 */
final class ReducedProgram {
    /** Flows that share source, destination, demand, value and candidate list. */
    record FlowClass(int[] flows, double demand, double value, int[] paths, List<Path> candidates) {
        int size() {
            return flows.length;
        }
    }

    /** A capacity row: the (class, path index into {@code paths}) pairs crossing the link, each carrying {@code demand}. */
    record Row(Link link, int[] classIdx, int[] pathIdx) {}

    final PfarInstance inst;
    final List<FlowClass> classes;
    final List<Row> rows;
    final int droppedPaths;

    ReducedProgram(PfarInstance inst) {
        this.inst = inst;
        List<Link> links = inst.network().links();
        Map<String, List<Integer>> byKey = new LinkedHashMap<>();
        Map<String, int[]> keptByKey = new LinkedHashMap<>();
        int dropped = 0;
        for (Flow f : inst.flows()) {
            List<Path> cands = inst.candidates().get(f.id());
            int[] kept = new int[cands.size()];
            int n = 0;
            for (int k = 0; k < cands.size(); k++) {
                boolean fits = true;
                for (int l : cands.get(k).links()) fits &= links.get(l).capacity() >= f.demand() - 1e-9;
                if (fits) kept[n++] = k;
                else dropped++;
            }
            if (n == 0) continue; // can never be admitted
            kept = Arrays.copyOf(kept, n);
            StringBuilder key0 = new StringBuilder().append(f.source()).append('>').append(f.target()).append(':')
                    .append(Double.doubleToLongBits(f.demand())).append(':').append(Double.doubleToLongBits(f.value()));
            for (int k : kept) key0.append('|').append(k).append(cands.get(k).links());
            String key = key0.toString();
            byKey.computeIfAbsent(key, x -> new ArrayList<>()).add(f.id());
            keptByKey.putIfAbsent(key, kept);
        }
        List<FlowClass> cls = new ArrayList<>();
        for (var e : byKey.entrySet()) {
            int[] ids = e.getValue().stream().mapToInt(Integer::intValue).toArray();
            Flow f = inst.flows().get(ids[0]);
            cls.add(new FlowClass(ids, f.demand(), f.value(), keptByKey.get(e.getKey()), inst.candidates().get(f.id())));
        }
        this.classes = List.copyOf(cls);
        this.droppedPaths = dropped;
        List<List<int[]>> onLink = new ArrayList<>();
        for (int l = 0; l < links.size(); l++) onLink.add(new ArrayList<>());
        for (int c = 0; c < classes.size(); c++) {
            FlowClass fc = classes.get(c);
            for (int j = 0; j < fc.paths().length; j++) for (int l : fc.candidates().get(fc.paths()[j]).links()) onLink.get(l).add(new int[] {c, j});
        }
        List<Row> rs = new ArrayList<>();
        for (Link l : links) {
            List<int[]> on = onLink.get(l.id());
            if (on.isEmpty()) continue;
            // worst case: every flow of every class crossing the link put on it (a class counts once per link)
            double worst = 0;
            boolean[] seen = new boolean[classes.size()];
            for (int[] cj : on) {
                if (seen[cj[0]]) continue;
                seen[cj[0]] = true;
                worst += classes.get(cj[0]).demand() * classes.get(cj[0]).size();
            }
            if (worst <= l.capacity() + 1e-9) continue;
            rs.add(new Row(l, on.stream().mapToInt(a -> a[0]).toArray(), on.stream().mapToInt(a -> a[1]).toArray()));
        }
        this.rows = List.copyOf(rs);
    }

    int variables() {
        int n = 0;
        for (FlowClass c : classes) n += c.paths().length;
        return n;
    }

    /** Per class and kept path: how many of the class's flows the choice vector puts on it (a warm start). */
    int[][] counts(int[] choice) {
        int[][] z = new int[classes.size()][];
        for (int c = 0; c < classes.size(); c++) {
            FlowClass fc = classes.get(c);
            z[c] = new int[fc.paths().length];
            for (int f : fc.flows()) {
                for (int j = 0; j < fc.paths().length; j++) if (choice[f] == fc.paths()[j] + 1) z[c][j]++;
            }
        }
        return z;
    }

    /** One choice per flow from class counts: the class's flows fill its paths in id order, the rest are rejected. */
    int[] expand(int[][] z) {
        int[] choice = new int[inst.flows().size()];
        for (int c = 0; c < classes.size(); c++) {
            FlowClass fc = classes.get(c);
            int next = 0;
            for (int j = 0; j < fc.paths().length; j++) {
                for (int i = 0; i < z[c][j]; i++) choice[fc.flows()[next++]] = fc.paths()[j] + 1;
            }
        }
        return choice;
    }
}
