package io.kvserve.engine;

import java.time.Instant;

/**
 * What a scheduler knows about a running or waiting sequence.
 *
 * @param arrival          when the request arrived (a preempted request keeps it)
 * @param pagesNeeded      KV pages it holds (running) or needs to run (waiting), at most
 * @param prefixHitTokens  prompt tokens the prefix cache would serve now (waiting), or served (running)
 * @param preempted        it ran before and was preempted
 */
public record SequenceView(long id, int priority, Instant arrival, int promptTokens, int pagesNeeded, int prefixHitTokens,
                           boolean preempted) {
    /** Share of the prompt the prefix cache serves, in [0, 1]. */
    public double prefixHitRate() {
        return promptTokens == 0 ? 0 : (double) prefixHitTokens / promptTokens;
    }
}
