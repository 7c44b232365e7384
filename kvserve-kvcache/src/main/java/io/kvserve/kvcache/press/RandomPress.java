package io.kvserve.kvcache.press;

/**
 * Random eviction: the control every method must beat.
 *
 * <p>Uniform random scores from a generator seeded by {@code seed} and the sequence, so runs repeat.
 *
 * @param ratio fraction of tokens evicted, default 0.5
 * @param seed  random seed, default 0
 */
public record RandomPress(double ratio, long seed) implements ScorerPress {
    public RandomPress {
        PressParams.ratio("random", ratio);
    }

    static RandomPress parse(PressParams p) {
        return new RandomPress(p.real("ratio", 0.5), p.integer("seed", 0));
    }

    @Override
    public String spec() {
        return "random:ratio=" + PressParams.fmt(ratio) + ",seed=" + seed;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        var rnd = new java.util.SplittableRandom(seed ^ ctx.random().nextLong() ^ (layer * 1000003L + kvHead));
        float[] s = new float[ctx.tokens(layer, kvHead)];
        for (int t = 0; t < s.length; t++) s[t] = (float) rnd.nextDouble();
        return s;
    }
}
