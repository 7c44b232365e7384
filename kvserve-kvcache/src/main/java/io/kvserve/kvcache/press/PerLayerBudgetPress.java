package io.kvserve.kvcache.press;

/**
 * Per-layer budgets for any scoring press: layer {@code l} keeps the fraction {@code keep[l]} of its
 * tokens (the list is given, e.g. from a calibration run as in PrefixKV or DynamicKV), scored by the
 * inner press. A list of one value applies to every layer. Cross-cutting wrapper of DESIGN.md.
 *
 * @param inner the scorer
 * @param keep  fraction kept per layer, each in (0, 1]
 */
public record PerLayerBudgetPress(ScorerPress inner, double[] keep) implements ScorerPress {
    public PerLayerBudgetPress {
        PressParams.require(inner != null, "perlayer wraps a scoring press: write perlayer:keep=0.9;0.5/snapkv");
        PressParams.require(keep != null && keep.length > 0, "perlayer: give keep=f0;f1;... (fraction kept per layer)");
        for (double k : keep) PressParams.require(k > 0 && k <= 1, "perlayer: every kept fraction must be in (0, 1], got " + k);
        keep = keep.clone();
    }

    @Override
    public String spec() {
        StringBuilder b = new StringBuilder("perlayer:keep=");
        for (int i = 0; i < keep.length; i++) b.append(i > 0 ? ";" : "").append(PressParams.fmt(keep[i]));
        return b.append('/').append(inner.spec()).toString();
    }

    @Override
    public double ratio() {
        double s = 0;
        for (double k : keep) s += 1 - k;
        return s / keep.length;
    }

    @Override public int observationWindow() { return inner.observationWindow(); }
    @Override public boolean tracksAttention() { return inner.tracksAttention(); }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        return inner.score(ctx, layer, kvHead);
    }

    @Override
    public int keepCount(PressContext ctx, int layer, int tokens) {
        if (keep.length != 1 && keep.length != ctx.layers()) {
            throw new IllegalArgumentException("perlayer: keep lists " + keep.length + " fractions but the model has " + ctx.layers() + " layers");
        }
        double f = keep.length == 1 ? keep[0] : keep[layer];
        return (int) Math.max(1, Math.min(tokens, Math.round(f * tokens)));
    }
}
