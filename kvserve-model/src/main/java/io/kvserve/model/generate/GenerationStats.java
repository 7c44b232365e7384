package io.kvserve.model.generate;

/**
 * Timings of one generation. Prompt speed counts prompt tokens over prefill time; decode speed
 * counts generated tokens after the first over decode time.
 */
public record GenerationStats(int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos,
                              long timeToFirstTokenNanos, StopReason stopReason) {
    public enum StopReason { MAX_TOKENS, END_OF_GENERATION, STOP_STRING, CONTEXT_FULL, CANCELLED }

    public double promptTokensPerSecond() {
        return prefillNanos == 0 ? 0 : promptTokens * 1e9 / prefillNanos;
    }

    public double decodeTokensPerSecond() {
        int n = generatedTokens - 1;
        return n <= 0 || decodeNanos == 0 ? 0 : n * 1e9 / decodeNanos;
    }
}
