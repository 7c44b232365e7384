package io.kvserve.kvcache.reuse;

import io.kvserve.kernels.Kernels;
import io.kvserve.model.Batch;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;
import io.kvserve.model.transformer.RowSelector;

import java.util.Arrays;

/**
 * One request prefilled by {@link KvShare}: the last prompt token's logits, what was reused and
 * recomputed, and the decode stage ({@link #decode}), which recomputes the reused tokens that the
 * generated tokens attend to most, weighted by their value deviation. Used by one thread.
 */
public final class KvShareSession {
    private final KvShare share;
    private final ForwardPass pass;
    private final KvCache cache;
    private final int seq;
    private final int[] prompt;
    private final boolean[] reused;          // (T) KV taken from a stored segment
    private final boolean[] recomputed;      // (T) reused, then recomputed through every layer
    private final double[] deviation;        // (T) check-layer deviation of reused tokens (NaN: never checked)
    private final double[] attention;        // (T) accumulated attention on reused tokens at the check layer
    private final ModelConfig c;
    private float[] logits = new float[0];
    private int[] pending = new int[0];      // reused positions to recompute with the next decode step
    private int reusedCount, prefillRecomputed, decodeRecomputed;

    /** {@code pass} may be null when only the selection is exercised (tests give {@code config}). */
    KvShareSession(KvShare share, ForwardPass pass, ModelConfig config, KvCache cache, int seq, int[] prompt, boolean[] reused) {
        this.share = share;
        this.pass = pass;
        this.cache = cache;
        this.seq = seq;
        this.prompt = prompt.clone();
        this.reused = reused;
        this.c = config;
        int T = prompt.length;
        this.recomputed = new boolean[T];
        this.deviation = new double[T];
        Arrays.fill(deviation, Double.NaN);
        this.attention = new double[T];
        for (boolean r : reused) if (r) reusedCount++;
    }

    /** Logits of the last prompt token (vocab floats). */
    public float[] logits() {
        return logits.clone();
    }

    public int promptTokens() {
        return prompt.length;
    }

    /** Prompt tokens whose KV came from a stored segment. */
    public int reusedTokens() {
        return reusedCount;
    }

    /** Reused tokens recomputed through every layer at prefill. */
    public int prefillRecomputed() {
        return prefillRecomputed;
    }

    /** Reused tokens recomputed by the decode stage so far. */
    public int decodeRecomputed() {
        return decodeRecomputed;
    }

    /** Share of prompt tokens whose KV was reused and not recomputed at prefill. */
    public double reuseRate() {
        return (double) (reusedCount - prefillRecomputed) / prompt.length;
    }

    /**
     * Token-layers computed at prefill over a dense prefill's {@code T * layers}: reused tokens that
     * were checked cost {@code checkLayer + 1} layers, recomputed ones all.
     */
    public double prefillComputeShare() {
        int L = c.nLayers();
        long dense = (long) prompt.length * L;
        long checked = share.selection() == KvShare.Selection.NONE ? 0 : share.checkLayer() + 1;
        long work = (long) (prompt.length - reusedCount) * L + (long) (reusedCount - prefillRecomputed) * checked + (long) prefillRecomputed * L;
        return (double) work / dense;
    }

    /** Whether prompt position {@code p} holds reused KV that was never recomputed. */
    public boolean isReusedAsPlaced(int p) {
        return reused[p] && !recomputed[p];
    }

    /** Reused positions chosen for recompute (at prefill and by the decode stage so far), ascending. */
    public int[] recomputedPositions() {
        int n = 0;
        for (boolean r : recomputed) if (r) n++;
        int[] out = new int[n];
        for (int p = 0, i = 0; p < recomputed.length; p++) if (recomputed[p]) out[i++] = p;
        return out;
    }

    /** The check-layer deviation of reused position {@code p} (NaN when none was measured). */
    public double deviation(int p) {
        return deviation[p];
    }

