package io.kvserve.engine;

import java.time.Duration;

/** What admission control decided for a new request. */
public sealed interface Admission permits Admission.Accepted, Admission.Queued, Admission.Rejected {
    /** It fits now and runs at the next step. */
    record Accepted() implements Admission {}

    /** It waits for room, at most {@code timeout}; then it finishes with {@link FinishReason#QUEUE_TIMEOUT}. */
    record Queued(Duration timeout) implements Admission {}

    /** Refused; the client may try again after {@code retryAfter} (HTTP 429 with Retry-After). */
    record Rejected(Duration retryAfter, String reason) implements Admission {}
}
