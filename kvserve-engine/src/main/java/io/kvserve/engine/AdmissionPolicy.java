package io.kvserve.engine;

import java.time.Duration;

/**
 * Decides, when a request arrives, whether it runs, waits or is refused. An interface so that a fleet
 * placement (the router) can drive it.
 */
@FunctionalInterface
public interface AdmissionPolicy {
    Admission admit(EngineRequest request, EngineLoad load);

    /**
     * The default: accepted when nothing is queued and its KV need fits the free budget and a slot;
     * else queued (for at most {@code queueTimeout}) while fewer than {@code maxQueued} wait; else
     * rejected with {@code retryAfter}.
     */
    static AdmissionPolicy kvBudget(int maxQueued, Duration queueTimeout, Duration retryAfter) {
        if (maxQueued < 0) throw new IllegalArgumentException("maxQueued must be >= 0, got " + maxQueued);
        return (request, load) -> {
            if (load.queued() == 0 && load.running() < load.maxRunning() && load.pagesNeeded() <= load.freePages()) {
                return new Admission.Accepted();
            }
            if (load.queued() < maxQueued) return new Admission.Queued(queueTimeout);
            return new Admission.Rejected(retryAfter, "the server is at capacity: " + load.running() + " running, "
                    + load.queued() + " queued (limit " + maxQueued + "), " + load.freePages() + " of " + load.totalPages() + " KV pages free");
        };
    }
}
