package io.kvserve.kvcache.reuse;

import io.kvserve.model.Batch;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;
import io.kvserve.model.transformer.RowSelector;

import java.util.Arrays;

/**
 * Runs the forward pass for chosen positions of one sequence whose other positions hold reused KV:
 * a chosen position already stored has its KV overwritten at every layer (it attends over the
 * reused rest), a chosen position past the stored length is appended. Positions are processed in
 * ascending order, in micro-batches of the pass's maximum batch, so causality holds.
 */
public final class SelectiveRecompute {
    private SelectiveRecompute() {}

    /**
     * Recomputes {@code positions} (ascending, distinct; {@code tokens[i]} is the token at
     * {@code positions[i]}). Every position past the stored length must follow the stored ones
     * without gaps. Returns the logits ({@code vocab} floats, a copy) of the last position, or an
     * empty array when {@code logitsOfLast} is false.
     */
    public static float[] recompute(ForwardPass pass, KvCache cache, int seq, int[] positions, int[] tokens, boolean logitsOfLast) {
        return recompute(pass, cache, seq, positions, tokens, logitsOfLast, null);
    }

    /**
     * As {@link #recompute(ForwardPass, KvCache, int, int[], int[], boolean)}, with a
     * {@link RowSelector} that may stop rows after any layer (their later layers keep the reused KV).
     * The selector sees one micro-batch at a time.
     */
    public static float[] recompute(ForwardPass pass, KvCache cache, int seq, int[] positions, int[] tokens, boolean logitsOfLast, RowSelector selector) {
        int n = positions.length;
        if (tokens.length != n) throw new IllegalArgumentException(n + " positions but " + tokens.length + " tokens");
        if (n == 0) return new float[0];
        int next = cache.length(seq);
        for (int i = 0; i < n; i++) {
            if (positions[i] < 0 || (i > 0 && positions[i] <= positions[i - 1])) {
                throw new IllegalArgumentException("positions must be non-negative and strictly ascending, got " + Arrays.toString(positions));
            }
            if (positions[i] >= next) {
                if (positions[i] != next) throw new IllegalArgumentException("position " + positions[i] + " would leave a gap after the stored length " + next);
                next++;
            }
        }
        int newTokens = next - cache.length(seq);
        if (newTokens > 0) cache.reserve(seq, newTokens);
        float[] out = new float[0];
        int mb = pass.maxBatch();
        for (int from = 0; from < n; from += mb) {
            int m = Math.min(mb, n - from);
            int[] s = new int[m];
            Arrays.fill(s, seq);
            boolean[] want = new boolean[m];
            boolean last = from + m == n;
            want[m - 1] = last && logitsOfLast;
            Batch b = new Batch(Arrays.copyOfRange(tokens, from, from + m), s, Arrays.copyOfRange(positions, from, from + m), want, m);
            float[] logits = pass.forwardSelective(b, cache, selector);
            if (want[m - 1]) out = Arrays.copyOf(logits, pass.config().vocabSize());
        }
        return out;
    }
}
