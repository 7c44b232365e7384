package io.kvserve.router.eval;

/** Mean cost and mean quality of routing a whole test set at one operating point. */
public record CostQualityPoint(double cost, double quality) {}
