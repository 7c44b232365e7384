package io.kvserve.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.press.KvPress;
import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.kvcache.press.PrefixKvCalibration;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.transformer.ForwardPass;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code kvserve eval kv}: how much a KV configuration (press x element type) changes a model's
 * predictions. Each story of the text is split into a context, prefilled (then the press runs),
 * and a continuation, decoded one teacher-forced token at a time (so decode-time presses run too).
 * Per configuration: KV bytes per token read from the allocator (averaged over the continuation
 * steps), compression ratio against {@code none+f16}, perplexity of the continuation, and top-1
 * agreement and mean KL divergence of each next-token distribution against {@code none+f16}.
 */
public final class KvFidelityEval {
    private KvFidelityEval() {}

    public static final String REFERENCE = "none+f16";

    /** One configuration: a press (or none) and an element type, written {@code PRESS+TYPE}. */
    public record Config(String name, KvPress press, KvStorage storage) {
        public static Config parse(String text) {
            String s = text.trim();
            int plus = s.lastIndexOf('+');
            String pressSpec = plus < 0 ? s : s.substring(0, plus);
            String type = plus < 0 ? "f16" : s.substring(plus + 1);
            try {
                return new Config(s, PressRegistry.parse(pressSpec), KvStorage.parse(type));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("configuration '" + text + "': " + e.getMessage()
                        + " (write PRESS+TYPE, e.g. snapkv:ratio=0.5+kivi2 or none+f16)", e);
            }
        }
    }

    /**
     * One configuration's numbers. {@code stories} counts the evaluated sequences (stories, or windows
     * when {@code mode} is {@code "windows"}); {@code window} is the window length in tokens, 0 in story mode.
     */
    public record Result(String config, double kvBytesPerToken, double compressionRatio, double perplexity,
                         double top1Agreement, double kl, double wallSeconds, int stories, int contextTokens,
                         int continuationTokens, String mode, int window) {}

    /** A story split into context and continuation tokens. */
    public record Story(int[] tokens, int context) {}

    public record Options(int stories, int minTokens, int maxTokens, double contextFraction, int pageTokens) {
        public Options {
            if (stories < 1) throw new IllegalArgumentException("--stories must be >= 1, got " + stories);
            if (minTokens < 4) throw new IllegalArgumentException("--min-tokens must be >= 4, got " + minTokens);
            if (maxTokens < minTokens) throw new IllegalArgumentException("--max-tokens " + maxTokens + " is below --min-tokens " + minTokens);
            if (!(contextFraction > 0 && contextFraction < 1)) throw new IllegalArgumentException("--context-fraction must be in (0, 1), got " + contextFraction);
            if (pageTokens < 1) throw new IllegalArgumentException("--page-tokens must be >= 1");
        }
    }

    /** Paragraphs of the text (blank-line separated) with at least {@code minTokens} tokens, cut to {@code maxTokens}. */
    public static List<Story> stories(Model m, String text, Options o) {
        List<Story> r = new ArrayList<>();
        int limit = Math.min(o.maxTokens(), m.config().contextLength());
        for (String para : text.split("\\n\\s*\\n")) {
            if (r.size() == o.stories()) break;
            String p = para.strip();
            if (p.isEmpty()) continue;
            int[] ids = m.tokenizer().encode(p, m.tokenizer().addBosByDefault(), true);
            if (ids.length < o.minTokens()) continue;
            if (ids.length > limit) ids = java.util.Arrays.copyOf(ids, limit);
            int ctx = Math.max(1, (int) Math.round(ids.length * o.contextFraction()));
            r.add(new Story(ids, ctx));
        }
        if (r.isEmpty()) throw new IllegalArgumentException("the text has no paragraph of at least " + o.minTokens() + " tokens");
        return r;
    }

