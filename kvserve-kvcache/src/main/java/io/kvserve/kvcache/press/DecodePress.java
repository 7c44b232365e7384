package io.kvserve.kvcache.press;

/**
 * Decode-time compression for any scoring press: after the inner press has run on the prompt,
 * every {@code every} new tokens each stream is compressed back to the size it had right after
 * prefill, by the inner press's scores. This is what kvpress users ask for most (long generations
 * within a fixed memory budget); it makes H2O, TOVA and StreamingLLM the streaming methods of
 * their papers.
 *
 * @param inner the scorer
 * @param every compress every this many decoded tokens, default 16
 */
public record DecodePress(ScorerPress inner, int every) implements ScorerPress {
    public DecodePress {
        PressParams.require(inner != null, "decode wraps a scoring press: write decode:every=16/h2o:ratio=0.5");
        PressParams.require(every >= 1, "decode: every must be >= 1 token, got " + every);
    }

    @Override
    public String spec() {
        return "decode:every=" + every + "/" + inner.spec();
    }

    @Override public double ratio() { return inner.ratio(); }
    @Override public int observationWindow() { return inner.observationWindow(); }
    @Override public boolean tracksAttention() { return inner.tracksAttention(); }
    @Override public int decodeInterval() { return every; }

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
        inner.afterPrefill(ctx);
    }

    @Override
    public void duringDecode(PressContext ctx) {
        for (int l = 0; l < ctx.layers(); l++) {
            for (int h = 0; h < ctx.kvHeads(); h++) {
                int n = ctx.tokens(l, h), budget = ctx.budgetAfterPrefill(l, h);
                if (n > budget) ctx.keep(l, h, ScorerPress.topK(score(ctx, l, h), budget));
            }
        }
    }
}
