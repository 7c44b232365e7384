package io.kvserve.kvcache;

import io.kvserve.kvcache.press.PressContext;
import io.kvserve.kvcache.press.ScorerPress;
import io.kvserve.model.kv.KvCacheFullException;
import io.kvserve.kernels.kv.KvFormats;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * jqwik properties over random sequences of append / compress / fork / truncate / release against a
 * plain model of what each stream should hold: after every operation the allocator's counts match
 * the block tables, no page is both free and owned, and for lossless storage every stored key and
 * value reads back exactly.
 */
class PagedCachePropertyTest {
    static final int LAYERS = 2, HEADS = 2, DIM = 8, GROUP = 2;

    /** What one stream must hold: position -> (key, value). */
    static final class Model {
        final Map<Integer, List<List<float[]>>> seqs = new HashMap<>();   // seq -> stream (l*HEADS+h) -> [pos, k..., v...]
        final Map<Integer, Integer> next = new HashMap<>();
    }

    /** One operation on a random open sequence ({@code target} modulo their number). */
    record Op(Kind kind, int target, int tokens, double fraction, long seed) {
        enum Kind { OPEN, APPEND, COMPRESS, FORK, TRUNCATE, RELEASE }
    }

    @Provide
    Arbitrary<KvStorage> storages() {
        Arbitrary<KvElementType> types = Arbitraries.of(KvElementType.class);
        return Combinators.combine(types, Arbitraries.of(0, 8, 16), Arbitraries.of(false, true), Arbitraries.of(KvFormats.META_F16, KvFormats.META_Q8),
                Arbitraries.of(0, 2, 4, 8), Arbitraries.of(0, 2, 4, 8)).as((t, residual, onArrival, meta, kbits, vbits) -> t.isKivi()
                        ? new KvStorage(t, residual, false, onArrival, meta, kbits, vbits)
                        : KvStorage.of(t));
    }

