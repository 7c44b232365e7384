package io.kvserve.engine;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Higher prefix-cache hit rate first (their prefill is cheaper and their prefix may be evicted soon),
 * ties by arrival. Starvation is bounded: a request that has waited longer than {@code maxWait}
 * goes before every request that has not, and those starving go in arrival order; so no request
 * waits more than {@code maxWait} plus the time the starving ones ahead of it take.
 */
final class CacheAwareScheduler implements Scheduler {
    private final Clock clock;
    private final Duration maxWait;

    CacheAwareScheduler(Clock clock, Duration maxWait) {
        this.clock = Objects.requireNonNull(clock, "clock");
        if (maxWait.isNegative()) throw new IllegalArgumentException("maxWait must be >= 0, got " + maxWait);
        this.maxWait = maxWait;
    }

    @Override
    public StepPlan plan(List<SequenceView> running, List<SequenceView> waiting, KvBudget budget) {
        Instant starvedBefore = clock.instant().minus(maxWait);
        Comparator<SequenceView> order = Comparator
                .comparing((SequenceView s) -> !s.arrival().isBefore(starvedBefore))   // starving (false) first
                .thenComparing((a, b) -> a.arrival().isBefore(starvedBefore) && b.arrival().isBefore(starvedBefore)
                        ? 0 : Double.compare(b.prefixHitRate(), a.prefixHitRate()))
                .thenComparing(FcfsScheduler.BY_ARRIVAL);
        List<SequenceView> sorted = new ArrayList<>(waiting);
        sorted.sort(order);
        return StepPlan.admitOnly(FcfsScheduler.admitWhileFits(sorted, budget.freePages(), budget.freeSlots()));
    }
}