    /**
     * The text in the format stories260K was trained on (llama2.c): every blank-line-separated paragraph
     * tokenized exactly as {@link #stories} does (BOS first), no length filter and no cut, concatenated in
     * order into one stream; the first {@code count} consecutive non-overlapping windows of {@code window}
     * tokens, each split into context and continuation by {@code contextFraction}. Windows start
     * mid-story, as the training windows did.
     */
    public static List<Story> windows(Model m, String text, int window, int count, double contextFraction) {
        int limit = m.config().contextLength();
        if (window < 2 || window > limit) throw new IllegalArgumentException("--window must be in [2, " + limit
                + "] (the model's context length), got " + window);
        if (count < 1) throw new IllegalArgumentException("--windows must be >= 1, got " + count);
        long needed = (long) window * count;
        List<int[]> tokenized = new ArrayList<>();
        long total = 0;
        for (String para : text.split("\\n\\s*\\n")) {
            if (total >= needed) break;
            String p = para.strip();
            if (p.isEmpty()) continue;
            int[] ids = m.tokenizer().encode(p, m.tokenizer().addBosByDefault(), true);
            tokenized.add(ids);
            total += ids.length;
        }
        return packWindows(tokenized, window, count, contextFraction);
    }

    /**
     * Concatenates the tokenized stories in order and cuts the first {@code count} windows of {@code window}
     * tokens; each window's context is {@code round(window * contextFraction)}, at least 1 and at most
     * {@code window - 1} so that every window scores a token.
     */
    static List<Story> packWindows(List<int[]> tokenizedStories, int window, int count, double contextFraction) {
        if (!(contextFraction > 0 && contextFraction < 1)) throw new IllegalArgumentException("--context-fraction must be in (0, 1), got " + contextFraction);
        long total = 0;
        for (int[] t : tokenizedStories) total += t.length;
        if (total < (long) window * count) throw new IllegalArgumentException("the text has " + total + " tokens, enough for "
                + total / window + " windows of " + window + ", not " + count + ": lower --windows or --window, or give a longer --text");
        int[] stream = new int[window * count];
        int filled = 0;
        for (int[] t : tokenizedStories) {
            int n = Math.min(t.length, stream.length - filled);
            System.arraycopy(t, 0, stream, filled, n);
            filled += n;
            if (filled == stream.length) break;
        }
        int ctx = Math.clamp(Math.round(window * contextFraction), 1, window - 1);
        List<Story> r = new ArrayList<>(count);
        for (int w = 0; w < count; w++) r.add(new Story(java.util.Arrays.copyOfRange(stream, w * window, (w + 1) * window), ctx));
        return r;
    }

    /** Stories LESS fits its maps on: at most this many, from the end of the text, never an evaluated one. */
    public static final int LESS_CALIBRATION_STORIES = 16;

