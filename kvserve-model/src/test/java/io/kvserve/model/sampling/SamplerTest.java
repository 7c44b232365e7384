package io.kvserve.model.sampling;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SamplerTest {
    static final int[] NO_HISTORY = new int[0];

    static SamplerConfig config(float temp, int topK, float topP, float minP) {
        return new SamplerConfig(temp, topK, topP, minP, 1f, 64, 0f, 0f, 0L);
    }

    static Sampler sampler(SamplerConfig c, long seed) {
        return new Sampler(c, new SplittableRandom(seed));
    }

    /** Token 3 has p 0.5, token 0 p 0.3, token 2 p 0.15, token 1 p 0.05: ids deliberately not in probability order. */
    static final float[] FOUR = {(float) Math.log(0.3), (float) Math.log(0.05), (float) Math.log(0.15), (float) Math.log(0.5)};

    static float[] gaussianLogits(int vocab, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[vocab];
        for (int i = 0; i < vocab; i++) l[i] = (float) (gaussian(r) * scale);
        return l;
    }

    static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    @Test
    void greedyIsArgmaxWithTiesToTheLowestId() {
        Sampler s = sampler(SamplerConfig.greedy(), 1);
        assertThat(s.sample(new float[] {1f, 5f, 5f, 2f}, 0, 4, NO_HISTORY, 0)).isEqualTo(1);
        assertThat(s.sample(new float[] {-3f, -1f, -1f}, 0, 3, NO_HISTORY, 0)).isEqualTo(1);
        assertThat(s.sample(new float[] {Float.NEGATIVE_INFINITY, -7f}, 0, 2, NO_HISTORY, 0)).isEqualTo(1);
        // offset into a batch of rows
        assertThat(s.sample(new float[] {9f, 9f, 0f, 1f, 0.5f}, 2, 3, NO_HISTORY, 0)).isEqualTo(1);
    }

    @Test
    void greedyStillAppliesPenalties() {
        var c = new SamplerConfig(0f, 0, 1f, 0f, 4f, 64, 0f, 0f, 0L);
        // token 0 (logit 3) was just generated: 3/4 = 0.75 < 1.0
        assertThat(sampler(c, 1).sample(new float[] {3f, 1f}, 0, 2, new int[] {0}, 1)).isEqualTo(1);
    }

    @Test
    void greedyConfigAgreesWithTheGeneratorsGreedyChooser() {
        var greedy = io.kvserve.model.generate.TokenChooser.greedy();
        io.kvserve.model.generate.TokenChooser sampler = sampler(SamplerConfig.greedy(), 1);
        for (int trial = 0; trial < 20; trial++) {
            float[] l = gaussianLogits(500, trial, 1.0);
            l[trial * 7] = l[trial * 7 + 3] = 10f; // a tie
            assertThat(sampler.choose(l, 0, l.length, NO_HISTORY, 0)).isEqualTo(greedy.choose(l, 0, l.length, NO_HISTORY, 0));
        }
    }

    @Test
    void topK1EqualsGreedy() {
        for (int trial = 0; trial < 50; trial++) {
            float[] l = gaussianLogits(1000, trial, 2.0);
            var s = sampler(new SamplerConfig(1.5f, 1, 0.9f, 0.05f, 1f, 64, 0f, 0f, 0L), trial);
            assertThat(s.sample(l, 0, l.length, NO_HISTORY, 0)).isEqualTo(Sampler.argmax(l, l.length));
        }
    }

    @Test
    void topKKeepsTheKLargestByPartialSelection() {
        float[] l = gaussianLogits(5000, 7, 3.0);
        int[] survivors = sampler(config(1f, 50, 1f, 0f), 1).survivors(l, 0, l.length, NO_HISTORY, 0);
        assertThat(survivors).containsExactly(naiveOrder(l, 50));
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        assertThat(sampler(config(1f, 0, 0.45f, 0f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactly(3);
        assertThat(sampler(config(1f, 0, 0.75f, 0f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactly(3, 0);
        assertThat(sampler(config(1f, 0, 0.85f, 0f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactly(3, 0, 2);
        assertThat(sampler(config(1f, 0, 0.99f, 0f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactly(3, 0, 2, 1);
    }

    @Test
    void topPWithoutTopKMatchesAFullSortOnALargeVocabulary() {
        for (long seed = 0; seed < 5; seed++) {
            float[] l = gaussianLogits(20000, seed, 1.0 + seed);
            float p = 0.5f + 0.1f * seed;
            int[] got = sampler(config(1f, 0, p, 0f), 1).survivors(l, 0, l.length, NO_HISTORY, 0);
            // reference: sort everything, keep the prefix whose probability reaches p
            Integer[] order = naiveOrderBoxed(l);
            double max = l[order[0]], z = 0;
            for (float v : l) z += Math.exp(v - max);
            int n = 0;
            for (double cum = 0; n < order.length; ) {
                cum += Math.exp(l[order[n++]] - max) / z;
                if (cum >= p) break;
            }
            assertThat(got).as("seed %d", seed).containsExactly(Arrays.stream(order, 0, n).mapToInt(Integer::intValue).toArray());
        }
    }

    @Test
    void minPIsRelativeToTheTopProbability() {
        // threshold 0.2 * 0.5 = 0.1: token 1 (0.05) goes
        assertThat(sampler(config(1f, 0, 1f, 0.2f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactlyInAnyOrder(3, 0, 2);
        // threshold 0.5 * 0.5 = 0.25: only 0.5 and 0.3 stay
        assertThat(sampler(config(1f, 0, 1f, 0.5f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactlyInAnyOrder(3, 0);
        assertThat(sampler(config(1f, 0, 1f, 1f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactly(3);
    }

    @Test
    void chainOrderIsTopKThenTopPThenMinPOnRenormalisedProbabilities() {
        // after top-k 2 the probabilities are 0.625 and 0.375, so top-p 0.6 keeps one token ...
        assertThat(sampler(config(1f, 2, 0.6f, 0f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactly(3);
        // ... while over all four tokens it needs two
        assertThat(sampler(config(1f, 0, 0.6f, 0f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactly(3, 0);
        // temperature comes last: it does not change which tokens survive min-p
        assertThat(sampler(config(50f, 0, 1f, 0.2f), 1).survivors(FOUR, 0, 4, NO_HISTORY, 0)).containsExactlyInAnyOrder(3, 0, 2);
    }

    @Test
    void penaltiesChangeTheRightLogitsByTheRightAmounts() {
        // repeat 2, frequency 0.1, presence 0.5, window = last 5 tokens
        var c = new SamplerConfig(1f, 0, 1f, 0f, 2f, 5, 0.1f, 0.5f, 0L);
        float[] l = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f, 1.0f};
        int[] history = {5, 5, 0, 1, 0, 2, 0}; // the two 5s are outside the window
        sampler(c, 1).penalize(l, 6, history, history.length);
        assertThat(l[0]).isCloseTo(2.0f / 2 - (3 * 0.1f + 0.5f), within(1e-6f)); // 3 times: 1.0 - 0.8 = 0.2
        assertThat(l[1]).isCloseTo(-1.0f * 2 - (0.1f + 0.5f), within(1e-6f));    // negative: multiplied, -2.6
        assertThat(l[2]).isCloseTo(0.5f / 2 - (0.1f + 0.5f), within(1e-6f));     // -0.35
        assertThat(l[3]).isEqualTo(3.0f);
        assertThat(l[4]).isEqualTo(0.0f);
        assertThat(l[5]).isEqualTo(1.0f); // only outside the window
    }

    @Test
    void penaltiesIgnoreIdsOutsideTheVocabularyAndLeaveNoState() {
        var c = new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 1f, 0f, 0L);
        Sampler s = sampler(c, 1);
        float[] l = {0f, 0f, 0f};
        s.penalize(l, 3, new int[] {1, 7, -1, 1}, 4);
        assertThat(l).containsExactly(0f, -2f, 0f);
        float[] again = {0f, 0f, 0f};
        s.penalize(again, 3, new int[] {2}, 1);
        assertThat(again).containsExactly(0f, 0f, -1f);
    }

    /** Property: whatever the settings, the drawn token is one of the filter chain's survivors. */
    @Test
    void theDrawnTokenAlwaysSurvivesTheFilters() {
        SplittableRandom r = new SplittableRandom(99);
        for (int trial = 0; trial < 300; trial++) {
            int vocab = r.nextInt(1, 400);
            float[] l = gaussianLogits(vocab, trial, r.nextDouble(0.1, 5));
            if (vocab > 3 && r.nextBoolean()) l[r.nextInt(vocab)] = Float.NEGATIVE_INFINITY;
            var c = new SamplerConfig((float) r.nextDouble(0.05, 3), r.nextInt(0, 60), (float) r.nextDouble(0.05, 1.0001 - 1e-4),
                    (float) r.nextDouble(0, 0.6), (float) r.nextDouble(0.8, 1.5), r.nextInt(0, 32), (float) r.nextDouble(-1, 1),
                    (float) r.nextDouble(-1, 1), trial);
            int[] history = r.ints(r.nextInt(0, 40), 0, vocab).toArray();
            Sampler s = Sampler.seeded(c);
            int token = s.sample(l, 0, vocab, history, history.length);
            assertThat(s.survivors(l, 0, vocab, history, history.length)).as("trial %d %s", trial, c).contains(token);
        }
    }

    @Test
    void sameSeedGivesTheSameTokens() {
        int[] a = generate(SamplerConfig.defaults(0), 42), b = generate(SamplerConfig.defaults(0), 42), c = generate(SamplerConfig.defaults(0), 43);
        assertThat(a).containsExactly(b);
        assertThat(a).isNotEqualTo(c);
    }

    /** 200 steps of a fake model whose logits depend on the step; the history grows as in generation. */
    private static int[] generate(SamplerConfig c, long seed) {
        Sampler s = Sampler.seeded(new SamplerConfig(c.temperature(), c.topK(), c.topP(), c.minP(), 1.1f, 16, 0.2f, 0.1f, seed));
        int[] history = new int[200];
        for (int step = 0; step < 200; step++) {
            float[] logits = gaussianLogits(300, 1000 + step, 2.0);
            history[step] = s.sample(logits, 0, logits.length, history, step);
        }
        return history;
    }

    @Test
    void temperatureOneDrawsFromTheSoftmax() {
        double[] p = {0.1, 0.2, 0.3, 0.4};
        assertThat(chiSquare(1f, p, p)).isLessThan(16.27); // df 3, p = 0.001
        // temperature 0.5 squares the probabilities before renormalising
        double[] sharp = {0.01 / 0.3, 0.04 / 0.3, 0.09 / 0.3, 0.16 / 0.3};
        assertThat(chiSquare(0.5f, p, sharp)).isLessThan(16.27);
        // and the test has power: the T=1 draws do not fit the T=0.5 distribution
        assertThat(chiSquare(1f, p, sharp)).isGreaterThan(100);
    }

    private static double chiSquare(float temperature, double[] p, double[] expected) {
        float[] l = new float[p.length];
        for (int i = 0; i < p.length; i++) l[i] = (float) Math.log(p[i]);
        Sampler s = sampler(config(temperature, 0, 1f, 0f), 12345);
        int n = 20000;
        int[] counts = new int[p.length];
        for (int i = 0; i < n; i++) counts[s.sample(l, 0, l.length, NO_HISTORY, 0)]++;
        double chi = 0;
        for (int i = 0; i < p.length; i++) {
            double e = n * expected[i];
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    @Test
    void logprobsAreTheLogSoftmaxOfTheRawLogits() {
        float[] l = {1f, 3f, 2f, 3f};
        double logZ = Math.log(Math.exp(1) + 2 * Math.exp(3) + Math.exp(2));
        TokenLogprobs lp = sampler(SamplerConfig.greedy(), 1).logprobs(l, 0, 4, 2, 3);
        assertThat(lp.token()).isEqualTo(2);
        assertThat((double) lp.logprob()).isCloseTo(2 - logZ, within(1e-6));
        assertThat(lp.topIds()).containsExactly(1, 3, 2);
        assertThat((double) lp.topLogprobs()[0]).isCloseTo(3 - logZ, within(1e-6));
        assertThat((double) lp.topLogprobs()[2]).isCloseTo(2 - logZ, within(1e-6));
    }

    @Test
    void sampleAllocatesNothingPerToken() {
        var bean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        float[] l = gaussianLogits(8000, 3, 2.0);
        int[] history = IntStream.range(0, 64).map(i -> i * 37 % 8000).toArray();
        Sampler[] samplers = {
                sampler(new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.1f, 64, 0.1f, 0.1f, 0L), 1), // top-k path
                sampler(config(0.8f, 0, 0.9f, 0.05f), 1),                                        // top-p without top-k
                sampler(SamplerConfig.greedy(), 1)};
        for (Sampler s : samplers) {
            for (int i = 0; i < 10; i++) s.sample(l, 0, l.length, history, history.length); // scratch and JIT warm-up
            long before = bean.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 50; i++) s.sample(l, 0, l.length, history, history.length);
            long perCall = (bean.getCurrentThreadAllocatedBytes() - before) / 50;
            assertThat(perCall).as("bytes allocated per sample() with %s", s.config()).isLessThan(1024);
        }
    }

    @Test
    void invalidLogitsAndArgumentsFailClearly() {
        Sampler s = sampler(SamplerConfig.defaults(0), 1);
        assertThatThrownBy(() -> s.sample(new float[] {0f, Float.NaN}, 0, 2, NO_HISTORY, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token 1 is NaN");
        assertThatThrownBy(() -> s.sample(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, 0, 2, NO_HISTORY, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-infinity");
        assertThatThrownBy(() -> s.sample(new float[4], 2, 3, NO_HISTORY, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the array of length 4");
        assertThatThrownBy(() -> s.sample(new float[4], 0, 4, new int[2], 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("historyLen 3");
    }

    @Test
    void sortAndSelectMatchArraysSortOnAwkwardSizes() {
        SplittableRandom r = new SplittableRandom(5);
        for (int n : new int[] {0, 1, 2, 13, 17, 31, 33, 207, 1021, 4098}) {
            for (String shape : new String[] {"random", "sorted", "reversed", "few values"}) {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) {
                    a[i] = switch (shape) {
                        case "sorted" -> i;
                        case "reversed" -> n - i;
                        case "few values" -> r.nextInt(3);
                        default -> r.nextLong();
                    };
                }
                long[] expected = a.clone();
                Arrays.sort(expected);
                long[] sorted = a.clone();
                Sampler.sort(sorted, 0, n);
                assertThat(sorted).as("%s n=%d", shape, n).containsExactly(expected);
                if (n > 0) {
                    int k = 1 + r.nextInt(n);
                    long[] selected = a.clone();
                    Sampler.select(selected, 0, n, k);
                    Arrays.sort(selected, 0, k);
                    assertThat(Arrays.copyOf(selected, k)).as("select %s n=%d k=%d", shape, n, k).containsExactly(Arrays.copyOf(expected, k));
                }
            }
        }
    }

    @Test
    void keysOrderByValueDescendingThenIdAscending() {
        float[] v = {-0f, 0f, 1f, -1f, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, 1f, -Float.MIN_VALUE};
        long[] keys = new long[v.length];
        for (int i = 0; i < v.length; i++) keys[i] = Sampler.key(v[i], i);
        Arrays.sort(keys);
        int[] order = Arrays.stream(keys).mapToInt(Sampler::id).toArray();
        assertThat(order).containsExactly(5, 2, 6, 1, 0, 7, 3, 4);
    }

    @Test
    void configIsValidatedWithClearMessages() {
        assertThatThrownBy(() -> new SamplerConfig(-0.1f, 0, 1f, 0f, 1f, 64, 0f, 0f, 0L)).hasMessageContaining("temperature must be");
        assertThatThrownBy(() -> new SamplerConfig(Float.NaN, 0, 1f, 0f, 1f, 64, 0f, 0f, 0L)).hasMessageContaining("temperature must be");
        assertThatThrownBy(() -> new SamplerConfig(1f, -1, 1f, 0f, 1f, 64, 0f, 0f, 0L)).hasMessageContaining("topK must be >= 0");
        assertThatThrownBy(() -> new SamplerConfig(1f, 0, 0f, 0f, 1f, 64, 0f, 0f, 0L)).hasMessageContaining("topP must be in (0, 1]");
        assertThatThrownBy(() -> new SamplerConfig(1f, 0, 1.5f, 0f, 1f, 64, 0f, 0f, 0L)).hasMessageContaining("topP must be in (0, 1]");
        assertThatThrownBy(() -> new SamplerConfig(1f, 0, 1f, -0.1f, 1f, 64, 0f, 0f, 0L)).hasMessageContaining("minP must be in [0, 1]");
        assertThatThrownBy(() -> new SamplerConfig(1f, 0, 1f, 0f, 0f, 64, 0f, 0f, 0L)).hasMessageContaining("repeatPenalty must be");
        assertThatThrownBy(() -> new SamplerConfig(1f, 0, 1f, 0f, 1f, -1, 0f, 0f, 0L)).hasMessageContaining("repeatLastN must be >= 0");
        assertThatThrownBy(() -> new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, Float.POSITIVE_INFINITY, 0f, 0L)).hasMessageContaining("frequencyPenalty");
        assertThatThrownBy(() -> new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 0f, Float.NaN, 0L)).hasMessageContaining("presencePenalty");
        assertThat(SamplerConfig.greedy().isGreedy()).isTrue();
        assertThat(SamplerConfig.greedy().hasPenalties()).isFalse();
    }

    private static int[] naiveOrder(float[] l, int k) {
        return Arrays.stream(naiveOrderBoxed(l), 0, k).mapToInt(Integer::intValue).toArray();
    }

    private static Integer[] naiveOrderBoxed(float[] l) {
        Integer[] ids = IntStream.range(0, l.length).boxed().toArray(Integer[]::new);
        Arrays.sort(ids, Comparator.<Integer>comparingDouble(i -> -l[i]).thenComparingInt(i -> i));
        return ids;
    }
}
