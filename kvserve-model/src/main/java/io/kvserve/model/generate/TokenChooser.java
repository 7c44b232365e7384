package io.kvserve.model.generate;

/** Picks the next token from a row of logits; the sampler implements it. */
@FunctionalInterface
public interface TokenChooser {
    /**
     * @param logits     row {@code logits[off, off + vocab)}; the chooser may modify it
     * @param history    tokens so far (prompt and generated), for penalties
     */
    int choose(float[] logits, int off, int vocab, int[] history, int historyLen);

    /** Argmax, ties to the lowest id. */
    static TokenChooser greedy() {
        return (logits, off, vocab, history, n) -> {
            int best = 0;
            for (int i = 1; i < vocab; i++) if (logits[off + i] > logits[off + best]) best = i;
            return best;
        };
    }
}