    /**
     * The configurations with their LESS maps fitted ({@code less:map=fit}, the default), on up to
     * {@link #LESS_CALIBRATION_STORIES} paragraphs taken from the end of the text that are not
     * among the evaluated stories; configurations without LESS come back unchanged.
     */
    public static List<Config> fitLess(Model m, String text, List<Story> evaluated, List<Config> configs, Options o, PrintStream log) {
        if (configs.stream().noneMatch(c -> c.press() != null && io.kvserve.kvcache.press.LessCalibration.needsFit(c.press()))) return configs;
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Story s : evaluated) seen.add(java.util.Arrays.toString(s.tokens()));
        String[] paras = text.split("\\n\\s*\\n");
        List<int[]> calibration = new ArrayList<>();
        int limit = Math.min(o.maxTokens(), m.config().contextLength());
        for (int i = paras.length - 1; i >= 0 && calibration.size() < LESS_CALIBRATION_STORIES; i--) {
            String p = paras[i].strip();
            if (p.isEmpty()) continue;
            int[] ids = m.tokenizer().encode(p, m.tokenizer().addBosByDefault(), true);
            if (ids.length < o.minTokens()) continue;
            if (ids.length > limit) ids = java.util.Arrays.copyOf(ids, limit);
            if (!seen.contains(java.util.Arrays.toString(ids))) calibration.add(ids);
        }
        if (calibration.isEmpty()) throw new IllegalArgumentException("less:map=fit needs calibration stories that are not evaluated, but the text has none left: lower --stories or use less:map=random");
        var fits = new java.util.HashMap<String, io.kvserve.kvcache.press.LessFeatureMaps>();
        List<Config> r = new ArrayList<>();
        for (Config c : configs) {
            r.add(c.press() == null ? c : new Config(c.name(), io.kvserve.kvcache.press.LessCalibration.withFittedMaps(c.press(), m, calibration, fits, log), c.storage()));
        }
        return r;
    }

    /** Log-softmax of each step, {@code (steps, vocab)}, kept from the reference run. */
    private record Trace(List<float[]> logProbs, double bytesPerToken, double nll, int tokens) {}

    public static List<Result> run(Model m, List<Story> stories, List<Config> configs, Options o, PrintStream log) {
        return run(m, stories, configs, o, log, 0);
    }

    /** As {@link #run(Model, List, List, Options, PrintStream)}; {@code window} > 0 marks the stories as packed windows of that length. */
    public static List<Result> run(Model m, List<Story> stories, List<Config> configs, Options o, PrintStream log, int window) {
        Config ref = Config.parse(REFERENCE);
        List<Config> all = new ArrayList<>();
        all.add(ref);
        for (Config c : configs) if (!c.name().equals(REFERENCE)) all.add(c);
        // profile-less PrefixKV presses calibrate on stories other than these
        List<int[]> evaluated = stories.stream().map(Story::tokens).toList();
        all.replaceAll(c -> new Config(c.name(), PrefixKvCalibration.prepare(c.press(), m, evaluated), c.storage()));
        ForwardPass fp = m.newForwardPass(Math.min(512, window > 0 ? window : o.maxTokens()), WorkerPool.shared());
        Trace reference = null;
        List<Result> results = new ArrayList<>();
        int ctxTokens = stories.stream().mapToInt(Story::context).sum();
        int contTokens = stories.stream().mapToInt(s -> s.tokens().length - s.context()).sum();
        for (Config c : all) {
            long t0 = System.nanoTime();
            Trace t = trace(m, fp, stories, c, o);
            double wall = (System.nanoTime() - t0) / 1e9;
            if (reference == null) reference = t;
            double agree = 0, kl = 0;
            int steps = t.logProbs().size();
            for (int i = 0; i < steps; i++) {
                float[] p = reference.logProbs().get(i), q = t.logProbs().get(i);
                if (argmax(p) == argmax(q)) agree++;
                double d = 0;
                for (int v = 0; v < p.length; v++) d += Math.exp(p[v]) * (p[v] - q[v]);
                kl += Math.max(0, d);
            }
            Result r = new Result(c.name(), t.bytesPerToken(), reference.bytesPerToken() / t.bytesPerToken(),
                    Math.exp(t.nll() / t.tokens()), agree / steps, kl / steps, wall, stories.size(), ctxTokens, contTokens,
                    window > 0 ? "windows" : "stories", window);
            results.add(r);
            if (log != null) log.printf(Locale.ROOT, "kvserve eval kv: %-40s %8.1f B/token  ppl %.4f  top1 %.4f  kl %.5f  (%.1f s)%n",
                    r.config(), r.kvBytesPerToken(), r.perplexity(), r.top1Agreement(), r.kl(), wall);
        }
        return results;
    }

    private static Trace trace(Model m, ForwardPass fp, List<Story> stories, Config c, Options o) {
        int vocab = m.config().vocabSize();
        List<float[]> lps = new ArrayList<>();
        double nll = 0, bytesSum = 0;
        int n = 0;
        int[] one = new int[1];
        for (Story s : stories) {
            int[] tok = s.tokens();
            try (io.kvserve.model.kv.KvCache cache = io.kvserve.kvcache.KvCaches.paged(m.config().nLayers(), m.config().nKvHeads(), m.config().headDim(),
                    m.config().groupSize(), m.config().contextLength(), c.storage(), o.pageTokens(), 1L << 40, c.press())) {
                int seq = cache.open();
                float[] logits = null;
                io.kvserve.model.kv.PrefillDriver driver = cache.prefillDriver();
                if (driver != null) logits = driver.prefill(m, fp, seq, java.util.Arrays.copyOf(tok, s.context()), 0);
                else for (int p = 0; p < s.context(); p += fp.maxBatch()) {
                    int len = Math.min(fp.maxBatch(), s.context() - p);
                    logits = fp.forward(Batch.ofSequence(seq, tok, p, len, p, false), cache);
                }
                cache.stepDone(seq);
                for (int p = s.context(); p < tok.length; p++) {
                    float[] lp = logSoftmax(logits, vocab);
                    nll -= lp[tok[p]];
                    lps.add(lp);
                    bytesSum += (double) cache.bytesInUse() / cache.length(seq);
                    n++;
                    if (p == tok.length - 1) break;
                    one[0] = tok[p];
                    logits = fp.forward(Batch.ofSequence(seq, one, 0, 1, p, false), cache);
                    cache.stepDone(seq);
                }
            }
        }
        return new Trace(lps, bytesSum / n, nll, n);
    }

    static float[] logSoftmax(float[] logits, int vocab) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[i] - max);
        float lse = (float) (max + Math.log(sum));
        float[] r = new float[vocab];
        for (int i = 0; i < vocab; i++) r[i] = logits[i] - lse;
        return r;
    }

    static int argmax(float[] a) {
        int b = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
        return b;
    }

    // ---- output ----

    public static String table(List<Result> rs) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "| %-44s | %10s | %7s | %10s | %6s | %8s | %8s |%n", "config", "KV B/token", "ratio", "perplexity", "top-1", "KL", "wall s"));
        b.append("|").append("-".repeat(46)).append("|").append("-".repeat(12)).append("|").append("-".repeat(9)).append("|")
                .append("-".repeat(12)).append("|").append("-".repeat(8)).append("|").append("-".repeat(10)).append("|").append("-".repeat(10)).append("|\n");
        for (Result r : rs) {
            b.append(String.format(Locale.ROOT, "| %-44s | %10.1f | %6.2fx | %10.4f | %6.4f | %8.5f | %8.1f |%n", r.config(), r.kvBytesPerToken(),
                    r.compressionRatio(), r.perplexity(), r.top1Agreement(), r.kl(), r.wallSeconds()));
        }
        return b.toString();
    }

    public static void writeJson(List<Result> rs, Path file) throws IOException {
        new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), rs);
    }

    public static void writeCsv(List<Result> rs, Path file) throws IOException {
        StringBuilder b = new StringBuilder("config,kv_bytes_per_token,compression_ratio,perplexity,top1_agreement,kl,wall_seconds\n");
        for (Result r : rs) {
            b.append(String.format(Locale.ROOT, "\"%s\",%.3f,%.4f,%.6f,%.6f,%.6f,%.2f%n", r.config(), r.kvBytesPerToken(), r.compressionRatio(),
                    r.perplexity(), r.top1Agreement(), r.kl(), r.wallSeconds()));
        }
        Files.writeString(file, b);
    }

    /** Fidelity against compression: perplexity (relative to the reference) and top-1 agreement, one point per config. */
    public static void writePlot(List<Result> rs, Path file, String title) throws IOException {
        int height = Math.max(700, 120 + 21 * rs.size());   // room for every legend entry
        XYChart chart = new XYChartBuilder().width(1100).height(height).title(title)
                .xAxisTitle("compression ratio vs none+f16 (KV bytes per token, measured)").yAxisTitle("perplexity increase over none+f16 (%)").build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setMarkerSize(10);
        double ref = rs.get(0).perplexity();
        for (Result r : rs) {
            XYSeries s = chart.addSeries(r.config() + String.format(Locale.ROOT, " (top-1 %.3f)", r.top1Agreement()),
                    new double[] {r.compressionRatio()}, new double[] {100 * (r.perplexity() / ref - 1)});
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        String name = file.getFileName().toString();
        String base = name.endsWith(".png") ? file.toString().substring(0, file.toString().length() - 4) : file.toString();
        BitmapEncoder.saveBitmap(chart, base, BitmapEncoder.BitmapFormat.PNG);
    }
}
