package io.kvserve.kvcache.press;

import io.kvserve.kvcache.AttentionFeatureMap;
import io.kvserve.kvcache.KvStorage;

import java.util.Set;
import java.util.random.RandomGenerator;

/**
 * LESS: eviction plus a constant-size low-rank state that absorbs what the eviction drops.
 *
 * <p>Wraps an eviction press. Every token the inner press evicts, after prefill or during decode,
 * is added once, as it leaves, to a per-(layer, KV head) state {@code H += psi(k)^T v},
 * {@code z += psi(k)} of {@code rank x (headDim + 1)} floats held in a cache page; from then on
 * every query of the head's group adds {@code phi(q) H} to its attention numerator and
 * {@code phi(q) z} to its softmax denominator, so the evicted tokens stay visible through a
 * linear-attention term. The maps are positive random features with a query mixing matrix fitted
 * in closed form on calibration text ({@code map=fit}, {@link LessCalibration}), or left at the
 * identity ({@code map=random}, training-free); the paper trains small GELU networks instead.
 * Based on Dong et al., "Get More with LESS: Synthesizing Recurrence with KV Cache Compression for
 * Efficient LLM Inference" (arXiv 2402.09398, ICML 2024).
 *
 * @param inner the eviction press whose dropped tokens are absorbed
 * @param rank  feature dimension D_k of the state, default 8 (the paper's ker_dim)
 * @param map   {@code fit} (least squares on calibration text, default) or {@code random}
 * @param ridge pull of the fitted mixing matrix towards the identity, default 0.01
 * @param seed  seed of the random projections, default 0
 * @param maps  fitted maps, or null (for {@code map=fit} until {@link #withMaps} gives them)
 */
public record LessPress(ScorerPress inner, int rank, String map, double ridge, long seed, LessFeatureMaps maps) implements KvPress {
    private static final Set<String> MAPS = Set.of("fit", "random");

    public LessPress {
        PressParams.require(inner != null, "less wraps an eviction press: write less/snapkv:ratio=0.5");
        PressParams.require(rank >= 1 && rank <= 32, "less: rank (the state's feature dimension) must be in [1, 32], got " + rank);
        PressParams.require(MAPS.contains(map), "less: map must be fit (least squares on calibration text) or random (training-free), got '" + map + "'");
        PressParams.require(ridge >= 0 && Double.isFinite(ridge), "less: ridge must be a finite number >= 0, got " + ridge);
        PressParams.require(maps == null || maps.rank() == rank, "less: maps of rank " + (maps == null ? 0 : maps.rank()) + " given to a press of rank " + rank);
    }

    static LessPress parse(PressParams p, ScorerPress inner) {
        return new LessPress(inner, p.integer("rank", 8), p.string("map", "fit"), p.real("ridge", 0.01), p.integer("seed", 0), null);
    }

    /** This press with fitted maps. */
    public LessPress withMaps(LessFeatureMaps fitted) {
        return new LessPress(inner, rank, map, ridge, seed, fitted);
    }

    /** Whether the press still needs {@link LessCalibration} before it can run. */
    public boolean needsFit() {
        return map.equals("fit") && maps == null;
    }

    @Override
    public String spec() {
        return "less:rank=" + rank + ",map=" + map + ",ridge=" + PressParams.fmt(ridge) + ",seed=" + seed + "/" + inner.spec();
    }

    @Override public int decodeInterval() { return inner.decodeInterval(); }
    @Override public int observationWindow() { return inner.observationWindow(); }
    @Override public boolean tracksAttention() { return inner.tracksAttention(); }

    @Override
    public void afterPrefill(PressContext ctx) {
        inner.afterPrefill(new Absorbing(ctx, mapsFor(ctx)));
    }

    @Override
    public void duringDecode(PressContext ctx) {
        inner.duringDecode(new Absorbing(ctx, mapsFor(ctx)));
    }

    private LessFeatureMaps mapsFor(PressContext ctx) {
        LessFeatureMaps m = maps;
        if (m == null) {
            if (map.equals("fit")) {
                throw new IllegalArgumentException("less:map=fit has no fitted feature maps: `kvserve eval kv` fits them on calibration text"
                        + " by itself; elsewhere use less:map=random (training-free) or fit them with LessCalibration.fit");
            }
            m = LessFeatureMaps.random(ctx.layers(), ctx.kvHeads(), ctx.headDim(), rank, seed);
        }
        m.checkShape(ctx);
        return m;
    }

    /** The cache as the inner press sees it, except that what it evicts is absorbed first. */
    private record Absorbing(PressContext ctx, LessFeatureMaps maps) implements PressContext {
        @Override
        public void keep(int layer, int kvHead, int[] indices) {
            AttentionFeatureMap m = maps.map(layer, kvHead);
            ctx.keepAbsorbing(layer, kvHead, indices, m);
        }

        @Override
        public void keepAbsorbing(int layer, int kvHead, int[] indices, AttentionFeatureMap map) {
            ctx.keepAbsorbing(layer, kvHead, indices, map);
        }

        @Override public int layers() { return ctx.layers(); }
        @Override public int kvHeads() { return ctx.kvHeads(); }
        @Override public int headDim() { return ctx.headDim(); }
        @Override public int groupSize() { return ctx.groupSize(); }
        @Override public int sequenceLength() { return ctx.sequenceLength(); }
        @Override public int tokens(int layer, int kvHead) { return ctx.tokens(layer, kvHead); }
        @Override public int[] positions(int layer, int kvHead) { return ctx.positions(layer, kvHead); }
        @Override public float[] keys(int layer, int kvHead) { return ctx.keys(layer, kvHead); }
        @Override public float[] values(int layer, int kvHead) { return ctx.values(layer, kvHead); }
        @Override public int[] windowPositions() { return ctx.windowPositions(); }
        @Override public float[] windowQueries(int layer, int kvHead) { return ctx.windowQueries(layer, kvHead); }
        @Override public float[] windowAttention(int layer, int kvHead) { return ctx.windowAttention(layer, kvHead); }
        @Override public float[] accumulatedAttention(int layer, int kvHead) { return ctx.accumulatedAttention(layer, kvHead); }
        @Override public int budgetAfterPrefill(int layer, int kvHead) { return ctx.budgetAfterPrefill(layer, kvHead); }
        @Override public float[] prefillScores(int layer, int kvHead) { return ctx.prefillScores(layer, kvHead); }
        @Override public void convert(KvStorage storage) { ctx.convert(storage); }
        @Override public RandomGenerator random() { return ctx.random(); }
    }
}
