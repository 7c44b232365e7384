package io.kvserve.model.sampling;

import io.kvserve.model.generate.TokenChooser;

import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Picks the next token from a row of logits with llama.cpp's sampler chain: penalties (repeat,
 * frequency, presence over the last {@code repeatLastN} tokens) -> top-k -> top-p -> min-p ->
 * temperature -> softmax -> a draw from the injected {@link RandomGenerator}. Temperature 0 is
 * greedy (argmax after penalties, ties to the lowest id). The same seed gives the same tokens.
 *
 * <p>Candidates are kept as packed {@code long} keys (value descending, then id ascending), so top-k
 * is a quickselect plus a sort of k keys and top-p without top-k sorts only a growing head of the
 * vocabulary. All vocabulary-sized buffers are scratch, allocated on first use and reused: a call
 * allocates nothing. Not thread-safe: one sampler per sequence.
 */
public final class Sampler implements TokenChooser {
    /** First head size tried by top-p when top-k is off; grows by {@link #HEAD_GROWTH} until the mass reaches p. */
    private static final int FIRST_HEAD = 64;
    private static final int HEAD_GROWTH = 8;

    private final SamplerConfig config;
    private final RandomGenerator rng;

    private float[] vals = new float[0];   // (vocab) logits after penalties
    private long[] keys = new long[0];     // (vocab) candidates: sortable value << 32 | id
    private int[] counts = new int[0];     // (vocab) occurrences in the penalty window, zero between calls

    public Sampler(SamplerConfig config, RandomGenerator rng) {
        this.config = Objects.requireNonNull(config, "config");
        this.rng = Objects.requireNonNull(rng, "rng");
    }

    /** A sampler drawing from {@code new SplittableRandom(config.seed())}: the same config gives the same tokens on any JDK. */
    public static Sampler seeded(SamplerConfig config) {
        return new Sampler(config, new java.util.SplittableRandom(config.seed()));
    }

    public SamplerConfig config() {
        return config;
    }

    /**
     * The next token for logits {@code [off, off + vocab)}; {@code history[0, historyLen)} are the
     * tokens so far (prompt and generated), oldest first, which the penalties look at.
     */
    public int sample(float[] logits, int off, int vocab, int[] history, int historyLen) {
        checkArgs(logits, off, vocab, history, historyLen);
        ensureCapacity(vocab);
        System.arraycopy(logits, off, vals, 0, vocab);
        checkFinite(vals, vocab);
        if (config.hasPenalties()) penalize(vals, vocab, history, historyLen);
        if (config.isGreedy()) return argmax(vals, vocab);
        int n = filter(vocab);
        return draw(n);
    }

    /** {@link TokenChooser} view of {@link #sample}, so a sampler plugs into the generator; the logits are not modified. */
    @Override
    public int choose(float[] logits, int off, int vocab, int[] history, int historyLen) {
        return sample(logits, off, vocab, history, historyLen);
    }

    /** Applies the penalties of the config to {@code logits[0, vocab)} in place (package-private for tests). */
    void penalize(float[] logits, int vocab, int[] history, int historyLen) {
        if (counts.length < vocab) counts = new int[vocab];
        int from = Math.max(0, historyLen - config.repeatLastN());
        for (int i = from; i < historyLen; i++) {
            int t = history[i];
            if (t >= 0 && t < vocab) counts[t]++;
        }
        float rp = config.repeatPenalty(), fp = config.frequencyPenalty(), pp = config.presencePenalty();
        for (int i = from; i < historyLen; i++) {
            int t = history[i];
            if (t < 0 || t >= vocab || counts[t] == 0) continue; // out-of-vocabulary ids (control tokens of another model) are ignored
            int c = counts[t];
            float l = logits[t];
            l = l <= 0f ? l * rp : l / rp;
            logits[t] = l - (c * fp + pp);
            counts[t] = 0; // each token once; also leaves counts all-zero for the next call
        }
    }

