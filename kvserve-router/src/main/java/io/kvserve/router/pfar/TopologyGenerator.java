package io.kvserve.router.pfar;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Semi-random networks and flow sets for the PFAR simulator, reproducible from a seed. Links are bidirectional
 * pairs of directed links; capacities are drawn from {@code capacities}.
 */
public final class TopologyGenerator {
    private TopologyGenerator() {}

    static final double[] CAPACITIES = {100, 200, 400};

    /**
     * Waxman graph: nodes uniform in the unit square, an edge u-v with probability beta * exp(-d(u,v) / (alpha * L)),
     * L the largest distance; disconnected parts are joined by their closest pair. Link weight = distance.
     */
    public static Network waxman(int n, double alpha, double beta, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] x = new double[n], y = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextDouble();
            y[i] = r.nextDouble();
        }
        double maxD = Math.sqrt(2);
        boolean[][] edge = new boolean[n][n];
        for (int u = 0; u < n; u++) {
            for (int v = u + 1; v < n; v++) {
                double d = Math.hypot(x[u] - x[v], y[u] - y[v]);
                if (r.nextDouble() < beta * Math.exp(-d / (alpha * maxD))) edge[u][v] = edge[v][u] = true;
            }
        }
        connect(n, edge, (u, v) -> Math.hypot(x[u] - x[v], y[u] - y[v]));
        Network g = new Network(n);
        for (int u = 0; u < n; u++) {
            for (int v = u + 1; v < n; v++) {
                if (edge[u][v]) g.addBidirectional(u, v, CAPACITIES[r.nextInt(CAPACITIES.length)], Math.max(1e-3, Math.hypot(x[u] - x[v], y[u] - y[v])));
            }
        }
        return g;
    }

    /** Barabasi-Albert preferential attachment: each new node links to m distinct existing nodes. Link weight 1. */
    public static Network barabasiAlbert(int n, int m, long seed) {
        if (m < 1 || m >= n) throw new IllegalArgumentException("Barabasi-Albert needs 1 <= m < n, got m=" + m + " n=" + n);
        SplittableRandom r = new SplittableRandom(seed);
        boolean[][] edge = new boolean[n][n];
        List<Integer> ends = new ArrayList<>(); // each node once per incident edge
        for (int u = 0; u <= m; u++) {
            for (int v = u + 1; v <= m; v++) {
                edge[u][v] = edge[v][u] = true;
                ends.add(u);
                ends.add(v);
            }
        }
        for (int u = m + 1; u < n; u++) {
            int added = 0;
            while (added < m) {
                int v = ends.get(r.nextInt(ends.size()));
                if (v != u && !edge[u][v]) {
                    edge[u][v] = edge[v][u] = true;
                    added++;
                }
            }
            for (int v = 0; v < u; v++) {
                if (edge[u][v]) {
                    ends.add(u);
                    ends.add(v);
                }
            }
        }
        Network g = new Network(n);
        for (int u = 0; u < n; u++) for (int v = u + 1; v < n; v++) if (edge[u][v]) g.addBidirectional(u, v, CAPACITIES[r.nextInt(CAPACITIES.length)], 1);
        return g;
    }

    private interface Dist {
        double d(int u, int v);
    }

    private static void connect(int n, boolean[][] edge, Dist dist) {
        while (true) {
            int[] comp = new int[n];
            java.util.Arrays.fill(comp, -1);
            int c = 0;
            for (int s = 0; s < n; s++) {
                if (comp[s] >= 0) continue;
                java.util.ArrayDeque<Integer> q = new java.util.ArrayDeque<>(List.of(s));
                comp[s] = c;
                while (!q.isEmpty()) {
                    int u = q.poll();
                    for (int v = 0; v < n; v++) if (edge[u][v] && comp[v] < 0) {
                        comp[v] = c;
                        q.add(v);
                    }
                }
                c++;
            }
            if (c == 1) return;
            int bu = -1, bv = -1;
            double bd = Double.POSITIVE_INFINITY;
            for (int u = 0; u < n; u++) for (int v = 0; v < n; v++) {
                if (comp[u] == 0 && comp[v] != 0 && dist.d(u, v) < bd) {
                    bd = dist.d(u, v);
                    bu = u;
                    bv = v;
                }
            }
            edge[bu][bv] = edge[bv][bu] = true;
        }
    }

    /** Random flows: distinct endpoints, demand uniform in [1, maxDemand], integer priority uniform in 1..priorities. */
    public static List<Flow> flows(Network g, int count, double maxDemand, int priorities, long seed) {
        return flows(g, count, maxDemand, priorities, seed, FlowModel.WEIGHTED_DEMAND);
    }

    /**
     * How demands are drawn and what an admitted flow is worth. The same seed draws the same endpoints and priorities
     * under either model.
     */
    public enum FlowModel {
        /** Demands in 0.1 steps, objective priority x demand (this project's first generator; the bench's default). */
        WEIGHTED_DEMAND,
        /**
         * The method card's program: whole-number demands, objective the sum of admitted priorities. Value is then not
         * proportional to capacity used, which keeps the LP bound close to the integer optimum (see docs/ROUTING.md).
         */
        CARD
    }

    /** Random flows under {@code model}: distinct endpoints, demand in [1, maxDemand], integer priority in 1..priorities. */
    public static List<Flow> flows(Network g, int count, double maxDemand, int priorities, long seed, FlowModel model) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Flow> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int s = r.nextInt(g.nodes()), t;
            do t = r.nextInt(g.nodes()); while (t == s);
            double u = r.nextDouble();
            int priority = 1 + r.nextInt(priorities);
            if (model == FlowModel.CARD) {
                double demand = Math.min(Math.floor(maxDemand), 1 + Math.floor(u * Math.floor(maxDemand)));
                out.add(new Flow(i, s, t, demand, priority, priority));
            } else {
                double demand = Math.round((1 + u * (maxDemand - 1)) * 10) / 10.0;
                out.add(new Flow(i, s, t, demand, priority));
            }
        }
        return out;
    }
}
