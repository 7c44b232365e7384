package io.kvserve.bench;

import io.kvserve.kvcache.agents.AgentPrompt;
import io.kvserve.kvcache.agents.AgentRuntime;
import io.kvserve.kvcache.agents.AgentTemplate;
import io.kvserve.kvcache.agents.AgentWorkload;
import io.kvserve.kvcache.agents.DensePrefill;
import io.kvserve.kvcache.agents.KvSharePrefill;
import io.kvserve.kvcache.agents.PrefillMode;
import io.kvserve.kvcache.agents.PrefixCachePrefill;
import io.kvserve.kvcache.kvcomm.KvcommConfig;
import io.kvserve.kvcache.kvcomm.KvcommPrefill;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code kvserve bench agents}: a fully connected pipeline of 2 to 5 agents over a workload, each
 * agent prompt prefilled by every mode side by side (dense is the reference). The messages passed
 * between agents are the dense reference's responses, so every mode sees the same prompts and the
 * comparison isolates the prefill. Per (agents, mode): reuse rate (prompt tokens not recomputed),
 * time to first token and its ratio to dense on the same prompts, top-1 agreement of the next
 * {@code compareTokens} tokens (teacher-forced on the reference's greedy tokens) and KL of the
 * first token's distribution. The first {@code warmup} queries build anchors and caches and are
 * not measured.
 */
public final class MultiAgentBenchmark {
    /** Builds one prefill mode for a runtime; dense is always the reference and needs no factory. */
    public interface ModeFactory extends Function<AgentRuntime, PrefillMode> {}

    /**
     * @param prefixTokens  fixed template tokens per agent (about)
     * @param inputTokens   prompt tokens per agent (about): template plus messages; the user's input
     *                      and each other agent's response share {@code inputTokens - prefixTokens}
     * @param outputTokens  tokens the dense reference generates per agent (its response)
     * @param compareTokens generated tokens compared (top-1 agreement), at most {@code outputTokens}
     * @param textResponses responses are story text instead of generated tokens (for timing on
     *                      random-weight models, where generating {@code outputTokens} is slow and meaningless)
     */
    public record Options(AgentWorkload workload, int[] agents, int queries, int warmup, int rounds, int prefixTokens,
                          int inputTokens, int outputTokens, int compareTokens, boolean textResponses, int maxBatch) {
        public Options {
            if (agents.length == 0) throw new IllegalArgumentException("--agents needs at least one count");
            for (int a : agents) if (a < 2 || a > 5) throw new IllegalArgumentException("--agents: counts must be 2 to 5, got " + a);
            if (queries < 1) throw new IllegalArgumentException("--queries must be >= 1, got " + queries);
            if (warmup < 0 || warmup >= queries) throw new IllegalArgumentException("--warmup must be in [0, --queries), got " + warmup + " with " + queries + " queries");
            if (rounds < 1) throw new IllegalArgumentException("--rounds must be >= 1, got " + rounds);
            if (prefixTokens < 1 || inputTokens <= prefixTokens) throw new IllegalArgumentException("--input-tokens (" + inputTokens + ") must exceed --prefix-tokens (" + prefixTokens + ") > 0");
            if (outputTokens < 1) throw new IllegalArgumentException("--output-tokens must be >= 1, got " + outputTokens);
            if (compareTokens < 1 || compareTokens > outputTokens) throw new IllegalArgumentException("--compare-tokens must be in [1, --output-tokens], got " + compareTokens);
            if (maxBatch < 1) throw new IllegalArgumentException("--batch must be >= 1");
        }
    }

    /** One row of the table and of the JSON (names relied on by outside scripts: keep them). */
    public record Row(String model, String workload, int agents, String mode, double reuseRate, double ttftMs, double denseTtftMs,
                      double ttftSpeedup, double top1Agreement, double klFirstToken, int prompts, double promptTokensMean,
                      int densePrefills, double messagePrefillMs) {}

    private static final class Acc {
        long tokens, recomputed, nanos, denseNanos;
        int prompts, densePrefills;
        double agree, kl;
        int compared;
    }

    public static List<Row> run(Model model, WorkerPool pool, List<String> stories, Options o, Map<String, ModeFactory> modes, PrintStream log) {
        List<Row> rows = new ArrayList<>();
        int ctx = model.config().contextLength();
        var tok = model.tokenizer();
        for (int n : o.agents()) {
            // kvshare scores a whole prompt in one pass: room for the longest prompt
            AgentRuntime rt = new AgentRuntime(model, pool, Math.max(o.maxBatch(), Math.min(ctx, o.inputTokens() + 128)));
            DensePrefill dense = new DensePrefill(rt);
            Map<String, PrefillMode> ms = new LinkedHashMap<>();
            modes.forEach((name, f) -> ms.put(name, f.apply(rt)));
            Map<String, Acc> acc = new LinkedHashMap<>();
            acc.put("dense", new Acc());
            ms.keySet().forEach(k -> acc.put(k, new Acc()));
            List<AgentTemplate> agents = o.workload().agents(n, tok, stories, o.prefixTokens());
            int share = Math.max(4, (o.inputTokens() - o.prefixTokens()) / n);
            long standAlone0 = 0;
            for (int q = 0; q < o.queries(); q++) {
                boolean measured = q >= o.warmup();
                if (q == o.warmup()) standAlone0 = rt.standAloneNanos();
                Map<String, String> latest = new HashMap<>();
                latest.put(AgentWorkload.INPUT_SLOT, o.workload().input(q, tok, stories, share));
                for (AgentTemplate a : agents) latest.put(AgentWorkload.slotOf(a.agent()), a.agent() + " has not said anything yet.");
                for (int r = 0; r < o.rounds(); r++) {
                    for (int i = 0; i < n; i++) {
                        AgentTemplate a = agents.get(i);
                        AgentPrompt p = AgentPrompt.fill(tok, a, latest);
                        if (p.length() + o.outputTokens() > ctx) {
                            throw new IllegalArgumentException(String.format(Locale.ROOT,
                                    "agent %s's prompt has %d tokens and %d more are generated, past the model's context of %d: lower --input-tokens or --output-tokens",
                                    a.agent(), p.length(), o.outputTokens(), ctx));
                        }
                        int gen = o.textResponses() ? o.compareTokens() : o.outputTokens();
                        PrefillMode.Prefill ref = dense.prefill(a.agent(), p);
                        int[] refTokens = greedy(rt, ref, p.length(), gen);
                        rt.cache().release(ref.seq());
                        if (measured) add(acc.get("dense"), p, ref, 1.0, 0.0, o.compareTokens());
                        for (var e : ms.entrySet()) {
                            PrefillMode.Prefill pf = e.getValue().prefill(a.agent(), p);
                            double kl = kl(ref.logits(), pf.logits());
                            double agree = teacherForcedAgreement(rt, pf, p.length(), refTokens, o.compareTokens());
                            rt.cache().release(pf.seq());
                            if (measured) {
                                Acc x = acc.get(e.getKey());
                                add(x, p, pf, agree, kl, o.compareTokens());
                                x.denseNanos += ref.nanos();
                            }
                        }
                        String response = o.textResponses()
                                ? AgentWorkload.trimTo(tok, stories.get(Math.floorMod(q * 13 + r * 5 + i + 500, stories.size())), share)
                                : responseText(rt, refTokens, share, a.agent());
                        latest.put(AgentWorkload.slotOf(a.agent()), response);
                    }
                }
                log.printf(Locale.ROOT, "kvserve bench agents: %d agents, query %d/%d done%s%n", n, q + 1, o.queries(), measured ? "" : " (warm-up)");
            }
            double msgMs = (rt.standAloneNanos() - standAlone0) / 1e6;
            double denseMean = acc.get("dense").nanos / 1e6 / Math.max(1, acc.get("dense").prompts);
            for (var e : acc.entrySet()) {
                Acc x = e.getValue();
                double ttft = x.nanos / 1e6 / Math.max(1, x.prompts);
                double denseSame = e.getKey().equals("dense") ? ttft : x.denseNanos / 1e6 / Math.max(1, x.prompts);
                rows.add(new Row(model.name(), o.workload().name().toLowerCase(Locale.ROOT), n, e.getKey(),
                        1.0 - (double) x.recomputed / Math.max(1, x.tokens), ttft, denseSame, denseSame / ttft,
                        x.agree / Math.max(1, x.prompts), x.kl / Math.max(1, x.prompts), x.prompts, (double) x.tokens / Math.max(1, x.prompts),
                        x.densePrefills, e.getKey().equals("kvcomm") ? msgMs : 0));
            }
            if (denseMean <= 0) log.println("kvserve bench agents: warning: no measured prompt");
        }
        return rows;
    }

    private static void add(Acc x, AgentPrompt p, PrefillMode.Prefill pf, double agree, double kl, int compared) {
        x.tokens += p.length();
        x.recomputed += pf.recomputed();
        x.nanos += pf.nanos();
        x.prompts++;
        if (pf.dense()) x.densePrefills++;
        x.agree += agree;
        x.kl += kl;
        x.compared += compared;
    }

    /** The reference's greedy continuation: {@code gen} tokens from the prefill's logits. */
    static int[] greedy(AgentRuntime rt, PrefillMode.Prefill pf, int promptLength, int gen) {
        int[] out = new int[gen];
        float[] logits = pf.logits();
        for (int k = 0; k < gen; k++) {
            out[k] = argmax(logits);
            if (k + 1 < gen) logits = rt.step(pf.seq(), out[k], promptLength + k);
        }
        return out;
    }

    /** Share of the first {@code n} positions where the mode's argmax equals the reference token, feeding the reference tokens. */
    static double teacherForcedAgreement(AgentRuntime rt, PrefillMode.Prefill pf, int promptLength, int[] ref, int n) {
        int match = 0;
        float[] logits = pf.logits();
        for (int k = 0; k < n; k++) {
            if (argmax(logits) == ref[k]) match++;
            if (k + 1 < n) logits = rt.step(pf.seq(), ref[k], promptLength + k);
        }
        return (double) match / n;
    }

    /** The first {@code share} tokens of a response, cut at end of generation, as text. */
    static String responseText(AgentRuntime rt, int[] tokens, int share, String agent) {
        int n = 0;
        while (n < Math.min(share, tokens.length) && !rt.tokenizer().isEndOfGeneration(tokens[n])) n++;
        String s = rt.tokenizer().decode(Arrays.copyOf(tokens, n)).strip();
        return s.isEmpty() ? agent + " did not know what to say." : s;
    }

    static int argmax(float[] x) {
        int b = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
        return b;
    }

    /** KL(p || q) of the softmaxes of two logit vectors, in nats. */
    static double kl(float[] p, float[] q) {
        double[] lp = logSoftmax(p), lq = logSoftmax(q);
        double s = 0;
        for (int i = 0; i < lp.length; i++) s += Math.exp(lp[i]) * (lp[i] - lq[i]);
        return Math.max(0, s);
    }

    private static double[] logSoftmax(float[] x) {
        double m = Double.NEGATIVE_INFINITY;
        for (float v : x) m = Math.max(m, v);
        double sum = 0;
        for (float v : x) sum += Math.exp(v - m);
        double lse = m + Math.log(sum);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] - lse;
        return out;
    }

    /** The modes of the comparison besides dense, in table order. */
    public static Map<String, ModeFactory> defaultModes(KvcommConfig kvcomm, double kvshareRatio) {
        Map<String, ModeFactory> m = new LinkedHashMap<>();
        m.put("prefix", rt -> new PrefixCachePrefill(rt, 64));
        m.put("kvshare", rt -> new KvSharePrefill(rt, kvshareRatio, 16));
        m.put("kvcomm", rt -> new KvcommPrefill(rt, kvcomm));
        return m;
    }

    public static String table(List<Row> rows) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "| agents | mode    | reuse rate | TTFT ms | dense TTFT ms | TTFT speedup | top-1 agreement | KL first token | prompts | mean prompt tokens | dense prefills |%n"));
        b.append("|--------|---------|------------|---------|---------------|--------------|-----------------|----------------|---------|--------------------|----------------|\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %6d | %-7s | %9.1f%% | %7.2f | %13.2f | %11.2fx | %15.4f | %14.5f | %7d | %18.1f | %14d |%n",
                    r.agents(), r.mode(), 100 * r.reuseRate(), r.ttftMs(), r.denseTtftMs(), r.ttftSpeedup(), r.top1Agreement(),
                    r.klFirstToken(), r.prompts(), r.promptTokensMean(), r.densePrefills()));
        }
        return b.toString();
    }

    /** Two panels side by side: TTFT speedup over dense and reuse rate, against the number of agents, one line per mode. */
    public static void writePlot(List<Row> rows, Path file, String title) throws IOException {
        XYChart speed = chart(title + ": TTFT speedup over dense", "TTFT speedup (x)", rows, Row::ttftSpeedup);
        XYChart reuse = chart(title + ": reuse rate", "prompt tokens reused (%)", rows, r -> 100 * r.reuseRate());
        BufferedImage a = BitmapEncoder.getBufferedImage(speed), b = BitmapEncoder.getBufferedImage(reuse);
        BufferedImage img = new BufferedImage(a.getWidth() + b.getWidth(), Math.max(a.getHeight(), b.getHeight()), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.drawImage(a, 0, 0, null);
        g.drawImage(b, a.getWidth(), 0, null);
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static XYChart chart(String title, String yTitle, List<Row> rows, java.util.function.ToDoubleFunction<Row> y) {
        XYChart c = new XYChartBuilder().width(700).height(500).title(title).xAxisTitle("agents").yAxisTitle(yTitle).build();
        c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNW);
        Map<String, List<Row>> byMode = new LinkedHashMap<>();
        for (Row r : rows) byMode.computeIfAbsent(r.mode(), k -> new ArrayList<>()).add(r);
        for (var e : byMode.entrySet()) {
            double[] xs = e.getValue().stream().mapToDouble(Row::agents).toArray();
            double[] ys = e.getValue().stream().mapToDouble(y).toArray();
            XYSeries s = c.addSeries(e.getKey(), xs, ys);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        return c;
    }
}
