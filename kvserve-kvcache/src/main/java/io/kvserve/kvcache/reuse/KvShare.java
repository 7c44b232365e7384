package io.kvserve.kvcache.reuse;

import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * KVShare: multi-tenant reuse of the KV of text fragments that reappear after a different prefix.
 * The retriever ({@link SegmentStore#findFragments}) finds exact token runs of stored segments in the
 * prompt; their KV is placed at the new offsets (keys re-rotated) and the DHD selector (Dual-stage
 * High Deviation) picks the reused tokens to recompute: at prefill, every reused token runs through
 * layers {@code 0..checkLayer}; at the check layer it scores {@code alpha_t * ||v_t(fresh) - v_t(reused)||_1}
 * ({@code alpha_t}: attention of the new tokens' queries on t, summed over queries and heads) and the
 * top {@code ratio} of reused tokens continue through the remaining layers, overwriting their KV; at
 * decode, each step's query at the check layer adds to {@code alpha}, and the {@code decodeTokens}
 * highest-scoring reused tokens not yet recomputed are recomputed in the next step.
 * Based on Yang et al., "KVShare" (arXiv 2503.16525); see docs/REUSE.md for what the card leaves open.
 *
 * @param ratio         fraction of reused tokens recomputed through every layer at prefill (default 0.15)
 * @param decodeTokens  reused tokens recomputed per decode step, 0 turns the decode stage off (default 3)
 * @param checkLayer    layer whose fresh KV is compared with the reused KV (default 1, CacheBlend's)
 * @param selection     DHD (KVShare), KEY_DEVIATION (CacheBlend's ||dK||^2) or NONE (place only, no check pass)
 */
public record KvShare(double ratio, int decodeTokens, int checkLayer, Selection selection) {
    /** How reused tokens are chosen for recompute. */
    public enum Selection {
        /** KVShare's accumulated-attention-weighted value deviation. */
        DHD,
        /** CacheBlend's key deviation at the check layer (ratio = its recompute ratio). */
        KEY_DEVIATION,
        /** Reuse everything as placed ("naive" reuse): no check pass, no recompute. */
        NONE
    }

    public static final double DEFAULT_RATIO = 0.15;
    public static final int DEFAULT_DECODE_TOKENS = 3;
    public static final int DEFAULT_CHECK_LAYER = 1;

    public KvShare {
        if (!(ratio >= 0 && ratio <= 1)) throw new IllegalArgumentException("KVShare ratio must be in [0, 1] (fraction of reused tokens recomputed), got " + ratio);
        if (decodeTokens < 0) throw new IllegalArgumentException("KVShare decode tokens must be >= 0, got " + decodeTokens);
        if (checkLayer < 0) throw new IllegalArgumentException("KVShare check layer must be >= 0, got " + checkLayer);
        if (selection == null) throw new IllegalArgumentException("KVShare selection must be dhd, key or none");
        if (selection == Selection.NONE && (ratio > 0 || decodeTokens > 0)) {
            throw new IllegalArgumentException("selection 'none' reuses everything: it takes ratio=0 and decode=0");
        }
    }

    /** The defaults: ratio 0.15, 3 decode tokens, check layer 1, DHD. */
    public KvShare() {
        this(DEFAULT_RATIO, DEFAULT_DECODE_TOKENS, DEFAULT_CHECK_LAYER, Selection.DHD);
    }

    /**
     * Parses {@code kvshare[:ratio=R,decode=N,check=L,select=dhd|key|none]}, e.g.
     * {@code kvshare:ratio=0.2,decode=0} or {@code cacheblend:ratio=0.15} (key deviation, no decode stage).
     */
    public static KvShare parse(String spec) {
        String s = spec.trim();
        String name = s.contains(":") ? s.substring(0, s.indexOf(':')) : s;
        double ratio = DEFAULT_RATIO;
        int decode = DEFAULT_DECODE_TOKENS, check = DEFAULT_CHECK_LAYER;
        Selection sel = Selection.DHD;
        switch (name.toLowerCase(Locale.ROOT)) {
            case "kvshare" -> { }
            case "cacheblend" -> { sel = Selection.KEY_DEVIATION; decode = 0; }
            case "naive" -> { sel = Selection.NONE; decode = 0; ratio = 0; }
            default -> throw new IllegalArgumentException("unknown reuse method '" + name + "': use kvshare, cacheblend or naive");
        }
        if (s.contains(":")) {
            for (String kv : s.substring(s.indexOf(':') + 1).split(",")) {
                if (kv.isBlank()) continue;
                int eq = kv.indexOf('=');
                if (eq < 0) throw new IllegalArgumentException("reuse parameter '" + kv + "' needs the form key=value");
                String key = kv.substring(0, eq).trim(), val = kv.substring(eq + 1).trim();
                try {
                    switch (key) {
                        case "ratio" -> ratio = Double.parseDouble(val);
                        case "decode" -> decode = Integer.parseInt(val);
                        case "check" -> check = Integer.parseInt(val);
                        case "select" -> sel = switch (val) {
                            case "dhd" -> Selection.DHD;
                            case "key" -> Selection.KEY_DEVIATION;
                            case "none" -> Selection.NONE;
                            default -> throw new IllegalArgumentException("select must be dhd, key or none, got '" + val + "'");
                        };
                        default -> throw new IllegalArgumentException("unknown reuse parameter '" + key + "' (ratio, decode, check, select)");
                    }
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("reuse parameter " + key + " needs a number, got '" + val + "'");
                }
            }
        }
        return new KvShare(ratio, decode, check, sel);
    }

    /**
     * Prefills {@code prompt} into the empty sequence {@code seq}, reusing the KV of fragments stored
     * under {@code tenant}, and returns the session (logits of the last prompt token, statistics,
     * decode stage). The last prompt token is never reused: its logits are computed.
     */
    public KvShareSession prefill(ForwardPass pass, KvCache cache, int seq, String tenant, int[] prompt, SegmentStore store) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty");
        if (cache.length(seq) != 0) throw new IllegalArgumentException("KVShare prefills an empty sequence; sequence " + seq + " holds " + cache.length(seq) + " positions");
        if (checkLayer >= pass.config().nLayers() && selection != Selection.NONE) {
            throw new IllegalArgumentException("check layer " + checkLayer + " is past the model's " + pass.config().nLayers() + " layers");
        }
        int T = prompt.length;
        boolean[] reused = new boolean[T];
        List<Fragment> fragments = store.findFragments(tenant, Arrays.copyOf(prompt, T - 1));
        for (Fragment f : fragments) Arrays.fill(reused, f.promptStart(), f.promptEnd(), true);
        KvShareSession session = new KvShareSession(this, pass, pass.config(), cache, seq, prompt, reused);
        if (fragments.isEmpty()) {
            session.densePrefill(0, T);
            return session;
        }
        int first = fragments.getFirst().promptStart();
        session.densePrefill(0, first);
        int last = fragments.getLast().promptEnd();
        int p = first;
        for (Fragment f : fragments) {
            if (f.promptStart() > p) KvPlacement.placeholder(cache, seq, f.promptStart() - p);
            KvPlacement.place(cache, seq, f.segment(), f.segmentOffset(), f.length(), pass.rope());
            p = f.promptEnd();
        }
        session.selectiveFrom(first, last);
        return session;
    }

    /** Top {@code k} indices by score (ties: lower index first), ascending. */
    static int[] topK(double[] score, int[] candidates, int k) {
        Integer[] order = new Integer[candidates.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> {
            int c = Double.compare(score[b], score[a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int[] out = new int[Math.min(k, candidates.length)];
        for (int i = 0; i < out.length; i++) out[i] = candidates[order[i]];
        Arrays.sort(out);
        return out;
    }

    /** Rows to recompute at prefill for {@code n} reused tokens: ceil(ratio * n). */
    int prefillBudget(int n) {
        return (int) Math.ceil(ratio * n - 1e-9);
    }
}
