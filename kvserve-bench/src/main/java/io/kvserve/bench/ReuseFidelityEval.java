package io.kvserve.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.kvcache.reuse.KvShare;
import io.kvserve.kvcache.reuse.KvShareSession;
import io.kvserve.kvcache.reuse.SegmentKv;
import io.kvserve.kvcache.reuse.SegmentStore;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code kvserve eval reuse}: non-prefix KV reuse (KVShare, CacheBlend-style, naive) against dense
 * prefill. Each trial caches a text segment after prefix A, then serves prefix B + segment + suffix
 * reusing it: reuse rate, prefill compute share, top-1 agreement of the dense run's first greedy
 * tokens (teacher-forced, so every step compares the same history) and KL of the first token's
 * distribution; optionally TTFT of the same kind of request on a second (timing) model, each
 * configuration against dense prefill measured in the same run.
 */
public final class ReuseFidelityEval {
    private ReuseFidelityEval() {}

    public static final String DENSE = "dense";

    /**
     * @param trials        requests evaluated (3 paragraphs each: segment, prefix A, prefix B)
     * @param prefixTokens  tokens of prefix A (prefix B takes 7 more, so offsets differ)
     * @param segmentTokens tokens of the reused segment
     * @param suffixTokens  new tokens after the segment (the segment's own continuation)
     * @param greedyTokens  dense greedy tokens compared
     * @param minFragment   shortest reused fragment
     */
    public record Options(int trials, int prefixTokens, int segmentTokens, int suffixTokens, int greedyTokens, int minFragment) {
        public Options {
            if (trials < 1) throw new IllegalArgumentException("--trials must be >= 1, got " + trials);
            if (prefixTokens < 1 || segmentTokens < 1 || suffixTokens < 1) throw new IllegalArgumentException("--prefix-tokens, --segment-tokens and --suffix-tokens must be >= 1");
            if (greedyTokens < 1) throw new IllegalArgumentException("--greedy-tokens must be >= 1, got " + greedyTokens);
            if (minFragment < 1) throw new IllegalArgumentException("--min-fragment must be >= 1, got " + minFragment);
        }

        int promptTokens() {
            return 1 + prefixTokens + 7 + segmentTokens + suffixTokens;
        }
    }

    /** One request: the segment is first computed after {@code prefixA}, then reused after {@code prefixB}. */
    public record Trial(int[] prefixA, int[] prefixB, int[] segment, int[] suffix) {
        public int[] prompt() {
            return concat(prefixB, segment, suffix);
        }
    }

    public record Result(String config, int trials, double reuseRate, double computeShare, double top1Agreement,
                         double klFirst, double klMean, double ttftSeconds, double ttftDenseSeconds, double ttftSpeedup) {}

    /** Trials from the blank-line-separated paragraphs of {@code text} (tokenised without BOS, BOS added to prefixes). */
    public static List<Trial> trials(Model m, String text, Options o) {
        if (o.promptTokens() + o.greedyTokens() > m.config().contextLength()) {
            throw new IllegalArgumentException("a request needs " + (o.promptTokens() + o.greedyTokens()) + " positions but " + m.name()
                    + " has a context of " + m.config().contextLength() + ": lower --segment-tokens, --prefix-tokens or --greedy-tokens");
        }
        List<int[]> paras = new ArrayList<>();
        int need = Math.max(o.segmentTokens() + o.suffixTokens(), o.prefixTokens() + 7);
        for (String p : text.split("\\n\\s*\\n")) {
            if (paras.size() == 3 * o.trials()) break;
            String s = p.strip();
            if (s.isEmpty()) continue;
            int[] ids = m.tokenizer().encode(s, false, false);
            if (ids.length >= need) paras.add(ids);
        }
        if (paras.size() < 3 * o.trials()) {
            throw new IllegalArgumentException("the text has " + paras.size() + " paragraphs of at least " + need + " tokens; " + o.trials()
                    + " trials need " + 3 * o.trials() + ": lower --trials or --segment-tokens");
        }
        int bos = m.tokenizer().bosId();
        List<Trial> r = new ArrayList<>();
        for (int t = 0; t < o.trials(); t++) {
            int[] seg = paras.get(3 * t), a = paras.get(3 * t + 1), b = paras.get(3 * t + 2);
            r.add(new Trial(concat(new int[] {bos}, Arrays.copyOf(a, o.prefixTokens())), concat(new int[] {bos}, Arrays.copyOf(b, o.prefixTokens() + 7)),
                    Arrays.copyOf(seg, o.segmentTokens()), Arrays.copyOfRange(seg, o.segmentTokens(), o.segmentTokens() + o.suffixTokens())));
        }
        return r;
    }

