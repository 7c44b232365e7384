package io.kvserve.kvcache.press;

import io.kvserve.kvcache.KvElementType;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.transformer.ForwardPass;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * PrefixKV's calibration run: prefills calibration prompts with the cache tracking accumulated
 * attention, runs the global prefix search on each, and averages each layer's eviction ratio over
 * the samples. Also calibrates, on the fly, every profile-less {@link PrefixKvPress} of a press
 * tree, on stories of the default text that the caller does not evaluate.
 */
public final class PrefixKvCalibration {
    private PrefixKvCalibration() {}

    /** Calibration prompts taken by default: stories counted from the END of the text. */
    public static final int DEFAULT_SAMPLES = 16, DEFAULT_MIN_TOKENS = 96, DEFAULT_MAX_TOKENS = 512;
    public static final double DEFAULT_CONTEXT_FRACTION = 0.5;

    /** One profile entry per ratio, from the prefill scores of {@code prompts}. */
    public static PrefixKvProfile calibrate(Model m, List<int[]> prompts, double[] ratios, int start, String source) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("prefixkv calibration: no calibration prompts");
        List<float[][]> samples = new ArrayList<>();
        for (int[] p : prompts) samples.add(prefillScores(m, p));
        int layers = m.config().nLayers();
        List<PrefixKvProfile.Entry> entries = new ArrayList<>();
        for (double ratio : ratios) {
            PressParams.ratio("prefixkv", ratio);
            double[] mean = new double[layers];
            for (float[][] s : samples) {
                int protect = Math.min(start, s[0].length) + 1;
                int[] ev = PrefixKvPress.searchEvictions(s, ratio, protect);
                for (int l = 0; l < layers; l++) mean[l] += (double) ev[l] / s[l].length / samples.size();
            }
            entries.add(new PrefixKvProfile.Entry(ratio, mean));
        }
        return new PrefixKvProfile(m.name(), layers, source, prompts.size(), start, entries);
    }

    /** Each layer's accumulated prefill attention (averaged over KV heads) for one prompt, {@code (layers, tokens)}. */
    static float[][] prefillScores(Model m, int[] prompt) {
        var c = m.config();
        float[][] out = new float[c.nLayers()][];
        KvPress recorder = new KvPress() {
            @Override public String spec() { return "prefixkv-calibration"; }
            @Override public boolean tracksAttention() { return true; }
            @Override public void afterPrefill(PressContext ctx) {
                for (int l = 0; l < ctx.layers(); l++) out[l] = PrefixKvPress.layerScores(ctx, l, 0);
            }
        };
        ForwardPass fp = m.newForwardPass(Math.min(64, prompt.length), WorkerPool.shared());
        try (PagedKvCache cache = new PagedKvCache(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), prompt.length,
                KvStorage.of(KvElementType.F16), 16, 1L << 40, recorder)) {
            int seq = cache.open();
            for (int p = 0; p < prompt.length; p += fp.maxBatch()) {
                fp.forward(Batch.ofSequence(seq, prompt, p, Math.min(fp.maxBatch(), prompt.length - p), p, false), cache);
            }
            cache.stepDone(seq);
        }
        return out;
    }

    /**
     * The context parts of up to {@code count} stories (blank-line-separated paragraphs of at
     * least {@code minTokens} tokens, cut to {@code maxTokens}), taken from the end of the text
     * backwards, skipping any story whose tokens start like one of {@code excluded}.
     */
    public static List<int[]> prompts(Model m, String text, int count, int minTokens, int maxTokens, double contextFraction, List<int[]> excluded) {
        String[] paras = text.split("\\n\\s*\\n");
        int limit = Math.min(maxTokens, m.config().contextLength());
        List<int[]> r = new ArrayList<>();
        for (int i = paras.length - 1; i >= 0 && r.size() < count; i--) {
            String p = paras[i].strip();
            if (p.isEmpty()) continue;
            int[] ids = m.tokenizer().encode(p, m.tokenizer().addBosByDefault(), true);
            if (ids.length < minTokens) continue;
            if (ids.length > limit) ids = Arrays.copyOf(ids, limit);
            if (overlaps(ids, excluded)) continue;
            r.add(Arrays.copyOf(ids, Math.max(2, (int) Math.round(ids.length * contextFraction))));
        }
        return r;
    }

    private static boolean overlaps(int[] ids, List<int[]> excluded) {
        for (int[] e : excluded) {
            int n = Math.min(e.length, ids.length);
            if (Arrays.equals(ids, 0, n, e, 0, n)) return true;
        }
        return false;
    }

    /** {@code ../shared/data/tinystories_val.txt} beside the repository ({@code kvserve.home}, else the working directory). */
    public static Path defaultText() {
        String home = System.getProperty("kvserve.home");
        Path root = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        return root.resolve("../shared/data/tinystories_val.txt").normalize();
    }

    /**
     * {@code press} with every profile-less PrefixKV press calibrated on {@link #DEFAULT_SAMPLES}
     * stories from the end of {@link #defaultText()} that are not in {@code evaluated}; presses
     * without PrefixKV come back unchanged. A missing text is an error that names the remedy.
     */
    public static KvPress prepare(KvPress press, Model m, List<int[]> evaluated) {
        if (press == null) return null;
        return replace(press, p -> {
            if (!(p instanceof PrefixKvPress pk) || pk.evict() != null) return p;
            Path text = defaultText();
            if (!Files.exists(text)) {
                throw new IllegalArgumentException("prefixkv without profile= calibrates on " + text + ", which does not exist; "
                        + "give profile=FILE (made by kvserve calibrate prefixkv)");
            }
            String key = m.path() + "|" + pk.ratio() + "|" + pk.start() + "|" + evaluated.stream().mapToInt(Arrays::hashCode).sum();
            double[] known = CALIBRATED.get(key);
            if (known != null) return pk.withEvict(known);
            try {
                List<int[]> prompts = prompts(m, Files.readString(text), DEFAULT_SAMPLES, DEFAULT_MIN_TOKENS, DEFAULT_MAX_TOKENS,
                        DEFAULT_CONTEXT_FRACTION, evaluated);
                PrefixKvProfile prof = calibrate(m, prompts, new double[] {pk.ratio()}, pk.start(), text.toString());
                double[] evict = prof.ratios().getFirst().evict();
                CALIBRATED.put(key, evict);
                return pk.withEvict(evict);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** On-the-fly calibrations already run in this process (bench builds a cache per run). */
    private static final java.util.Map<String, double[]> CALIBRATED = new java.util.concurrent.ConcurrentHashMap<>();

    /** Rebuilds a tree of press records bottom-up, applying {@code f} to every press in it. */
    static KvPress replace(KvPress p, UnaryOperator<KvPress> f) {
        if (!p.getClass().isRecord()) return f.apply(p);
        RecordComponent[] rc = p.getClass().getRecordComponents();
        Object[] args = new Object[rc.length];
        Class<?>[] types = new Class<?>[rc.length];
        boolean changed = false;
        try {
            for (int i = 0; i < rc.length; i++) {
                types[i] = rc[i].getType();
                Object v = rc[i].getAccessor().invoke(p);
                Object w = v;
                if (v instanceof KvPress inner) w = replace(inner, f);
                else if (v instanceof List<?> list && !list.isEmpty() && list.getFirst() instanceof KvPress) {
                    w = list.stream().map(x -> replace((KvPress) x, f)).toList();
                }
                changed |= w != v;
                args[i] = w;
            }
            KvPress rebuilt = changed ? (KvPress) p.getClass().getDeclaredConstructor(types).newInstance(args) : p;
            return f.apply(rebuilt);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot rebuild press " + p.spec(), e);
        }
    }
}
