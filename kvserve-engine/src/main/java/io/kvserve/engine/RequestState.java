package io.kvserve.engine;

import java.time.Instant;

/** Where a request is in its life. Transitions: Queued -> Prefilling -> Decoding -> Finished, with Preempted -> Prefilling on the way. */
public sealed interface RequestState permits RequestState.Queued, RequestState.Prefilling, RequestState.Decoding,
        RequestState.Preempted, RequestState.Finished {

    /** Waiting for KV room or a slot; {@code deadline} null when admission accepted it outright. */
    record Queued(Instant since, Instant deadline) implements RequestState {}

    /** Its KV is being filled: {@code done} of {@code total} tokens are in the cache ({@code cached} of them were reused). */
    record Prefilling(int done, int total, int cached) implements RequestState {}

    /** Generating one token per step. */
    record Decoding(int generated) implements RequestState {}

    /** Evicted for a more urgent request; it resumes by recomputing its prompt and the tokens it generated. */
    record Preempted(Instant since, int generated) implements RequestState {}

    /** Done; no more events follow. */
    record Finished(FinishReason reason) implements RequestState {}
}
