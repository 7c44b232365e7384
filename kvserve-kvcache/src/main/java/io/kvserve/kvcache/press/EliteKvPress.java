package io.kvserve.kvcache.press;

import io.kvserve.kvcache.StreamCodec;
import io.kvserve.kvcache.elitekv.EliteKvProfile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * EliteKV, training-free: RoPE on a few "elite" frequency pairs per KV head, and a joint low-rank
 * latent of the other key dims and the value, which is what the cache stores.
 *
 * <p>From the first token, every (layer, KV head) stream stores per token the {@code 2 * elite}
 * rotated key dims of its RoPElite pairs plus a {@code rank}-dim latent {@code U^T [k_nope ; v]}, with
 * {@code k_nope} the other key dims unrotated; attention absorbs the up-projection (see
 * {@link io.kvserve.kvcache.elitekv.EliteKvCodec}), so the full keys and values are never rebuilt and
 * the pages really shrink: {@code 2 (2 elite + rank)} bytes per token and head in F16 against
 * {@code 4 headDim}. The pairs and U come from a calibration profile
 * ({@link io.kvserve.kvcache.elitekv.EliteKvProfile}). The paper uptrains the converted model on
 * 0.6% of its pre-training data; this does not, so the model sees partial RoPE and a lossy KV it
 * was never trained for. Based on Zhou et al., "EliteKV: Scalable KV Cache Compression via RoPE
 * Frequency Selection and Joint Low-Rank Projection" (arXiv 2503.01586).
 *
 * @param elite       rotation pairs per head that keep RoPE; default (-1) a quarter of the head's pairs, rounded up
 * @param rank        latent dims per token and head; 0 ("full") keeps every dim (RoPElite alone, no saving);
 *                    default (-1) {@code headDim - 2 elite}, half the F16 cache
 * @param profilePath calibration profile file ({@code kvserve calibrate elitekv}), or null
 * @param profile     the calibration, loaded from {@code profilePath} or computed on the fly; null until then
 */
public record EliteKvPress(int elite, int rank, String profilePath, EliteKvProfile profile) implements KvPress {
    public static final int AUTO = -1, FULL = 0;

    public EliteKvPress {
        PressParams.require(elite >= AUTO, "elitekv: elite must be >= 0 rotation pairs, got " + elite);
        PressParams.require(rank >= AUTO, "elitekv: rank must be >= 1 latent dims (or full), got " + rank);
    }

    static EliteKvPress parse(PressParams p) {
        int elite = p.integer("elite", AUTO);
        String r = p.string("rank", null);
        int rank = AUTO;
        if (r != null) {
            if (r.equals("full")) rank = FULL;
            else {
                try {
                    rank = Integer.parseInt(r);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("press 'elitekv': rank must be an integer or 'full', got '" + r + "'");
                }
                PressParams.require(rank >= 1, "elitekv: rank must be >= 1 latent dims (or full), got " + rank);
            }
        }
        String path = p.string("profile", null);
        return new EliteKvPress(elite, rank, path, path == null ? null : EliteKvProfile.read(Path.of(path)));
    }

    /** The same press with {@code profile} as its calibration. */
    public EliteKvPress withProfile(EliteKvProfile profile) {
        return new EliteKvPress(elite, rank, profilePath, profile);
    }

    /**
     * {@code press} with every EliteKV press that lacks a profile given the one {@code calibrate}
     * computes (called at most once); other presses unchanged.
     */
    public static KvPress calibrateIfNeeded(KvPress press, Supplier<EliteKvProfile> calibrate) {
        EliteKvProfile[] once = new EliteKvProfile[1];
        Supplier<EliteKvProfile> memo = () -> once[0] != null ? once[0] : (once[0] = calibrate.get());
        return fill(press, memo);
    }

    private static KvPress fill(KvPress press, Supplier<EliteKvProfile> memo) {
        if (press instanceof EliteKvPress e && e.profile() == null) return e.withProfile(memo.get());
        if (press instanceof ComposedPress c) {
            List<KvPress> ps = new ArrayList<>();
            for (KvPress p : c.presses()) ps.add(fill(p, memo));
            return new ComposedPress(ps);
        }
        return press;
    }

    /** Elite pairs for a head of {@code pairs} rotation pairs. */
    public int elitePairs(int pairs) {
        return elite == AUTO ? (pairs + 3) / 4 : elite;
    }

    /** Latent dims for head dim {@code headDim} (full rank resolved). */
    public int latentRank(int headDim, int pairs) {
        int e = elitePairs(pairs);
        return rank == AUTO ? headDim - 2 * e : rank == FULL ? 2 * headDim - 2 * e : rank;
    }

    @Override
    public String spec() {
        StringBuilder b = new StringBuilder("elitekv");
        List<String> ps = new ArrayList<>();
        if (elite != AUTO) ps.add("elite=" + elite);
        if (rank != AUTO) ps.add("rank=" + (rank == FULL ? "full" : Integer.toString(rank)));
        if (profilePath != null) ps.add("profile=" + profilePath);
        if (!ps.isEmpty()) b.append(':').append(String.join(",", ps));
        return b.toString();
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        // nothing to do: the streams store the encoded rows from the first token
    }

    @Override
    public StreamCodec[][] streamCodecs(int layers, int kvHeads, int headDim) {
        if (profile == null) {
            throw new IllegalArgumentException("elitekv has no calibration profile: write one with `kvserve calibrate elitekv --model MODEL --out FILE` "
                    + "and give elitekv:profile=FILE (`kvserve eval kv` calibrates on the fly)");
        }
        if (profile.layers() != layers || profile.kvHeads() != kvHeads || profile.headDim() != headDim) {
            throw new IllegalArgumentException("the EliteKV profile " + (profilePath != null ? profilePath + " " : "") + "is for " + profile.layers() + " layers, "
                    + profile.kvHeads() + " KV heads, head dim " + profile.headDim() + ", but the model has " + layers + ", " + kvHeads + ", " + headDim
                    + ": calibrate on this model");
        }
        int e = elitePairs(profile.pairs());
        PressParams.require(e <= profile.pairs(), "elitekv: elite=" + e + " is more than the head's " + profile.pairs() + " rotation pairs");
        int r = latentRank(headDim, profile.pairs());
        PressParams.require(r >= 1 && r <= 2 * headDim - 2 * e, "elitekv: rank must be in [1, " + (2 * headDim - 2 * e) + "] with elite=" + e
                + " and head dim " + headDim + ", got " + r);
        StreamCodec[][] c = new StreamCodec[layers][kvHeads];
        for (int l = 0; l < layers; l++) for (int h = 0; h < kvHeads; h++) c[l][h] = profile.codec(l, h, e, r);
        return c;
    }
}
