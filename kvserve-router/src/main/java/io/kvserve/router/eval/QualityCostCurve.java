package io.kvserve.router.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * RouterBench's non-decreasing convex hull of (cost, quality) points and the area under it. Any point on a hull
 * segment is reachable by randomly mixing the two routers at its ends.
 */
public final class QualityCostCurve {
    private QualityCostCurve() {}

    /** Sorted by cost; keeps points better than every cheaper point; then the upper convex hull. */
    public static List<CostQualityPoint> hull(List<CostQualityPoint> points) {
        List<CostQualityPoint> sorted = new ArrayList<>(points);
        sorted.sort(Comparator.comparingDouble(CostQualityPoint::cost).thenComparing(Comparator.comparingDouble(CostQualityPoint::quality).reversed()));
        List<CostQualityPoint> pareto = new ArrayList<>();
        for (CostQualityPoint p : sorted) {
            if (pareto.isEmpty() || p.quality() > pareto.getLast().quality()) {
                if (!pareto.isEmpty() && p.cost() == pareto.getLast().cost()) pareto.removeLast();
                pareto.add(p);
            }
        }
        List<CostQualityPoint> h = new ArrayList<>();
        for (CostQualityPoint p : pareto) {
            while (h.size() >= 2 && cross(h.get(h.size() - 2), h.getLast(), p) >= 0) h.removeLast();
            h.add(p);
        }
        return h;
    }

    // > 0 when o -> a -> b turns left (a lies below the chord o-b, so a is not on the upper hull)
    private static double cross(CostQualityPoint o, CostQualityPoint a, CostQualityPoint b) {
        return (a.cost() - o.cost()) * (b.quality() - o.quality()) - (a.quality() - o.quality()) * (b.cost() - o.cost());
    }

    /** Hull quality reachable at cost c: 0 left of the cheapest hull point, flat right of the last one. */
    public static double valueAt(List<CostQualityPoint> hull, double c) {
        if (hull.isEmpty() || c < hull.getFirst().cost()) return 0;
        for (int i = 1; i < hull.size(); i++) {
            CostQualityPoint a = hull.get(i - 1), b = hull.get(i);
            if (c <= b.cost()) {
                double t = b.cost() == a.cost() ? 1 : (c - a.cost()) / (b.cost() - a.cost());
                return a.quality() + t * (b.quality() - a.quality());
            }
        }
        return hull.getLast().quality();
    }

    /**
     * Area under the hull over [lo, hi], divided by (hi - lo) and scaled so that quality 1 everywhere gives 100.
     * Exact for the piecewise-linear hull (integrates segment by segment).
     */
    public static double auc(List<CostQualityPoint> hull, double lo, double hi) {
        if (!(hi > lo)) throw new IllegalArgumentException("cost range [" + lo + ", " + hi + "] is empty");
        if (hull.isEmpty()) return 0;
        double start = Math.max(lo, hull.getFirst().cost());
        if (start >= hi) return 0;
        List<Double> xs = new ArrayList<>();
        xs.add(start);
        for (CostQualityPoint p : hull) if (p.cost() > start && p.cost() < hi) xs.add(p.cost());
        xs.add(hi);
        double area = 0;
        for (int i = 1; i < xs.size(); i++) {
            double a = xs.get(i - 1), b = xs.get(i);
            area += (b - a) * (valueAt(hull, a) + valueAt(hull, b)) / 2;
        }
        return 100 * area / (hi - lo);
    }
}
