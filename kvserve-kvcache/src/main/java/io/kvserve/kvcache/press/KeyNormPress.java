package io.kvserve.kvcache.press;

/**
 * Key norm: keep the tokens whose keys have the smallest L2 norm.
 *
 * <p>Needs no attention at all: a low key norm correlates with high attention received. Based on
 * Devoto et al., "A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression"
 * (arXiv 2406.11430), kvpress's {@code KnormPress}.
 *
 * @param ratio fraction of tokens evicted, default 0.5
 */
public record KeyNormPress(double ratio) implements ScorerPress {
    public KeyNormPress {
        PressParams.ratio("knorm", ratio);
    }

    static KeyNormPress parse(PressParams p) {
        return new KeyNormPress(p.real("ratio", 0.5));
    }

    @Override
    public String spec() {
        return "knorm:ratio=" + PressParams.fmt(ratio);
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        int n = ctx.tokens(layer, kvHead), d = ctx.headDim();
        float[] k = ctx.keys(layer, kvHead);
        float[] s = new float[n];
        for (int t = 0; t < n; t++) {
            double ss = 0;
            for (int c = 0; c < d; c++) ss += (double) k[t * d + c] * k[t * d + c];
            s[t] = (float) -Math.sqrt(ss);
        }
        return s;
    }
}