    @Provide
    Arbitrary<List<Op>> operations() {
        // appends are the most frequent, as in a cache's life; the others interleave with them
        Arbitrary<Op.Kind> kinds = Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.just(Op.Kind.OPEN)), Tuple.of(4, Arbitraries.just(Op.Kind.APPEND)),
                Tuple.of(2, Arbitraries.just(Op.Kind.COMPRESS)), Tuple.of(1, Arbitraries.just(Op.Kind.FORK)),
                Tuple.of(1, Arbitraries.just(Op.Kind.TRUNCATE)), Tuple.of(1, Arbitraries.just(Op.Kind.RELEASE)));
        Arbitrary<Op> op = Combinators.combine(kinds, Arbitraries.integers().between(0, 7), Arbitraries.integers().between(1, 40),
                Arbitraries.doubles().between(0, 1), Arbitraries.longs()).as(Op::new);
        return op.list().ofMinSize(1).ofMaxSize(45);
    }

    /**
     * Any sequence of open / append / compress / fork / truncate / release, on any element type and
     * page size: after every operation the allocator's counts match the block tables, no page is both
     * free and owned, every stream holds the positions of the plain model (and, lossless, its exact
     * keys and values), and releasing everything returns every byte. jqwik shrinks a failing sequence
     * to a short one.
     */
    @Property(tries = 250)
    void anySequenceOfOperationsKeepsTheInvariants(@ForAll("storages") KvStorage storage, @ForAll @IntRange(min = 1, max = 5) int tokensPerPage,
                                                   @ForAll("operations") List<Op> ops) {
        boolean exact = storage.type() == KvElementType.F32;
        try (PagedKvCache c = new PagedKvCache(LAYERS, HEADS, DIM, GROUP, 200, storage, tokensPerPage, 1L << 24, null)) {
            Model m = new Model();
            for (Op op : ops) {
                List<Integer> open = c.openSequences();
                SplittableRandom rnd = new SplittableRandom(op.seed());
                if (op.kind() == Op.Kind.OPEN || open.isEmpty()) {
                    int s = c.open();
                    m.seqs.put(s, newStreams());
                    m.next.put(s, 0);
                } else {
                    int s = open.get(op.target() % open.size());
                    int len = m.next.get(s), at = (int) Math.round(op.fraction() * len);
                    switch (op.kind()) {
                        case APPEND -> {
                            for (int t = 0; t < op.tokens() && m.next.get(s) < 200; t++) appendToken(c, m, s, rnd);
                        }
                        case COMPRESS -> compress(c, m, s, rnd);
                        case FORK -> {
                            int f = c.fork(s, at);
                            m.seqs.put(f, prefix(m.seqs.get(s), at));
                            m.next.put(f, at);
                        }
                        case TRUNCATE -> {
                            c.truncate(s, at);
                            m.seqs.put(s, prefix(m.seqs.get(s), at));
                            m.next.put(s, Math.min(len, at));
                        }
                        default -> {
                            c.release(s);
                            m.seqs.remove(s);
                            m.next.remove(s);
                        }
                    }
                }
                CacheInvariants.check(c);
                compare(c, m, exact);
            }
            for (int s : c.openSequences()) c.release(s);
            CacheInvariants.check(c);
            assertThat(c.bytesInUse()).isZero();
        }
    }

    private static List<List<float[]>> newStreams() {
        List<List<float[]>> r = new ArrayList<>();
        for (int i = 0; i < LAYERS * HEADS; i++) r.add(new ArrayList<>());
        return r;
    }

    private static List<List<float[]>> prefix(List<List<float[]>> src, int len) {
        List<List<float[]>> r = newStreams();
        for (int i = 0; i < src.size(); i++) for (float[] e : src.get(i)) if (e[0] < len) r.get(i).add(e);
        return r;
    }

    private static void appendToken(PagedKvCache c, Model m, int s, SplittableRandom rnd) {
        int pos = m.next.get(s);
        for (int l = 0; l < LAYERS; l++) {
            float[] k = new float[HEADS * DIM], v = new float[HEADS * DIM];
            for (int i = 0; i < k.length; i++) {
                k[i] = (float) rnd.nextGaussian();
                v[i] = (float) rnd.nextGaussian();
            }
            c.append(l, s, pos, k, 0, v, 0);
            for (int h = 0; h < HEADS; h++) {
                float[] e = new float[1 + 2 * DIM];
                e[0] = pos;
                System.arraycopy(k, h * DIM, e, 1, DIM);
                System.arraycopy(v, h * DIM, e, 1 + DIM, DIM);
                m.seqs.get(s).get(l * HEADS + h).add(e);
            }
        }
        m.next.put(s, pos + 1);
    }

    private static void compress(PagedKvCache c, Model m, int s, SplittableRandom rnd) {
        PressContext ctx = c.pressContext(s);
        for (int l = 0; l < LAYERS; l++) {
            for (int h = 0; h < HEADS; h++) {
                int n = ctx.tokens(l, h);
                if (n == 0) continue;
                float[] scores = new float[n];
                for (int i = 0; i < n; i++) scores[i] = (float) rnd.nextDouble();
                int[] keep = ScorerPress.topK(scores, rnd.nextInt(n + 1));
                long before = c.bytesInUse();
                ctx.keep(l, h, keep);
                assertThat(c.bytesInUse()).as("keeping fewer tokens never costs bytes").isLessThanOrEqualTo(before + 4096);
                List<float[]> old = m.seqs.get(s).get(l * HEADS + h), kept = new ArrayList<>();
                for (int i : keep) kept.add(old.get(i));
                m.seqs.get(s).set(l * HEADS + h, kept);
            }
        }
    }

    private static void compare(PagedKvCache c, Model m, boolean exact) {
        for (int s : c.openSequences()) {
            assertThat(c.length(s)).isEqualTo(m.next.get(s));
            PressContext ctx = c.pressContext(s);
            for (int l = 0; l < LAYERS; l++) {
                for (int h = 0; h < HEADS; h++) {
                    List<float[]> want = m.seqs.get(s).get(l * HEADS + h);
                    int[] pos = ctx.positions(l, h);
                    assertThat(pos.length).isEqualTo(want.size());
                    float[] k = ctx.keys(l, h), v = ctx.values(l, h);
                    for (int i = 0; i < pos.length; i++) {
                        assertThat(pos[i]).isEqualTo((int) want.get(i)[0]);
                        if (exact) {
                            assertThat(Arrays.copyOfRange(k, i * DIM, (i + 1) * DIM)).containsExactly(Arrays.copyOfRange(want.get(i), 1, 1 + DIM));
                            assertThat(Arrays.copyOfRange(v, i * DIM, (i + 1) * DIM)).containsExactly(Arrays.copyOfRange(want.get(i), 1 + DIM, 1 + 2 * DIM));
                        }
                    }
                }
            }
        }
    }

    @org.junit.jupiter.api.Test
    void runningOutOfBudgetIsATypedError() {
        try (PagedKvCache c = new PagedKvCache(1, 1, 8, 1, 1000, KvStorage.of(KvElementType.F32), 4, 4 * 2 * 8 * 4 * 3, null)) {
            int s = c.open();
            float[] k = new float[8];
            for (int p = 0; p < 12; p++) c.append(0, s, p, k, 0, k, 0);
            assertThatThrownBy(() -> c.append(0, s, 12, k, 0, k, 0)).isInstanceOf(KvCacheFullException.class).hasMessageContaining("KV cache is full");
            assertThatThrownBy(() -> c.reserve(s, 100)).isInstanceOf(KvCacheFullException.class);
            CacheInvariants.check(c);
        }
    }

    @org.junit.jupiter.api.Test
    void forkSharesPagesUntilAWriteCopiesOne() {
        try (PagedKvCache c = new PagedKvCache(1, 1, 8, 1, 1000, KvStorage.of(KvElementType.F16), 16, 1L << 20, null)) {
            int s = c.open();
            float[] k = new float[8];
            for (int p = 0; p < 24; p++) c.append(0, s, p, k, 0, k, 0);
            long one = c.bytesInUse();
            int f = c.fork(s, 24);
            assertThat(c.bytesInUse()).as("a fork shares every page").isEqualTo(one);
            assertThat(c.pages(f, 0, 0)).containsExactly(c.pages(s, 0, 0));
            c.append(0, f, 24, k, 0, k, 0);
            assertThat(c.pages(f, 0, 0)[0]).as("the full page stays shared").isEqualTo(c.pages(s, 0, 0)[0]);
            assertThat(c.pages(f, 0, 0)[1]).as("the written page was copied").isNotEqualTo(c.pages(s, 0, 0)[1]);
            assertThat(c.bytesInUse()).isEqualTo(one + one / 2);
            c.truncate(s, 8);
            c.release(f);
            CacheInvariants.check(c);
            assertThat(c.bytesInUse()).isEqualTo(one / 2);
        }
    }
}