    /** Attention accumulated on reused position {@code p} at the check layer. */
    public double attention(int p) {
        return attention[p];
    }

    // ---- prefill ----

    void densePrefill(int from, int to) {
        if (to <= from) return;
        cache.reserve(seq, to - from);
        for (int p = from; p < to; p += pass.maxBatch()) {
            int n = Math.min(pass.maxBatch(), to - p);
            float[] l = pass.forward(Batch.ofSequence(seq, prompt, p, n, p, false), cache);
            if (p + n == prompt.length) logits = Arrays.copyOf(l, c.vocabSize());
        }
    }

    /** Positions {@code first..T-1} hold placed KV up to {@code placedEnd} (new tokens as placeholders). */
    void selectiveFrom(int first, int placedEnd) {
        int T = prompt.length;
        boolean check = share.selection() != KvShare.Selection.NONE;
        int n = 0;
        for (int p = first; p < T; p++) if (!reused[p] || check) n++;
        int[] positions = new int[n], tokens = new int[n];
        for (int p = first, i = 0; p < T; p++) {
            if (reused[p] && !check) continue;
            positions[i] = p;
            tokens[i++] = prompt[p];
        }
        logits = SelectiveRecompute.recompute(pass, cache, seq, positions, tokens, true, check ? this::selectAtPrefill : null);
    }

    /** The prefill side of DHD (or CacheBlend's key deviation) at the check layer. */
    int[] selectAtPrefill(int layer, Batch batch, int[] rows, int n, float[] q, float[] k, float[] v, KvCache kv) {
        if (layer != share.checkLayer()) return null;
        int kvDim = c.kvDim();
        float[] oldK = new float[kvDim], oldV = new float[kvDim];
        int candidates = 0;
        for (int r = 0; r < n; r++) {
            int p = batch.positions()[rows[r]];
            if (!reused[p]) continue;
            candidates++;
            kv.read(layer, seq, p, oldK, 0, oldV, 0);
            double d = 0;
            if (share.selection() == KvShare.Selection.DHD) {
                for (int j = 0; j < kvDim; j++) d += Math.abs(v[r * kvDim + j] - oldV[j]);
            } else {
                for (int j = 0; j < kvDim; j++) {
                    double e = k[r * kvDim + j] - oldK[j];
                    d += e * e;
                }
            }
            deviation[p] = d;
        }
        if (share.selection() == KvShare.Selection.DHD) {
            boolean[] isQuery = new boolean[n];
            for (int r = 0; r < n; r++) isQuery[r] = !reused[batch.positions()[rows[r]]];
            accumulateAttention(layer, batch, rows, n, q, k, isQuery);
        }
        int[] cand = new int[candidates];
        double[] score = new double[candidates];
        for (int r = 0, i = 0; r < n; r++) {
            int p = batch.positions()[rows[r]];
            if (!reused[p]) continue;
            cand[i] = r;
            score[i++] = share.selection() == KvShare.Selection.DHD ? attention[p] * deviation[p] : deviation[p];
        }
        int[] chosen = KvShare.topK(score, cand, share.prefillBudget(candidates));
        boolean[] keep = new boolean[n];
        for (int r : chosen) {
            keep[r] = true;
            recomputed[batch.positions()[rows[r]]] = true;
            prefillRecomputed++;
        }
        int kept = 0;
        for (int r = 0; r < n; r++) if (!reused[batch.positions()[rows[r]]]) keep[r] = true;
        for (boolean b : keep) if (b) kept++;
        int[] out = new int[kept];
        for (int r = 0, i = 0; r < n; r++) if (keep[r]) out[i++] = r;
        return out;
    }

