package io.kvserve.kvcache.agents;

import io.kvserve.kvcache.kvcomm.KvSegment;
import io.kvserve.kvcache.reuse.Fragment;
import io.kvserve.kvcache.reuse.KvPlacement;
import io.kvserve.kvcache.reuse.SegmentKv;
import io.kvserve.kvcache.reuse.SegmentStore;
import io.kvserve.kernels.Kernels;
import io.kvserve.model.Batch;
import io.kvserve.model.kv.KvCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * KVShare's prefill path as a pipeline mode (card 7 of METHODS.md, RECONSTRUCTED): earlier prompts'
 * KV is kept in a {@link SegmentStore}; the new prompt's token runs that match stored runs (at
 * least {@code minFragment} tokens, any offset) are placed with re-rotation, the rest is computed.
 * Layers 0 and 1 run for every token; at check layer 1 each reused token gets the DHD score
 * {@code alpha_t * ||V_fresh - V_reused||_1}, alpha_t the attention it receives from the new
 * tokens' queries (summed over heads), and the top {@code ratio} of reused tokens are recomputed
 * through the later layers with the new tokens. Not here: KVShare's decode-time recompute (3 tokens
 * per step) and its cache-aware scheduler; both are outside the first token.
 * This is a minimal local version on the shared reuse API (branch {@code reuse}).
 */
public final class KvSharePrefill implements PrefillMode {
    private static final String TENANT = "agents";
    static final int CHECK_LAYER = 1;
    private final AgentRuntime rt;
    private final double ratio;
    private final SegmentStore store;

    public KvSharePrefill(AgentRuntime rt, double ratio, int minFragment) {
        if (!(ratio >= 0 && ratio <= 1)) throw new IllegalArgumentException("KVShare recompute ratio must be in [0, 1], got " + ratio);
        this.rt = rt;
        this.ratio = ratio;
        this.store = new SegmentStore(minFragment, Long.MAX_VALUE);
    }

    @Override public String name() { return "kvshare"; }

    @Override
    public Prefill prefill(String agent, AgentPrompt p) {
        int[] t = p.tokens();
        int T = t.length;
        if (T > rt.pass().maxBatch()) {
            throw new IllegalArgumentException("kvshare scores every prompt token in one pass: the prompt has " + T + " tokens, the pass takes " + rt.pass().maxBatch() + " (raise --batch)");
        }
        KvCache cache = rt.cache();
        long t0 = System.nanoTime();
        List<Fragment> frags = store.findFragments(TENANT, t);
        boolean[] reused = new boolean[T];
        int seq = cache.open();
        cache.reserve(seq, T);
        int pos = 0;
        var c = rt.model().config();
        for (Fragment f : frags) {
            if (f.promptStart() > pos) pos = placeholder(seq, pos, f.promptStart());
            KvPlacement.place(cache, seq, f.segment(), f.segmentOffset(), f.length(), rt.rope());
            for (int i = f.promptStart(); i < f.promptEnd(); i++) reused[i] = true;
            pos = f.promptEnd();
        }
        if (pos < T) placeholder(seq, pos, T);
        reused[T - 1] = false;   // the last token is always computed, for its logits
        int reusedCount = 0;
        for (boolean b : reused) if (b) reusedCount++;
        int budget = (int) Math.round(ratio * reusedCount);
        int[] positions = new int[T];
        boolean[] want = new boolean[T];
        int[] seqs = new int[T];
        for (int i = 0; i < T; i++) {
            positions[i] = i;
            seqs[i] = seq;
        }
        want[T - 1] = true;
        int[] recomputed = {T};
        float[] logits = rt.pass().forwardSelective(new Batch(t.clone(), seqs, positions, want, T), cache, (layer, batch, rows, n, q, k, v, kv) -> {
            if (layer != CHECK_LAYER) return null;
            int[] keep = select(layer, rows, n, q, k, v, kv, seq, reused, budget, c.nHeads(), c.nKvHeads(), c.headDim());
            recomputed[0] = keep.length;
            return keep;
        });
        float[] out = Arrays.copyOf(logits, c.vocabSize());
        long nanos = System.nanoTime() - t0;
        store.put(TENANT, SegmentKv.capture(cache, seq, 0, t.clone()));
        return new Prefill(seq, out, recomputed[0], nanos, frags.isEmpty());
    }

    /** Zero KV at {@code [from, to)}: room for tokens that are computed anyway (overwritten at every layer). */
    private int placeholder(int seq, int from, int to) {
        var c = rt.model().config();
        rt.cache().write(seq, from, new KvSegment(c.nLayers(), c.nKvHeads(), c.headDim(), to - from), rt.rope());
        return to;
    }

    /** New tokens, the last token and the top {@code budget} reused tokens by DHD score. */
    static int[] select(int layer, int[] rows, int n, float[] q, float[] k, float[] v, KvCache cache, int seq, boolean[] reused,
                        int budget, int nHeads, int kvHeads, int hd) {
        int kvDim = kvHeads * hd, qDim = nHeads * hd, group = nHeads / kvHeads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        double[] alpha = new double[n];
        float[] s = new float[n];
        for (int r = 0; r < n; r++) {
            if (reused[rows[r]]) continue;
            for (int h = 0; h < nHeads; h++) {
                int kh = h / group;
                int m = r + 1;   // rows are positions 0..n-1 of the whole prompt
                for (int u = 0; u < m; u++) s[u] = Kernels.dot(q, r * qDim + h * hd, k, u * kvDim + kh * hd, hd) * scale;
                Kernels.softmax(s, 0, m);
                for (int u = 0; u < m; u++) alpha[u] += s[u];
            }
        }
        float[] oldK = new float[kvDim], oldV = new float[kvDim];
        List<double[]> scored = new ArrayList<>();
        List<Integer> keep = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            if (!reused[rows[r]]) {
                keep.add(r);
                continue;
            }
            cache.read(layer, seq, rows[r], oldK, 0, oldV, 0);
            double dev = 0;
            for (int j = 0; j < kvDim; j++) dev += Math.abs(v[r * kvDim + j] - oldV[j]);
            scored.add(new double[] {alpha[r] * dev, r});
        }
        scored.sort((a, b) -> Double.compare(b[0], a[0]));
        for (int i = 0; i < Math.min(budget, scored.size()); i++) keep.add((int) scored.get(i)[1]);
        return keep.stream().mapToInt(Integer::intValue).sorted().toArray();
    }
}
