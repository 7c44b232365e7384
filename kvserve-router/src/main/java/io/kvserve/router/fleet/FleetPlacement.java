package io.kvserve.router.fleet;

import io.kvserve.router.pfar.Flow;
import io.kvserve.router.pfar.GreedySolver;
import io.kvserve.router.pfar.IlpSolver;
import io.kvserve.router.pfar.Link;
import io.kvserve.router.pfar.Network;
import io.kvserve.router.pfar.PfarInstance;
import io.kvserve.router.pfar.PfarSolution;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Admission and backend placement for the routing front: PFAR applied to the fleet.
 * <p>
 * The network: one node per model, one node per backend, and a sink. A model node links to each backend serving
 * it, each backend links to the sink with its capacity (0 when ejected). The flows: each request class's demand for
 * each model in units of one concurrent request (observed in-flight plus recently rejected requests, and at least the
 * class's reserve for the models it reserves), with the class priority. The ILP (greedy as a warm start and
 * fallback) admits units and places each on a backend; the placed units become per-(class, model, backend) quotas,
 * so a reservation for one model is never spent on another or stranded on a backend that does not serve it. It is re-solved when demand or health changes, at most every {@code replanMs}.
 * <p>
 * A request of class c for model m goes, in order, to a live backend serving m where c has an unused quota slot, or
 * to one where the free capacity exceeds the unused quota of every other class of equal or higher priority (so
 * reservations of higher classes hold even when those classes are idle). Among equals, the backend holding the
 * longest prefix of the prompt wins, then the least loaded. Otherwise the request is rejected (429).
 */
public final class FleetPlacement {
    /** The outcome of a placement. */
    public sealed interface Decision permits Admitted, Rejected {}

    /** Placed on a backend; call {@link FleetPlacement#release} exactly once when the request ends. */
    public record Admitted(String backend, String requestClass, String model, boolean reserved) implements Decision {}

    /** Nowhere to admit it. */
    public record Rejected(String reason) implements Decision {}

    private final List<FleetConfig.Backend> backends;
    private final Map<String, FleetConfig.RequestClass> classes = new LinkedHashMap<>();
    private final Map<String, Integer> backendIndex = new HashMap<>();
    private final boolean[] healthy;
    private final int[] inflight;
    private final Map<Slot, int[]> inflightBySlot = new HashMap<>(); // (class, model) -> per backend
    private final Map<String, Map<String, Integer>> demandInflight = new HashMap<>(); // class -> model -> in flight
    private final Map<String, Map<String, Integer>> rejectedSincePlan = new HashMap<>();
    private Map<Slot, int[]> quota = new HashMap<>(); // (class, model) -> per backend

    /** Quotas and reservations are per class and model: a slot kept for model m is of no use to a request for n. */
    private record Slot(String requestClass, String model) {}
    private final PrefixAffinity affinity = new PrefixAffinity(256, 16, 50_000);
    private final Clock clock;
    private final long replanMs;
    private long lastPlan = Long.MIN_VALUE / 2;
    private boolean dirty = true;
    private int plans;
    private String lastSolver = "none";

    public FleetPlacement(List<FleetConfig.Backend> backends, List<FleetConfig.RequestClass> classes, long replanMs, Clock clock) {
        this.backends = List.copyOf(backends);
        for (int i = 0; i < backends.size(); i++) backendIndex.put(backends.get(i).name(), i);
        for (FleetConfig.RequestClass c : classes) this.classes.put(c.name(), c);
        this.healthy = new boolean[backends.size()];
        java.util.Arrays.fill(healthy, true);
        this.inflight = new int[backends.size()];
        this.replanMs = replanMs;
        this.clock = clock;
    }

    /** The class name a request header maps to: unknown or absent names fall back to "default". */
    public String classOf(String header) {
        return header != null && classes.containsKey(header.strip()) ? header.strip() : "default";
    }

    public synchronized Decision place(String requestClass, String model, String prompt, Set<String> exclude) {
        String c = classOf(requestClass);
        if (dirty && clock.millis() - lastPlan >= replanMs) replan();
        List<Integer> live = new ArrayList<>();
        for (int b = 0; b < backends.size(); b++) {
            if (healthy[b] && backends.get(b).models().contains(model) && !exclude.contains(backends.get(b).name())) live.add(b);
        }
        if (live.isEmpty()) {
            bump(rejectedSincePlan, c, model);
            return new Rejected("no live backend serves model '" + model + "'");
        }
        Slot slot = new Slot(c, model);
        int[] q = quota.getOrDefault(slot, new int[backends.size()]);
        int[] mine = inflightBySlot.computeIfAbsent(slot, k -> new int[backends.size()]);
        List<Integer> reserved = live.stream().filter(b -> mine[b] < q[b] && inflight[b] < backends.get(b).capacity()).toList();
        boolean isReserved = !reserved.isEmpty();
        List<Integer> tier = reserved;
        if (tier.isEmpty()) {
            double prio = classes.get(c).priority();
            tier = live.stream().filter(b -> inflight[b] + protectedUnused(b, c, prio) < backends.get(b).capacity()).toList();
        }
        if (tier.isEmpty()) {
            bump(rejectedSincePlan, c, model);
            dirty = true;
            return new Rejected("all backends serving '" + model + "' are at capacity for class '" + c + "'");
        }
        int pick = tier.stream().max(Comparator.<Integer>comparingInt(b -> affinity.matchedBlocks(prompt, backends.get(b).name()))
                .thenComparingDouble(b -> -(double) inflight[b] / backends.get(b).capacity())
                .thenComparingInt(b -> -b)).orElseThrow();
        inflight[pick]++;
        mine[pick]++;
        bump(demandInflight, c, model);
        affinity.record(prompt, backends.get(pick).name());
        return new Admitted(backends.get(pick).name(), c, model, isReserved);
    }