    /** Fidelity of each configuration ({@link KvShare#parse} specs) against dense prefill; the first result is dense. */
    public static List<Result> run(Model m, List<Trial> trials, List<String> configs, Options o, PrintStream log) {
        List<KvShare> parsed = configs.stream().map(KvShare::parse).toList();
        ForwardPass fp = m.newForwardPass(Math.min(512, o.promptTokens()), WorkerPool.shared());
        int k = configs.size();
        double[] reuse = new double[k], compute = new double[k], agree = new double[k], klFirst = new double[k], klMean = new double[k];
        for (int t = 0; t < trials.size(); t++) {
            Trial tr = trials.get(t);
            SegmentStore store = new SegmentStore(o.minFragment(), Long.MAX_VALUE);
            store.put("eval", segmentAfter(m, fp, tr.prefixA(), tr.segment()));
            int[] prompt = tr.prompt();
            int vocab = m.config().vocabSize();
            List<float[]> dense = new ArrayList<>();
            int[] greedy = new int[o.greedyTokens()];
            try (KvCache cache = m.newContiguousCache(prompt.length + o.greedyTokens())) {
                int seq = cache.open();
                float[] l = prefill(fp, cache, seq, prompt);
                for (int i = 0; i < o.greedyTokens(); i++) {
                    dense.add(l);
                    greedy[i] = argmax(l);
                    if (i + 1 < o.greedyTokens()) l = Arrays.copyOf(fp.forward(Batch.ofSequence(seq, greedy, i, 1, prompt.length + i, false), cache), vocab);
                }
            }
            for (int c = 0; c < k; c++) {
                try (KvCache cache = m.newContiguousCache(prompt.length + o.greedyTokens())) {
                    KvShareSession s = parsed.get(c).prefill(fp, cache, cache.open(), "eval", prompt, store);
                    float[] l = s.logits();
                    int same = 0;
                    double klSum = 0;
                    for (int i = 0; i < o.greedyTokens(); i++) {
                        if (argmax(l) == greedy[i]) same++;
                        double kl = kl(dense.get(i), l);
                        if (i == 0) klFirst[c] += kl / trials.size();
                        klSum += kl;
                        if (i + 1 < o.greedyTokens()) l = s.decode(greedy[i]);
                    }
                    reuse[c] += s.reuseRate() / trials.size();
                    compute[c] += s.prefillComputeShare() / trials.size();
                    agree[c] += (double) same / o.greedyTokens() / trials.size();
                    klMean[c] += klSum / o.greedyTokens() / trials.size();
                }
            }
            if (log != null) log.printf("  trial %d/%d: %d prompt tokens, %d reusable%n", t + 1, trials.size(), prompt.length, tr.segment().length);
        }
        List<Result> out = new ArrayList<>();
        out.add(new Result(DENSE, trials.size(), 0, 1, 1, 0, 0, Double.NaN, Double.NaN, Double.NaN));
        for (int c = 0; c < k; c++) {
            out.add(new Result(configs.get(c), trials.size(), reuse[c], compute[c], agree[c], klFirst[c], klMean[c], Double.NaN, Double.NaN, Double.NaN));
        }
        return out;
    }

