package io.kvserve.router.knn;

/** Turns predicted per-model quality and cost into a model choice. Ties go to the cheaper model, then the lower index. */
public sealed interface RoutingPolicy {
    int choose(double[] quality, double[] cost);

    /** The model with the highest predicted quality. */
    record BestQuality() implements RoutingPolicy {
        @Override
        public int choose(double[] quality, double[] cost) {
            return new MaxUtility(0).choose(quality, cost);
        }
    }

    /** The cheapest model whose predicted quality is within {@code margin} of the best predicted quality. */
    record CheapestWithinMargin(double margin) implements RoutingPolicy {
        public CheapestWithinMargin {
            if (!(margin >= 0)) throw new IllegalArgumentException("margin " + margin + " must be >= 0");
        }

        @Override
        public int choose(double[] quality, double[] cost) {
            double best = Double.NEGATIVE_INFINITY;
            for (double q : quality) best = Math.max(best, q);
            int pick = -1;
            for (int m = 0; m < quality.length; m++) {
                if (quality[m] >= best - margin - 1e-12 && (pick < 0 || cost[m] < cost[pick])) pick = m;
            }
            return pick;
        }
    }

    /** argmax of quality - lambda * cost (the paper's utility, lambda >= 0). */
    record MaxUtility(double lambda) implements RoutingPolicy {
        public MaxUtility {
            if (!(lambda >= 0)) throw new IllegalArgumentException("lambda " + lambda + " must be >= 0");
        }

        @Override
        public int choose(double[] quality, double[] cost) {
            int pick = 0;
            double bestU = Double.NEGATIVE_INFINITY;
            for (int m = 0; m < quality.length; m++) {
                double u = Double.isInfinite(lambda) ? -cost[m] : quality[m] - lambda * cost[m];
                if (u > bestU + 1e-12 || (Math.abs(u - bestU) <= 1e-12 && cost[m] < cost[pick])) {
                    bestU = u;
                    pick = m;
                }
            }
            return pick;
        }
    }

    /** Parses "best", "margin:0.05" or "utility:LAMBDA". */
    static RoutingPolicy parse(String s) {
        String t = s.strip().toLowerCase(java.util.Locale.ROOT);
        try {
            if (t.equals("best")) return new BestQuality();
            if (t.startsWith("margin:")) return new CheapestWithinMargin(Double.parseDouble(t.substring(7)));
            if (t.startsWith("utility:")) return new MaxUtility(Double.parseDouble(t.substring(8)));
        } catch (NumberFormatException e) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("unknown routing policy '" + s + "': use best, margin:M or utility:LAMBDA");
    }
}