    private int protectedUnused(int b, String c, double prio) {
        int sum = 0;
        for (var e : quota.entrySet()) {
            String other = e.getKey().requestClass();
            if (other.equals(c) || classes.get(other).priority() < prio) continue;
            int[] used = inflightBySlot.get(e.getKey());
            sum += Math.max(0, e.getValue()[b] - (used == null ? 0 : used[b]));
        }
        return sum;
    }

    public synchronized void release(Admitted a) {
        int b = backendIndex.get(a.backend());
        inflight[b] = Math.max(0, inflight[b] - 1);
        int[] mine = inflightBySlot.get(new Slot(a.requestClass(), a.model()));
        if (mine != null) mine[b] = Math.max(0, mine[b] - 1);
        Map<String, Integer> m = demandInflight.get(a.requestClass());
        if (m != null) m.merge(a.model(), -1, Integer::sum);
    }

    /** Ejects or restores a backend; the next placement re-solves the plan. Returns true when the state changed. */
    public synchronized boolean setHealthy(String backend, boolean up) {
        Integer b = backendIndex.get(backend);
        if (b == null) throw new IllegalArgumentException("unknown backend '" + backend + "'");
        if (healthy[b] == up) return false;
        healthy[b] = up;
        if (!up) affinity.forget(backend);
        dirty = true;
        lastPlan = Long.MIN_VALUE / 2;
        return true;
    }

    public synchronized boolean isHealthy(String backend) {
        return healthy[backendIndex.get(backend)];
    }

    public synchronized int inflight(String backend) {
        return inflight[backendIndex.get(backend)];
    }

    /** Slots the plan gives {@code requestClass} on {@code backend}, over all models. */
    public synchronized int quota(String requestClass, String backend) {
        if (dirty && clock.millis() - lastPlan >= replanMs) replan();
        int b = backendIndex.get(backend), sum = 0;
        for (var e : quota.entrySet()) if (e.getKey().requestClass().equals(requestClass)) sum += e.getValue()[b];
        return sum;
    }

    /** Slots the plan gives {@code requestClass} for {@code model} on {@code backend}. */
    public synchronized int quota(String requestClass, String model, String backend) {
        if (dirty && clock.millis() - lastPlan >= replanMs) replan();
        int[] q = quota.get(new Slot(requestClass, model));
        return q == null ? 0 : q[backendIndex.get(backend)];
    }

    public synchronized int plans() {
        return plans;
    }

    public synchronized String lastSolver() {
        return lastSolver;
    }

    public synchronized void markDirty() {
        dirty = true;
    }

    private static void bump(Map<String, Map<String, Integer>> m, String c, String model) {
        m.computeIfAbsent(c, k -> new HashMap<>()).merge(model, 1, Integer::sum);
    }

    /** Builds the fleet network and flows, solves PFAR, turns the solution into quotas. */
    synchronized void replan() {
        List<String> models = backends.stream().flatMap(b -> b.models().stream()).distinct().toList();
        int firstBackend = models.size(), sink = firstBackend + backends.size();
        Network g = new Network(sink + 1);
        for (int b = 0; b < backends.size(); b++) {
            FleetConfig.Backend be = backends.get(b);
            for (String m : be.models()) g.addLink(models.indexOf(m), firstBackend + b, be.capacity(), 1);
            g.addLink(firstBackend + b, sink, healthy[b] ? be.capacity() : 0, 1);
        }
        List<Flow> flows = new ArrayList<>();
        List<Slot> flowSlot = new ArrayList<>();
        for (FleetConfig.RequestClass c : classes.values()) {
            for (String m : models) {
                // a class's demand for m: at least its reservation, else what it has in flight plus what was refused
                int d = demandInflight.getOrDefault(c.name(), Map.of()).getOrDefault(m, 0)
                        + rejectedSincePlan.getOrDefault(c.name(), Map.of()).getOrDefault(m, 0);
                if (c.reservesFor(m)) d = Math.max(d, c.reserve());
                for (int u = 0; u < d; u++) {
                    flows.add(new Flow(flows.size(), models.indexOf(m), sink, 1, c.priority()));
                    flowSlot.add(new Slot(c.name(), m));
                }
            }
        }
        Map<Slot, int[]> q = new HashMap<>();
        if (!flows.isEmpty()) {
            PfarInstance inst = PfarInstance.of(g, flows, backends.size());
            PfarSolution greedy = GreedySolver.solve(inst);
            PfarSolution best = greedy;
            lastSolver = "greedy";
            try {
                PfarSolution ilp = IlpSolver.solve(inst, 0.25, greedy.choice());
                if (ilp.objective() >= greedy.objective()) {
                    best = ilp;
                    lastSolver = ilp.optimal() ? "ilp-optimal" : "ilp";
                }
            } catch (RuntimeException | LinkageError e) {
                lastSolver = "greedy (ILP unavailable: " + e.getMessage() + ")";
            }
            for (int f = 0; f < flows.size(); f++) {
                int ch = best.choice()[f];
                if (ch == 0) continue;
                // the path is source -> backend -> sink: its first link ends at the backend node
                Link first = g.link(inst.candidates().get(f).get(ch - 1).links().getFirst());
                q.computeIfAbsent(flowSlot.get(f), k -> new int[backends.size()])[first.to() - firstBackend]++;
            }
        }
        quota = q;
        rejectedSincePlan.clear();
        dirty = false;
        lastPlan = clock.millis();
        plans++;
    }
}
