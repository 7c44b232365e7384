package io.kvserve.router.eval;

import java.util.List;
import java.util.Map;

/**
 * One router's score on the test part.
 *
 * @param router   name, e.g. {@code knn k=50 uniform}
 * @param accuracy mean true outcome of the chosen model under the best-quality policy (lambda = 0)
 * @param meanCost mean true cost of those choices
 * @param auc      area under the non-decreasing convex hull of the lambda sweep, over the single models' cost range, x100
 * @param points   the lambda sweep's (cost, quality) points
 * @param hull     their hull
 * @param extra    router-specific facts (k, weighting, validation AUC, ...)
 */
public record RouterResult(String router, double accuracy, double meanCost, double auc,
                           List<CostQualityPoint> points, List<CostQualityPoint> hull, Map<String, Object> extra) {}