    /**
     * Time to first token of one request of {@code timing} (prefix B + segment + suffix) for each
     * configuration and for dense prefill, alternating, {@code repeats} times; the fastest of each is
     * kept and each configuration's speed-up is dense / config. Returns {@code results} with the
     * TTFT columns filled.
     */
    public static List<Result> timeToFirstToken(Model timing, String text, Options o, List<Result> results, int repeats, PrintStream log) {
        Options one = new Options(1, o.prefixTokens(), o.segmentTokens(), o.suffixTokens(), 1, o.minFragment());
        Trial tr = trials(timing, text, one).getFirst();
        int[] prompt = tr.prompt();
        ForwardPass fp = timing.newForwardPass(Math.min(512, prompt.length), WorkerPool.shared());
        SegmentStore store = new SegmentStore(o.minFragment(), Long.MAX_VALUE);
        store.put("eval", segmentAfter(timing, fp, tr.prefixA(), tr.segment()));
        double[] best = new double[results.size()];
        Arrays.fill(best, Double.POSITIVE_INFINITY);
        for (int r = 0; r < repeats; r++) {
            for (int c = 0; c < results.size(); c++) {
                String name = results.get(c).config();
                try (KvCache cache = timing.newContiguousCache(prompt.length)) {
                    int seq = cache.open();
                    long t0 = System.nanoTime();
                    if (name.equals(DENSE)) prefill(fp, cache, seq, prompt);
                    else KvShare.parse(name).prefill(fp, cache, seq, "eval", prompt, store);
                    double s = (System.nanoTime() - t0) / 1e9;
                    best[c] = Math.min(best[c], s);
                    if (log != null) log.printf(Locale.ROOT, "  TTFT %s on %s (%d tokens): %.3f s%n", name, timing.name(), prompt.length, s);
                }
            }
        }
        List<Result> out = new ArrayList<>();
        for (int c = 0; c < results.size(); c++) {
            Result x = results.get(c);
            out.add(new Result(x.config(), x.trials(), x.reuseRate(), x.computeShare(), x.top1Agreement(), x.klFirst(), x.klMean(), best[c], best[0], best[0] / best[c]));
        }
        return out;
    }

    private static SegmentKv segmentAfter(Model m, ForwardPass fp, int[] prefix, int[] segment) {
        try (KvCache cache = m.newContiguousCache(prefix.length + segment.length)) {
            int seq = cache.open();
            prefill(fp, cache, seq, concat(prefix, segment));
            return SegmentKv.capture(cache, seq, prefix.length, segment);
        }
    }

    private static float[] prefill(ForwardPass fp, KvCache cache, int seq, int[] tokens) {
        cache.reserve(seq, tokens.length);
        float[] last = new float[0];
        for (int from = 0; from < tokens.length; from += fp.maxBatch()) {
            int n = Math.min(fp.maxBatch(), tokens.length - from);
            float[] l = fp.forward(Batch.ofSequence(seq, tokens, from, n, from, false), cache);
            if (from + n == tokens.length) last = Arrays.copyOf(l, fp.config().vocabSize());
        }
        return last;
    }

    public static String table(List<Result> rs) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "| %-34s | %6s | %7s | %6s | %8s | %8s | %8s | %7s |%n", "config", "reuse", "compute", "top-1", "KL first", "KL mean", "TTFT s", "speedup"));
        b.append("|").append("-".repeat(36)).append("|--------|---------|--------|----------|----------|----------|---------|\n");
        for (Result r : rs) {
            b.append(String.format(Locale.ROOT, "| %-34s | %6.3f | %7.3f | %6.4f | %8.5f | %8.5f | %8.3f | %6.2fx |%n", r.config(), r.reuseRate(), r.computeShare(),
                    r.top1Agreement(), r.klFirst(), r.klMean(), r.ttftSeconds(), r.ttftSpeedup()));
        }
        return b.toString();
    }

    public static void writeJson(List<Result> rs, Path file) throws IOException {
        new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), rs);
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] out = new int[n];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    static int argmax(float[] l) {
        int b = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[b]) b = i;
        return b;
    }

    /** KL(softmax(p) || softmax(q)) in nats. */
    static double kl(float[] p, float[] q) {
        double mp = Double.NEGATIVE_INFINITY, mq = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < p.length; i++) {
            mp = Math.max(mp, p[i]);
            mq = Math.max(mq, q[i]);
        }
        double zp = 0, zq = 0;
        for (int i = 0; i < p.length; i++) {
            zp += Math.exp(p[i] - mp);
            zq += Math.exp(q[i] - mq);
        }
        double lzp = Math.log(zp) + mp, lzq = Math.log(zq) + mq, s = 0;
        for (int i = 0; i < p.length; i++) {
            double lp = p[i] - lzp;
            s += Math.exp(lp) * (lp - (q[i] - lzq));
        }
        return Math.max(0, s);
    }
}
