package io.kvserve.kvcache;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The LESS hook of the paged cache on cases small enough to check by hand. With an exact feature
 * map (keys drawn from a fixed set, psi = one-hot of the key, phi(q)_a = exp(q.k_a / sqrt(d))),
 * attention over the kept tokens plus the state must equal full attention over every token.
 */
class LowRankStateTest {
    static final int D = 2, GROUP = 2;
    static final float[][] KEY_SET = {{1f, 0f}, {0f, 2f}, {-1f, 1f}};

    /** exp(q.k/sqrt(d)) written exactly as phi(q) . psi(k) for keys from KEY_SET. */
    static final class ExactMap implements AttentionFeatureMap {
        @Override public int dim() { return KEY_SET.length; }
        @Override public int headDim() { return D; }

        @Override
        public void query(float[] q, int off, float[] dst) {
            for (int a = 0; a < KEY_SET.length; a++) dst[a] = (float) Math.exp((q[off] * KEY_SET[a][0] + q[off + 1] * KEY_SET[a][1]) / Math.sqrt(D));
        }

        @Override
        public void key(float[] k, int off, float[] dst) {
            Arrays.fill(dst, 0f);
            for (int a = 0; a < KEY_SET.length; a++) if (k[off] == KEY_SET[a][0] && k[off + 1] == KEY_SET[a][1]) dst[a] = 1f;
        }
    }

    static PagedKvCache cacheWith(int tokens, int seq0Seed) {
        PagedKvCache c = new PagedKvCache(1, 1, D, GROUP, 512, KvStorage.of(KvElementType.F32), 4, 1 << 20, null);
        int seq = c.open();
        SplittableRandom r = new SplittableRandom(seq0Seed);
        for (int p = 0; p < tokens; p++) {
            float[] k = KEY_SET[r.nextInt(KEY_SET.length)].clone();
            float[] v = {(float) r.nextDouble(-1, 1), (float) r.nextDouble(-1, 1)};
            c.append(0, seq, p, k, 0, v, 0);
        }
        return c;
    }

    static float[] attend(PagedKvCache c, float[] q, int maxPos) {
        float[] out = new float[GROUP * D];
        c.attend(0, 0, 0, q, 0, GROUP, maxPos, (float) (1 / Math.sqrt(D)), out, 0, new float[64]);
        return out;
    }

    @Test
    void keptTokensPlusStateEqualFullAttention() {
        float[] q = {0.7f, -0.3f, -1.2f, 0.9f};                     // two query heads of the group
        try (PagedKvCache c = cacheWith(10, 1)) {
            float[] full = attend(c, q, 9);
            c.pressContext(0).keepAbsorbing(0, 0, new int[] {0, 4, 8, 9}, new ExactMap());
            assertThat(c.storedTokens(0, 0, 0)).isEqualTo(4);
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(6);
            float[] sparseOnly;
            try (PagedKvCache plain = cacheWith(10, 1)) {
                plain.pressContext(0).keep(0, 0, new int[] {0, 4, 8, 9});
                sparseOnly = attend(plain, q, 9);
            }
            float[] withState = attend(c, q, 9);
            for (int i = 0; i < full.length; i++) assertThat(withState[i]).as("output %d", i).isCloseTo(full[i], within(1e-5f));
            assertThat(maxDiff(sparseOnly, full)).as("eviction alone must differ, else the test proves nothing").isGreaterThan(1e-3f);
            CacheInvariants.check(c);
        }
    }

    @Test
    void stateAloneWhenNothingIsVisibleAndAbsorptionHappensOnce() {
        float[] q = {0.2f, 0.5f, 1f, -1f};
        try (PagedKvCache c = cacheWith(6, 2)) {
            float[] full = attend(c, q, 5);
            var ctx = c.pressContext(0);
            ctx.keepAbsorbing(0, 0, new int[] {3, 4, 5}, new ExactMap());
            float[] after1 = c.lowRankState(0, 0, 0);
            ctx.keepAbsorbing(0, 0, new int[] {0, 1, 2}, new ExactMap());   // keeping everything stored absorbs nothing
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(3);
            assertThat(c.lowRankState(0, 0, 0)).containsExactly(after1);
            ctx.keepAbsorbing(0, 0, new int[0], new ExactMap());             // everything into the state
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(6);
            assertThat(c.storedTokens(0, 0, 0)).isZero();
            float[] stateOnly = attend(c, q, 5);
            for (int i = 0; i < full.length; i++) assertThat(stateOnly[i]).isCloseTo(full[i], within(1e-5f));
            // z counts each key of the set exactly as often as it was absorbed: 6 in all
            float[] s = c.lowRankState(0, 0, 0);
            float zSum = 0;
            for (int a = 0; a < KEY_SET.length; a++) zSum += s[KEY_SET.length * D + a];
            assertThat(zSum).isEqualTo(6f);
        }
    }

    @Test
    void stateBytesAreCountedAndConstantInTheTokensAbsorbed() {
        try (PagedKvCache c = cacheWith(40, 3)) {
            var ctx = c.pressContext(0);
            ctx.keepAbsorbing(0, 0, new int[] {39}, new ExactMap());
            long stateBytes = c.bytesInUse() - pagesBytes(c);
            assertThat(stateBytes).isEqualTo(4L * KEY_SET.length * (D + 1));
            SplittableRandom r = new SplittableRandom(4);
            for (int p = 40; p < 400; p++) {
                c.append(0, 0, p, KEY_SET[r.nextInt(3)].clone(), 0, new float[] {1, 2}, 0);
                ctx.keepAbsorbing(0, 0, new int[] {c.storedTokens(0, 0, 0) - 1}, new ExactMap());
            }
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(399);
            assertThat(c.bytesInUse() - pagesBytes(c)).isEqualTo(stateBytes);
            CacheInvariants.check(c);
        }
    }

    @Test
    void forkSharesTheStateAndTruncationBeforeAbsorbedTokensDropsIt() {
        try (PagedKvCache c = cacheWith(10, 5)) {
            c.pressContext(0).keepAbsorbing(0, 0, new int[] {0, 8, 9}, new ExactMap());
            int f = c.fork(0, 10);
            assertThat(c.lowRankStatePage(f, 0, 0)).isEqualTo(c.lowRankStatePage(0, 0, 0));
            CacheInvariants.check(c);
            c.append(0, f, 10, KEY_SET[0].clone(), 0, new float[] {1, 1}, 0);
            c.pressContext(f).keepAbsorbing(0, 0, new int[] {0, 3}, new ExactMap());   // copy on write
            assertThat(c.lowRankStatePage(f, 0, 0)).isNotEqualTo(c.lowRankStatePage(0, 0, 0));
            assertThat(c.absorbedTokens(0, 0, 0)).isEqualTo(7);
            assertThat(c.absorbedTokens(f, 0, 0)).isEqualTo(9);
            int early = c.fork(0, 5);                                          // absorbed tokens reach position 7
            assertThat(c.lowRankStatePage(early, 0, 0)).isEqualTo(-1);
            c.truncate(0, 6);
            assertThat(c.lowRankStatePage(0, 0, 0)).isEqualTo(-1);
            CacheInvariants.check(c);
            c.release(0);
            c.release(f);
            c.release(early);
            assertThat(c.bytesInUse()).isZero();
        }
    }

    private static long pagesBytes(PagedKvCache c) {
        long b = 0;
        for (int p : c.pages(0, 0, 0)) b += c.allocator().segment(p).byteSize();
        return b;
    }

    private static float maxDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
