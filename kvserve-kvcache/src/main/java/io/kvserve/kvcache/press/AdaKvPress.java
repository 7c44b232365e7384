package io.kvserve.kvcache.press;

import java.util.Arrays;

/**
 * AdaKV-style per-head budgets: one budget per layer, shared across its KV heads by score.
 *
 * <p>Each layer keeps as many tokens in total as the inner press would, but chooses them jointly
 * across heads: every head first gets {@code safeguard} of its uniform share by its own scores,
 * then the rest of the layer's budget goes to the highest scores of any head. Heads whose attention
 * is concentrated give room to heads whose attention is spread. Based on Feng et al., "Ada-KV:
 * Optimizing KV Cache Eviction by Adaptive Budget Allocation" (arXiv 2407.11550), as in kvpress's
 * {@code AdaKVPress}.
 *
 * @param inner     the scorer
 * @param safeguard fraction of the uniform per-head budget each head keeps for sure, default 0.2
 */
public record AdaKvPress(ScorerPress inner, double safeguard) implements ScorerPress {
    public AdaKvPress {
        PressParams.require(inner != null, "adakv wraps a scoring press: write adakv/snapkv:ratio=0.5");
        PressParams.require(safeguard >= 0 && safeguard <= 1, "adakv: safeguard must be in [0, 1], got " + safeguard);
    }

    @Override
    public String spec() {
        return "adakv:safeguard=" + PressParams.fmt(safeguard) + "/" + inner.spec();
    }

    @Override public double ratio() { return inner.ratio(); }
    @Override public int observationWindow() { return inner.observationWindow(); }
    @Override public boolean tracksAttention() { return inner.tracksAttention(); }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        return inner.score(ctx, layer, kvHead);
    }

    @Override
    public int keepCount(PressContext ctx, int layer, int tokens) {
        return inner.keepCount(ctx, layer, tokens);
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        for (int l = 0; l < ctx.layers(); l++) {
            int heads = ctx.kvHeads();
            float[][] scores = new float[heads][];
            int total = 0, all = 0;
            for (int h = 0; h < heads; h++) {
                scores[h] = score(ctx, l, h);
                total += keepCount(ctx, l, scores[h].length);
                all += scores[h].length;
            }
            if (total >= all) continue;
            boolean[][] keep = new boolean[heads][];
            int chosen = 0;
            for (int h = 0; h < heads; h++) {
                keep[h] = new boolean[scores[h].length];
                int sure = (int) Math.floor(safeguard * keepCount(ctx, l, scores[h].length));
                for (int i : ScorerPress.topK(scores[h], sure)) {
                    keep[h][i] = true;
                    chosen++;
                }
            }
            // the rest of the layer's budget: highest scores of any head among the tokens not yet kept
            long[] order = new long[all - chosen];
            float[] flat = new float[all - chosen];
            int m = 0;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < scores[h].length; i++) {
                    if (keep[h][i]) continue;
                    order[m] = ((long) h << 32) | i;
                    flat[m++] = scores[h][i];
                }
            }
            for (int idx : ScorerPress.topK(flat, total - chosen)) keep[(int) (order[idx] >>> 32)][(int) order[idx]] = true;
            for (int h = 0; h < heads; h++) {
                int[] kept = new int[scores[h].length];
                int c = 0;
                for (int i = 0; i < kept.length; i++) if (keep[h][i]) kept[c++] = i;
                ctx.keep(l, h, Arrays.copyOf(kept, c));
            }
        }
    }
}
