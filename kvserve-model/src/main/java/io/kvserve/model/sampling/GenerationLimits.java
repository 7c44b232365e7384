package io.kvserve.model.sampling;

import java.util.List;

/**
 * When generation ends: after {@code maxTokens} tokens, at a stop string (which is not emitted), or at
 * end-of-sequence unless {@code ignoreEos}.
 */
public record GenerationLimits(int maxTokens, List<String> stop, boolean ignoreEos) {
    public GenerationLimits {
        if (maxTokens <= 0) throw new IllegalArgumentException("maxTokens must be > 0, got " + maxTokens);
        if (stop == null) throw new IllegalArgumentException("stop must not be null (use an empty list)");
        for (int i = 0; i < stop.size(); i++) {
            String s = stop.get(i);
            if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop string #" + i + " is " + (s == null ? "null" : "empty") + "; stop strings must be non-empty");
        }
        stop = List.copyOf(stop);
    }

    public GenerationLimits(int maxTokens) {
        this(maxTokens, List.of(), false);
    }

    /** A fresh matcher for this request's stop strings. */
    public StopStringMatcher newStopMatcher() {
        return new StopStringMatcher(stop);
    }
}
