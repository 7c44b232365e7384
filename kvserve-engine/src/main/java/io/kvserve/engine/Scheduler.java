package io.kvserve.engine;

import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * Picks which waiting sequences start (and which running ones give way) before each step. Pure over
 * its inputs, so policies are tested without a model. Every admitted sequence must fit
 * {@code budget} after the preemptions; the engine checks again and stops at the first that does not.
 */
public interface Scheduler {
    StepPlan plan(List<SequenceView> running, List<SequenceView> waiting, KvBudget budget);

    /** First come, first served; a request that does not fit blocks those behind it. */
    static Scheduler fcfs() {
        return new FcfsScheduler();
    }

    /** Lower priority value first; a waiting request may preempt running ones of a strictly worse priority. */
    static Scheduler priority() {
        return new PriorityScheduler();
    }

    /** Higher prefix-cache hit rate first; a request waiting longer than {@code maxWait} goes first. */
    static Scheduler cacheAware(Clock clock, Duration maxWait) {
        return new CacheAwareScheduler(clock, maxWait);
    }

    /** A policy by name: fcfs, priority or cache-aware. */
    static Scheduler named(String name, Clock clock) {
        return switch (name) {
            case "fcfs" -> fcfs();
            case "priority" -> priority();
            case "cache-aware" -> cacheAware(clock, Duration.ofSeconds(5));
            default -> throw new IllegalArgumentException("unknown scheduler '" + name + "': use fcfs, priority or cache-aware");
        };
    }
}