    /** Runs top-k, top-p and min-p; leaves the survivors in {@code keys[0, n)} and returns n (at least 1). */
    private int filter(int vocab) {
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (vals[i] != Float.NEGATIVE_INFINITY) keys[n++] = key(vals[i], i);
        }
        if (n == 0) throw new IllegalArgumentException("every logit is -infinity: no token can be sampled");
        boolean sorted = false;
        int k = config.topK();
        if (k > 0 && k < n) {
            select(keys, 0, n, k);
            n = k;
            sort(keys, 0, n);
            sorted = true;
        }
        if (config.topP() < 1f) {
            n = topP(n, sorted);
            sorted = true;
        }
        if (config.minP() > 0f && n > 1) n = minP(n, sorted);
        return n;
    }

    /** Keeps the smallest most-likely prefix whose probability (at temperature 1) reaches p; sorts what it keeps. */
    private int topP(int n, boolean sorted) {
        float max = sorted ? vals[id(keys[0])] : maxValue(n);
        double z = 0;
        for (int i = 0; i < n; i++) z += Math.exp(vals[id(keys[i])] - max);
        double target = config.topP() * z;
        int head = sorted ? n : Math.min(n, FIRST_HEAD);
        while (true) {
            if (!sorted) {
                if (head < n) select(keys, 0, n, head);
                sort(keys, 0, head);
            }
            double cum = 0;
            for (int i = 0; i < head; i++) {
                cum += Math.exp(vals[id(keys[i])] - max);
                if (cum >= target) return i + 1;
            }
            if (head == n) return n; // rounding: the whole set
            head = (int) Math.min(n, (long) head * HEAD_GROWTH);
        }
    }

    /** Keeps tokens whose probability is at least minP times the top one's, i.e. logit >= max + ln(minP). */
    private int minP(int n, boolean sorted) {
        float max = sorted ? vals[id(keys[0])] : maxValue(n);
        double threshold = max + Math.log(config.minP());
        int kept = 0;
        for (int i = 0; i < n; i++) {
            long kk = keys[i];
            if (vals[id(kk)] >= threshold) keys[kept++] = kk;
        }
        return Math.max(kept, 1); // the max itself always passes; guard against rounding
    }

    /** Temperature, softmax and one draw over {@code keys[0, n)}. */
    private int draw(int n) {
        if (n == 1) return id(keys[0]);
        float max = maxValue(n);
        double invT = 1.0 / config.temperature();
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp((vals[id(keys[i])] - max) * invT);
        double u = rng.nextDouble() * sum;
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += Math.exp((vals[id(keys[i])] - max) * invT);
            if (u < cum) return id(keys[i]);
        }
        return id(keys[n - 1]); // u rounded up to sum
    }

    private float maxValue(int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, vals[id(keys[i])]);
        return m;
    }

    /**
     * Log-softmax of the raw logits {@code [off, off + vocab)}: the chosen token's log-probability and
     * the {@code topN} most likely tokens. Allocates only the two {@code topN}-sized result arrays.
     */
    public TokenLogprobs logprobs(float[] logits, int off, int vocab, int chosen, int topN) {
        checkArgs(logits, off, vocab, new int[0], 0);
        if (chosen < 0 || chosen >= vocab) throw new IllegalArgumentException("chosen token " + chosen + " is outside the vocabulary [0, " + vocab + ")");
        if (topN < 0) throw new IllegalArgumentException("topN must be >= 0, got " + topN);
        ensureCapacity(vocab);
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            float v = logits[off + i];
            if (Float.isNaN(v)) throw new IllegalArgumentException("logit of token " + i + " is NaN: the forward pass produced invalid values");
            max = Math.max(max, v);
        }
        double z = 0;
        for (int i = 0; i < vocab; i++) z += Math.exp(logits[off + i] - max);
        double logZ = max + Math.log(z);
        int n = Math.min(topN, vocab);
        int[] ids = new int[n];
        float[] lps = new float[n];
        if (n > 0) {
            for (int i = 0; i < vocab; i++) keys[i] = key(logits[off + i], i);
            if (n < vocab) select(keys, 0, vocab, n);
            sort(keys, 0, n);
            for (int i = 0; i < n; i++) {
                ids[i] = id(keys[i]);
                lps[i] = (float) (logits[off + ids[i]] - logZ);
            }
        }
        return new TokenLogprobs(chosen, (float) (logits[off + chosen] - logZ), ids, lps);
    }

    /** The ids that survive penalties and the filters, most likely first (test hook; allocates). */
    int[] survivors(float[] logits, int off, int vocab, int[] history, int historyLen) {
        checkArgs(logits, off, vocab, history, historyLen);
        ensureCapacity(vocab);
        System.arraycopy(logits, off, vals, 0, vocab);
        if (config.hasPenalties()) penalize(vals, vocab, history, historyLen);
        int n = filter(vocab);
        sort(keys, 0, n);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = id(keys[i]);
        return out;
    }

    /** Index of the largest value; ties go to the lowest index. */
    static int argmax(float[] v, int n) {
        return argmax(v, 0, n);
    }

    /** Index, within {@code [off, off + n)} and counted from {@code off}, of the largest value; ties go to the lowest index. */
    public static int argmax(float[] v, int off, int n) {
        int best = 0;
        float bv = v[off];
        for (int i = 1; i < n; i++) {
            if (v[off + i] > bv) {
                bv = v[off + i];
                best = i;
            }
        }
        return best;
    }

    // A key orders candidates by value descending, then id ascending, as a plain signed long.
    static long key(float value, int id) {
        int bits = Float.floatToRawIntBits(value);
        int ascending = bits ^ ((bits >> 31) & 0x7fffffff); // monotone in the float value
        return ((long) ~ascending << 32) | id;
    }

    static int id(long key) {
        return (int) key;
    }

    /** Rearranges {@code a[from, to)} so its k smallest keys come first (in any order); Hoare quickselect. */
    static void select(long[] a, int from, int to, int k) {
        int lo = from, hi = to - 1, target = from + k - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            // median of three as the pivot keeps sorted and reversed inputs linear
            long x = a[lo], y = a[mid], z = a[hi];
            long pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
            int i = lo, j = hi;
            while (i <= j) {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) {
                    long t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else return;
        }
    }

    /**
     * Sorts {@code a[from, to)} ascending in place without allocating (Arrays.sort may allocate a merge
     * buffer for partly ordered input, which a quickselected head often is): introsort, i.e. quicksort
     * with insertion sort for short ranges and heapsort when recursion gets too deep.
     */
    static void sort(long[] a, int from, int to) {
        introsort(a, from, to - 1, 2 * (32 - Integer.numberOfLeadingZeros(Math.max(1, to - from))));
    }

    private static void introsort(long[] a, int lo, int hi, int depth) {
        while (hi - lo > 16) {
            if (depth-- == 0) {
                heapsort(a, lo, hi + 1);
                return;
            }
            int mid = (lo + hi) >>> 1;
            long x = a[lo], y = a[mid], z = a[hi];
            long pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
            int i = lo, j = hi;
            while (i <= j) {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) {
                    long t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            // recurse into the smaller side, loop on the larger: stack depth stays logarithmic
            if (j - lo < hi - i) {
                introsort(a, lo, j, depth);
                lo = i;
            } else {
                introsort(a, i, hi, depth);
                hi = j;
            }
        }
        for (int i = lo + 1; i <= hi; i++) {
            long v = a[i];
            int j = i - 1;
            while (j >= lo && a[j] > v) {
                a[j + 1] = a[j];
                j--;
            }
            a[j + 1] = v;
        }
    }

    private static void heapsort(long[] a, int from, int to) {
        int n = to - from;
        for (int i = n / 2 - 1; i >= 0; i--) siftDown(a, from, i, n);
        for (int end = n - 1; end > 0; end--) {
            long t = a[from];
            a[from] = a[from + end];
            a[from + end] = t;
            siftDown(a, from, 0, end);
        }
    }

    private static void siftDown(long[] a, int base, int i, int n) {
        long v = a[base + i];
        while (true) {
            int c = 2 * i + 1;
            if (c >= n) break;
            if (c + 1 < n && a[base + c + 1] > a[base + c]) c++;
            if (a[base + c] <= v) break;
            a[base + i] = a[base + c];
            i = c;
        }
        a[base + i] = v;
    }

    private void ensureCapacity(int vocab) {
        if (vals.length < vocab) {
            vals = new float[vocab];
            keys = new long[vocab];
        }
    }

    private static void checkFinite(float[] v, int n) {
        for (int i = 0; i < n; i++) {
            if (Float.isNaN(v[i]) || v[i] == Float.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("logit of token " + i + " is " + v[i] + ": the forward pass produced invalid values");
            }
        }
    }

    private static void checkArgs(float[] logits, int off, int vocab, int[] history, int historyLen) {
        Objects.requireNonNull(logits, "logits");
        Objects.requireNonNull(history, "history");
        if (vocab <= 0) throw new IllegalArgumentException("vocab must be > 0, got " + vocab);
        if (off < 0 || off > logits.length - vocab) {
            throw new IllegalArgumentException("logits [" + off + ", " + ((long) off + vocab) + ") is outside the array of length " + logits.length);
        }
        if (historyLen < 0 || historyLen > history.length) {
            throw new IllegalArgumentException("historyLen " + historyLen + " is outside the history array of length " + history.length);
        }
    }
}