    /**
     * Adds to {@link #attention} the softmax attention of the query rows (every query head) on each
     * reused position, at {@code layer}: keys of active rows are the fresh ones, others the cache's.
     */
    private void accumulateAttention(int layer, Batch batch, int[] rows, int n, float[] q, float[] k, boolean[] isQuery) {
        int maxPos = batch.positions()[rows[n - 1]];
        int kvDim = c.kvDim(), qDim = c.qDim(), hd = c.headDim(), group = c.groupSize();
        float[] keys = new float[(maxPos + 1) * kvDim];
        boolean[] fresh = new boolean[maxPos + 1];
        for (int r = 0; r < n; r++) {
            int p = batch.positions()[rows[r]];
            System.arraycopy(k, r * kvDim, keys, p * kvDim, kvDim);
            fresh[p] = true;
        }
        float[] scratchV = new float[kvDim];
        for (int t = 0; t <= maxPos; t++) if (!fresh[t]) cache.read(layer, seq, t, keys, t * kvDim, scratchV, 0);
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] s = new float[maxPos + 1];
        for (int r = 0; r < n; r++) {
            if (!isQuery[r]) continue;
            int pos = batch.positions()[rows[r]];
            for (int h = 0; h < c.nHeads(); h++) {
                int kvh = h / group;
                for (int t = 0; t <= pos; t++) s[t] = Kernels.dot(q, r * qDim + h * hd, keys, t * kvDim + kvh * hd, hd) * scale;
                Kernels.softmax(s, 0, pos + 1);
                for (int t = 0; t <= pos; t++) if (t < reused.length && reused[t]) attention[t] += s[t];
            }
        }
    }

    // ---- decode ----

    /**
     * Appends {@code token} at the next position and returns its logits (a copy). With the decode
     * stage on, the reused tokens chosen after the previous step are recomputed in the same pass
     * (before the new token, so it already attends to their fresh KV), and the new token's attention
     * at the check layer updates the choice for the next step.
     */
    public float[] decode(int token) {
        int pos = cache.length(seq);
        cache.reserve(seq, 1);
        boolean stage = share.decodeTokens() > 0 && share.selection() != KvShare.Selection.NONE && reusedCount > 0;
        if (!stage) {
            float[] l = pass.forward(Batch.ofSequence(seq, new int[] {token}, 0, 1, pos, false), cache);
            return Arrays.copyOf(l, c.vocabSize());
        }
        int n = pending.length + 1;
        int[] toks = new int[n], seqs = new int[n], positions = new int[n];
        boolean[] want = new boolean[n];
        Arrays.fill(seqs, seq);
        for (int i = 0; i < pending.length; i++) {
            positions[i] = pending[i];
            toks[i] = prompt[pending[i]];
            recomputed[pending[i]] = true;
        }
        positions[n - 1] = pos;
        toks[n - 1] = token;
        want[n - 1] = true;
        decodeRecomputed += pending.length;
        RowSelector observe = (layer, batch, rows, m, q, k, v, kv) -> {
            if (layer == share.checkLayer()) {
                boolean[] isQuery = new boolean[m];
                isQuery[m - 1] = true;
                accumulateAttention(layer, batch, rows, m, q, k, isQuery);
            }
            return null;
        };
        float[] l = pass.forwardSelective(new Batch(toks, seqs, positions, want, n), cache, observe);
        float[] out = Arrays.copyOf(l, c.vocabSize());
        pending = nextDecodeRecompute();
        return out;
    }

    /** The decode stage's choice: top {@code decodeTokens} reused, not yet recomputed positions by alpha * deviation. */
    int[] nextDecodeRecompute() {
        int m = 0;
        for (int p = 0; p < reused.length; p++) if (reused[p] && !recomputed[p]) m++;
        int[] cand = new int[m];
        double[] score = new double[m];
        for (int p = 0, i = 0; p < reused.length; p++) {
            if (!reused[p] || recomputed[p]) continue;
            cand[i] = p;
            double d = Double.isNaN(deviation[p]) ? 0 : deviation[p];
            score[i++] = share.selection() == KvShare.Selection.DHD ? attention[p] * d : d;
        }
        return KvShare.topK(score, cand, share.decodeTokens());
    }
}
