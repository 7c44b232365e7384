package io.kvserve.engine;

/** Why a request ended. */
public enum FinishReason {
    /** An end-of-generation token or a stop string. */
    STOP,
    /** max tokens or the context window. */
    LENGTH,
    /** The caller cancelled (the client went away). */
    CANCELLED,
    /** It waited in the queue longer than admission allowed, before producing anything. */
    QUEUE_TIMEOUT,
    /** The engine is shutting down. */
    SHUTDOWN,
    /** The forward pass failed; {@link Completion#error()} says why. */
    ERROR
}
