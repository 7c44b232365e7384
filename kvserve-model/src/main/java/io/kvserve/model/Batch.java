package io.kvserve.model;

/**
 * Tokens to run through the model in one pass. Token i belongs to sequence {@code seqs[i]} at
 * position {@code positions[i]}; logits are computed only where {@code wantLogits[i]}. Tokens of one
 * sequence appear in position order.
 */
public record Batch(int[] tokens, int[] seqs, int[] positions, boolean[] wantLogits, int size) {
    public Batch {
        if (size < 0 || size > tokens.length || size > seqs.length || size > positions.length || size > wantLogits.length) {
            throw new IllegalArgumentException("batch size " + size + " exceeds its arrays");
        }
    }

    /** {@code n} consecutive tokens of one sequence from {@code pos0}, logits for the last only (or all). */
    public static Batch ofSequence(int seq, int[] tokens, int from, int n, int pos0, boolean allLogits) {
        int[] t = new int[n], s = new int[n], p = new int[n];
        boolean[] w = new boolean[n];
        for (int i = 0; i < n; i++) {
            t[i] = tokens[from + i];
            s[i] = seq;
            p[i] = pos0 + i;
            w[i] = allLogits || i == n - 1;
        }
        return new Batch(t, s, p, w, n);
    }

    public int logitRows() {
        int c = 0;
        for (int i = 0; i < size; i++) if (wantLogits[i]) c++;
        return c;
    }
}
