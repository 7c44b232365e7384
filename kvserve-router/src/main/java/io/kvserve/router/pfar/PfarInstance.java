package io.kvserve.router.pfar;

import java.util.ArrayList;
import java.util.List;

/** A PFAR problem: a network, flows, and each flow's candidate paths (its K shortest). */
public record PfarInstance(Network network, List<Flow> flows, List<List<Path>> candidates) {
    public PfarInstance {
        flows = List.copyOf(flows);
        candidates = List.copyOf(candidates);
        if (flows.size() != candidates.size()) throw new IllegalArgumentException(flows.size() + " flows but " + candidates.size() + " candidate lists");
        for (int f = 0; f < flows.size(); f++) {
            if (flows.get(f).id() != f) throw new IllegalArgumentException("flow at position " + f + " has id " + flows.get(f).id() + ": ids must be 0..n-1 in order");
        }
    }

    public static PfarInstance of(Network network, List<Flow> flows, int k) {
        if (k < 1) throw new IllegalArgumentException("k = " + k + " candidate paths; need >= 1");
        List<List<Path>> c = new ArrayList<>();
        java.util.Map<Long, List<Path>> memo = new java.util.HashMap<>();
        for (Flow f : flows) {
            if (f.source() < 0 || f.source() >= network.nodes() || f.target() < 0 || f.target() >= network.nodes()) {
                throw new IllegalArgumentException("flow " + f.id() + " connects " + f.source() + "->" + f.target() + ", outside nodes 0.." + (network.nodes() - 1));
            }
            c.add(memo.computeIfAbsent((long) f.source() * network.nodes() + f.target(), key -> KShortestPaths.yen(network, f.source(), f.target(), k)));
        }
        return new PfarInstance(network, flows, c);
    }

    public int maxPaths() {
        int m = 0;
        for (List<Path> p : candidates) m = Math.max(m, p.size());
        return m;
    }

    /** Sum of priority-weighted demand of every flow: an upper bound on the objective. */
    public double totalValue() {
        return flows.stream().mapToDouble(Flow::value).sum();
    }

    /**
     * Objective of a choice vector (0 = rejected, i = the i-th candidate path), or throws when the choice is invalid
     * or overloads a link.
     */
    public double evaluate(int[] choice) {
        double[] load = loads(choice);
        for (Link l : network.links()) {
            if (load[l.id()] > l.capacity() + 1e-6) {
                throw new IllegalStateException("link " + l.from() + "->" + l.to() + " carries " + load[l.id()] + " > capacity " + l.capacity());
            }
        }
        double v = 0;
        for (int f = 0; f < flows.size(); f++) if (choice[f] > 0) v += flows.get(f).value();
        return v;
    }

    public double[] loads(int[] choice) {
        if (choice.length != flows.size()) throw new IllegalArgumentException("choice has " + choice.length + " entries for " + flows.size() + " flows");
        double[] load = new double[network.links().size()];
        for (int f = 0; f < flows.size(); f++) {
            int c = choice[f];
            if (c < 0 || c > candidates.get(f).size()) throw new IllegalArgumentException("flow " + f + ": path " + c + " of " + candidates.get(f).size());
            if (c > 0) for (int l : candidates.get(f).get(c - 1).links()) load[l] += flows.get(f).demand();
        }
        return load;
    }
}
