package io.kvserve.router.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

/**
 * Deterministic grouped split by prompt text: every copy of the same text (after trimming and lower-casing) lands in
 * the same part, so no test prompt has a verbatim twin in the support set. The part of a group depends only on the
 * text and the seed, not on the row order.
 */
public final class GroupedSplit {
    private GroupedSplit() {}

    /** Three parts of a dataset. */
    public record Parts(RoutingDataset train, RoutingDataset validation, RoutingDataset test) {}

    public static String groupKey(String prompt) {
        return prompt.strip().toLowerCase(java.util.Locale.ROOT);
    }

    /** A number in [0,1) fixed by the group key and seed. */
    static double unit(String prompt, long seed) {
        CRC32C crc = new CRC32C();
        crc.update(groupKey(prompt).getBytes(StandardCharsets.UTF_8));
        long mixed = new SplittableRandom(crc.getValue() * 0x9E3779B97F4A7C15L ^ seed).nextLong();
        return (mixed >>> 11) * 0x1.0p-53;
    }

    /** Train/validation/test by group with the given fractions (test gets the rest). */
    public static Parts split(RoutingDataset data, double trainFrac, double valFrac, long seed) {
        if (trainFrac <= 0 || valFrac < 0 || trainFrac + valFrac >= 1) {
            throw new IllegalArgumentException("fractions train=" + trainFrac + " val=" + valFrac + " must be positive and sum below 1");
        }
        List<RoutingExample> tr = new ArrayList<>(), va = new ArrayList<>(), te = new ArrayList<>();
        for (RoutingExample e : data.examples()) {
            double u = unit(e.prompt(), seed);
            (u < trainFrac ? tr : u < trainFrac + valFrac ? va : te).add(e);
        }
        return new Parts(data.subset(tr), data.subset(va), data.subset(te));
    }

    /** Fold index in [0, folds) of an example for grouped K-fold. */
    public static int fold(RoutingExample e, int folds, long seed) {
        return Math.min(folds - 1, (int) (unit(e.prompt(), seed) * folds));
    }
}
