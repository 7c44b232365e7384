package io.kvserve.engine;

import java.util.List;

/** A scheduler's decision: running sequences to preempt first, then waiting ones to start, in order. */
public record StepPlan(List<Long> preempt, List<Long> admit) {
    public StepPlan {
        preempt = List.copyOf(preempt);
        admit = List.copyOf(admit);
    }

    public static StepPlan admitOnly(List<Long> admit) {
        return new StepPlan(List.of(), admit);
    }
}
