package io.kvserve.kvcache.press;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * PrefixKV's prefix search on a hand-made profile of 2 layers x 64 tokens, protect 2 (start 1 + last).
 * Layer 0: 32 tokens score 3 (positions 1..32), 32 score 1, total 128: c[i] = 3(i+1)/128 up to .75.
 * Layer 1: uniform, c[i] = (i+1)/64. Target at ratio 0.5: 64 of 128 evicted, tolerance 5.
 * p = .5: keep 22 + 32 -> evict 40 + 30 = 70 (too many, lo = .5); p = .75: keep 32 + 48 -> 30 + 14 = 44
 * (hi = .75); p = .625: keep 27 + 40 -> 35 + 22 = 57 (hi = .625); p = .5625: keep 24 + 36 -> 38 + 26 = 64.
 */
class PrefixKvPressTest {
    static float[][] profile() {
        float[] l0 = new float[64], l1 = new float[64];
        for (int t = 0; t < 64; t++) {
            l0[t] = t >= 1 && t <= 32 ? 3 : 1;
            l1[t] = 1;
        }
        return new float[][] {l0, l1};
    }

    @Test
    void binarySearchFindsTheMassLevelAndPerLayerEvictions() {
        assertThat(PrefixKvPress.searchEvictions(profile(), 0.5, 2)).containsExactly(38, 26);
        double[] c0 = PrefixKvPress.cumulative(profile()[0]);
        assertThat(c0[23]).isEqualTo(0.5625);
        assertThat(PrefixKvPress.evictedAt(c0, 0.5625, 2)).isEqualTo(38);
    }

    @Test
    void rescaleMakesTheTotalExactByLargestRemainder() {
        float[][] s = {new float[8], new float[8]};
        // 5 + 2 = 7 evicted, target 8: wants 5.71 and 2.29 -> floors 5 + 2, the remainder to layer 0
        assertThat(PrefixKvPress.rescale(new int[] {5, 2}, 8, s, 2)).containsExactly(6, 2);
    }

    @Test
    void onlineSearchEvictsTheLowestScoresButNeverTheStartOrTheLastToken() {
        FakeContext c = new FakeContext(2, 1, 2, 1, 64);
        float[][] p = profile();
        c.attention[0][0] = p[0];
        c.attention[1][0] = p[1];
        new PrefixKvPress(0.5, 1, null, null).afterPrefill(c);
        // layer 0 keeps 64 - 38 = 26: token 0, token 63 and the 24 latest of the score-3 tokens (ties: later wins)
        int[] expected0 = new int[26];
        expected0[0] = 0;
        for (int i = 0; i < 24; i++) expected0[i + 1] = 9 + i;
        expected0[25] = 63;
        assertThat(c.kept[0][0]).containsExactly(expected0);
        assertThat(c.kept[1][0]).hasSize(38).contains(0, 63);
    }

    @Test
    void profileRoundTripsThroughItsFileAndDrivesTheBudgets(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("prefixkv.json");
        new PrefixKvProfile("hand", 2, "PrefixKvPressTest", 1, 1,
                List.of(new PrefixKvProfile.Entry(0.5, new double[] {38 / 64.0, 26 / 64.0}), new PrefixKvProfile.Entry(0.75, new double[] {0.9, 0.6}))).write(f);
        PrefixKvProfile back = PrefixKvProfile.read(f);
        assertThat(back.model()).isEqualTo("hand");
        assertThat(back.evictAt(0.5, f.toString())).containsExactly(38 / 64.0, 26 / 64.0);
        assertThat(back.evictAt(0.75, f.toString())).containsExactly(0.9, 0.6);

        KvPress press = PressRegistry.parse("prefixkv:ratio=0.5,profile=" + f);
        assertThat(PressRegistry.parse(press.spec()).spec()).isEqualTo(press.spec());
        FakeContext c = new FakeContext(2, 1, 2, 1, 64);
        float[][] p = profile();
        c.attention[0][0] = p[0];
        c.attention[1][0] = p[1];
        press.afterPrefill(c);
        assertThat(c.kept[0][0]).hasSize(26);
        assertThat(c.kept[1][0]).hasSize(38);
    }

    @Test
    void userMistakesAboutTheProfileAreNamed(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> PressRegistry.parse("prefixkv:profile=" + dir.resolve("missing.json")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not exist").hasMessageContaining("kvserve calibrate prefixkv");
        Path bad = Files.writeString(dir.resolve("bad.json"), "{not json");
        assertThatThrownBy(() -> PressRegistry.parse("prefixkv:profile=" + bad)).hasMessageContaining("is not a PrefixKV profile");
        Path f = dir.resolve("p.json");
        new PrefixKvProfile("hand", 1, "x", 1, 1, List.of(new PrefixKvProfile.Entry(0.5, new double[] {0.5}))).write(f);
        assertThatThrownBy(() -> PressRegistry.parse("prefixkv:ratio=0.75,profile=" + f)).hasMessageContaining("no calibration at ratio 0.75");
    }

    @Test
    void onTheFlyCalibrationReachesPrefixKvInsideWrappersAndCompositions() {
        KvPress tree = PressRegistry.parse("decode:every=4/prefixkv:ratio=0.5>quantize:type=q8_0");
        KvPress done = PrefixKvCalibration.replace(tree, p -> p instanceof PrefixKvPress pk ? pk.withEvict(new double[] {0.25, 0.75}) : p);
        ComposedPress c = (ComposedPress) done;
        PrefixKvPress inner = (PrefixKvPress) ((DecodePress) c.presses().getFirst()).inner();
        assertThat(inner.evict()).containsExactly(0.25, 0.75);
        assertThat(done.spec()).isEqualTo(tree.spec());
        assertThat(((PrefixKvPress) ((DecodePress) ((ComposedPress) tree).presses().getFirst()).inner()).evict()).as("the original is untouched").isNull();
    }
}
