package io.kvserve.engine;

/**
 * Receives a request's events on the engine thread, in order: tokens, then exactly one
 * {@link #onFinish}. Implementations must not block (hand the events to another thread).
 */
public interface TokenSink {
    void onToken(GeneratedToken token);

    void onFinish(Completion completion);
}
