package io.kvserve.kvcache.press;

import java.util.Arrays;

/**
 * KVCrush: representatives of the tokens a scoring press evicts, chosen by head behaviour.
 *
 * <p>Each stream keeps the inner press's budget, of which {@code 1 - crush} goes to the inner
 * press's top scores and {@code crush} to representatives of the rest. A token's signature is one
 * bit per KV head of its layer: 1 if the token is in the top half of that head's scores (the rule of
 * the authors' OpenVINO integration; a token a head no longer stores gets 0). Candidates (the tokens
 * the inner press would evict from this stream) are ordered by Hamming distance of their signature
 * to an anchor (default {@code mean}: the bit-wise majority of the candidates, ties 0) and the
 * representatives are taken uniformly spaced along that order (stride = candidates / budget), so
 * every behaviour group keeps a proxy. Kept tokens keep their original positions. Based on Jha et
 * al., "KVCrush: Key Value Cache Size-Reduction Using Similarity in Head-Behaviour"
 * (arXiv 2503.00022); the 90/10 split is unverified in the card.
 *
 * @param inner  the scoring press whose budget and scores are used
 * @param crush  fraction of each stream's budget spent on representatives, default 0.1
 * @param anchor {@code mean}, {@code zeros}, {@code ones}, {@code alternate} or {@code random}, default mean
 */
public record KvCrushPress(ScorerPress inner, double crush, String anchor) implements KvPress {
    static final java.util.List<String> ANCHORS = java.util.List.of("mean", "zeros", "ones", "alternate", "random");

    public KvCrushPress {
        PressParams.require(inner != null, "kvcrush wraps a scoring press: write kvcrush/snapkv:ratio=0.5");
        PressParams.require(crush >= 0 && crush <= 1, "kvcrush: crush (fraction of the budget for representatives) must be in [0, 1], got " + crush);
        PressParams.require(ANCHORS.contains(anchor), "kvcrush: anchor must be one of " + ANCHORS + ", got '" + anchor + "'");
    }

    @Override
    public String spec() {
        return "kvcrush:crush=" + PressParams.fmt(crush) + ",anchor=" + anchor + "/" + inner.spec();
    }

    @Override public int observationWindow() { return inner.observationWindow(); }
    @Override public boolean tracksAttention() { return inner.tracksAttention(); }

    @Override
    public void afterPrefill(PressContext ctx) {
        int heads = ctx.kvHeads();
        for (int l = 0; l < ctx.layers(); l++) {
            float[][] scores = new float[heads][];
            int[][] pos = new int[heads][];
            for (int h = 0; h < heads; h++) {
                scores[h] = inner.score(ctx, l, h);
                pos[h] = ctx.positions(l, h);
            }
            boolean[][] topHalf = new boolean[heads][];
            for (int h = 0; h < heads; h++) topHalf[h] = topHalf(scores[h]);
            boolean[] anchorBits = null;
            for (int h = 0; h < heads; h++) {
                int n = scores[h].length;
                int budget = inner.keepCount(ctx, l, n);
                if (budget >= n) continue;
                int reps = (int) Math.floor(crush * budget);
                int[] important = ScorerPress.topK(scores[h], budget - reps);
                boolean[] kept = new boolean[n];
                for (int i : important) kept[i] = true;
                int[] candidates = new int[n - important.length];
                int c = 0;
                for (int i = 0; i < n; i++) if (!kept[i]) candidates[c++] = i;
                boolean[][] sig = new boolean[candidates.length][];
                for (int i = 0; i < candidates.length; i++) sig[i] = signature(pos[h][candidates[i]], pos, topHalf);
                boolean[] a = anchor(sig, heads, ctx);
                for (int i : representatives(sig, a, reps)) kept[candidates[i]] = true;
                int[] keep = new int[budget];
                int k = 0;
                for (int i = 0; i < n; i++) if (kept[i]) keep[k++] = i;
                ctx.keep(l, h, Arrays.copyOf(keep, k));
            }
        }
    }

    /** Whether each token is in the top half ({@code floor(n/2)} highest, later wins ties) of the scores. */
    static boolean[] topHalf(float[] scores) {
        boolean[] b = new boolean[scores.length];
        for (int i : ScorerPress.topK(scores, scores.length / 2)) b[i] = true;
        return b;
    }

    /** The token at {@code position}: one bit per head, set when that head holds it in its top half. */
    static boolean[] signature(int position, int[][] pos, boolean[][] topHalf) {
        boolean[] s = new boolean[pos.length];
        for (int h = 0; h < pos.length; h++) {
            int i = Arrays.binarySearch(pos[h], position);
            s[h] = i >= 0 && topHalf[h][i];
        }
        return s;
    }

    private boolean[] anchor(boolean[][] sig, int heads, PressContext ctx) {
        boolean[] a = new boolean[heads];
        switch (anchor) {
            case "ones" -> Arrays.fill(a, true);
            case "alternate" -> { for (int h = 0; h < heads; h++) a[h] = h % 2 == 1; }
            case "random" -> { var r = ctx.random(); for (int h = 0; h < heads; h++) a[h] = r.nextBoolean(); }
            case "mean" -> {
                for (int h = 0; h < heads; h++) {
                    int ones = 0;
                    for (boolean[] s : sig) if (s[h]) ones++;
                    a[h] = sig.length > 0 && 2 * ones > sig.length;
                }
            }
            default -> { }   // zeros
        }
        return a;
    }

    /**
     * Indices into {@code sig} of {@code count} representatives: candidates sorted by Hamming
     * distance to the anchor (stable, so equal distances stay in token order), then every
     * {@code stride = candidates / count}-th from the first.
     */
    static int[] representatives(boolean[][] sig, boolean[] anchor, int count) {
        int m = sig.length;
        count = Math.min(count, m);
        if (count <= 0) return new int[0];
        int[] dist = new int[m];
        for (int i = 0; i < m; i++) for (int h = 0; h < anchor.length; h++) if (sig[i][h] != anchor[h]) dist[i]++;
        Integer[] order = new Integer[m];
        for (int i = 0; i < m; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> Integer.compare(dist[x], dist[y]));
        int stride = m / count;
        int[] r = new int[count];
        for (int i = 0; i < count; i++) r[i] = order[i * stride];
        return r;
    }
}
