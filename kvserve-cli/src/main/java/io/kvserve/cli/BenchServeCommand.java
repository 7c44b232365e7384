package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.engine.Engine;
import io.kvserve.model.Model;
import io.kvserve.server.OpenAiServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code kvserve bench serve}: starts the server in-process on 127.0.0.1, then for each concurrency
 * level runs that many streaming clients at once over real HTTP and reports aggregate generated
 * tokens per second, time to first token and inter-token latency (p50, p99).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Throughput and latency of `kvserve serve` against 1, 2, 4, 8 and 16 concurrent streams.",
                "Reports aggregate decode tok/s (and its ratio to one stream), TTFT and inter-token latency p50/p99."})
public final class BenchServeCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin ServingOptions serving;

    @Option(names = "--json", paramLabel = "FILE", description = "write one object per concurrency level as a JSON array")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "draw throughput and latency against concurrency")
    Path plot;

    @Option(names = "--concurrency", paramLabel = "N,N,...", split = ",", description = "levels (default: 1,2,4,8,16)")
    int[] levels = {1, 2, 4, 8, 16};

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "tokens each request generates (default: 32)")
    int maxTokens = 32;

    @Option(names = "--warmup-tokens", paramLabel = "N", description = "tokens of the warm-up requests, alone then batched (default: 32)")
    int warmupTokens = 32;

    @Option(names = "--rounds", paramLabel = "N", description = "requests each client sends one after another (default: 1; 2 at concurrency 1)")
    int rounds = 1;

    @Option(names = "--repeat", paramLabel = "N",
            description = {"run the whole sequence of levels N times, one after another, and report each level over all N (default: 1):",
                    "on a machine whose speed drifts, every level then sees the same drift, and speedup_vs1_runs shows the spread"})
    int repeat = 1;

    @Option(names = "--request-kv-press", paramLabel = "SPEC",
            description = {"run every level once per SPEC, the requests carrying \"kv_press\": SPEC (repeatable; none for no press),",
                    "so that presses are compared in one run; without it requests name no press (the server's --kv-press applies)"})
    List<String> requestPresses = new ArrayList<>();

    /**
     * One level's result; also the JSON object. The KV columns are sampled from the engine every 10 ms
     * while the level runs: the most KV bytes the allocator held ({@code kv_bytes_peak}, idle prefix-cache
     * blocks included; run with {@code --prefix-cache-mib 0} to see the sequences alone), that over the
     * streams, the most engine pages reserved ({@code kv_pages_used_peak}) and the most sequences running
     * at once ({@code running_peak}: below the concurrency when KV pages ran short). {@code kv_press} is the
     * server's default press ({@code none} when it has none). With {@code --repeat N} a level's figures
     * cover its N runs (tokens over summed wall time, percentiles over all samples, the largest peaks), and
     * {@code speedup_vs1_runs} holds each run's ratio to the one-stream level of the same repetition.
     */
    public record Level(int concurrency, int requests, long generatedTokens, double wallS, double decodeTpsTotal, double decodeTpsPerStream,
                        double speedupVs1, double ttftP50Ms, double ttftP99Ms, double itlP50Ms, double itlP99Ms,
                        String kvPress, long kvBytesPeak, double kvBytesPerStreamPeak, int kvPagesUsedPeak, int runningPeak,
                        double decodeTpsSteady, double steadySpeedupVs1, int repeats, List<Double> speedupVs1Runs) {}

    /** What the runs of one level (one press) have gathered so far. */
    private static final class LevelRuns {
        final List<Sample> samples = new ArrayList<>();
        final List<Double> ratios = new ArrayList<>();
        long tokens, kvBytes;
        double wall;
        int pages, running;
    }

    /** The largest engine counters seen while a level runs. */
    private static final class KvPeaks implements AutoCloseable {
        private final Thread sampler;
        private volatile boolean done;
        volatile long bytes;
        volatile int pages, running;

        KvPeaks(OpenAiServer server) {
            sampler = Thread.ofPlatform().daemon().name("bench-kv-sampler").start(() -> {
                while (!done) {
                    Engine.Stats st = server.engineStats();
                    bytes = Math.max(bytes, st.kvBytes());
                    pages = Math.max(pages, st.pagesUsed());
                    running = Math.max(running, st.running());
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        @Override
        public void close() throws InterruptedException {
            done = true;
            sampler.join();
        }
    }

    /** One request's result; {@code client} is the index of the concurrent client that sent it. */
    record Sample(int client, long tokens, double ttftMs, List<Double> itlMs) {
        /** Time from the first to the last streamed token, in seconds: this request's decode phase. */
        double decodeSeconds() {
            return itlMs.stream().mapToDouble(Double::doubleValue).sum() / 1e3;
        }
    }

    /**
     * Aggregate decode throughput without the prefill: each client's tokens after its first, over the
     * time between its first and last token (TPOT), summed over the clients that ran at once. The
     * wall-clock figure ({@code decode_tps_total}) also counts every stream's prefill, which grows with
     * the number of streams.
     */
    static double steadyDecodeTps(List<Sample> samples) {
        java.util.Map<Integer, double[]> perClient = new java.util.TreeMap<>();
        for (Sample s : samples) {
            double[] acc = perClient.computeIfAbsent(s.client(), k -> new double[2]);
            acc[0] += Math.max(0, s.tokens() - 1);
            acc[1] += s.decodeSeconds();
        }
        double total = 0;
        for (double[] acc : perClient.values()) if (acc[1] > 0) total += acc[0] / acc[1];
        return total;
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private volatile String pressOfRequests;   // the kv_press of the requests sent now, or null
    private static final String PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman and his clever daughter. Every morning";

    @Override
    public Integer call() throws Exception {
        if (maxTokens < 2) throw new IllegalArgumentException("--max-tokens must be >= 2, got " + maxTokens);
        if (rounds < 1) throw new IllegalArgumentException("--rounds must be >= 1, got " + rounds);
        if (repeat < 1) throw new IllegalArgumentException("--repeat must be >= 1, got " + repeat);
        int maxLevel = Arrays.stream(levels).max().orElse(1);
        if (serving.maxRunning < maxLevel) serving.maxRunning = maxLevel;
        if (serving.maxBatchTokens < serving.maxRunning) serving.maxBatchTokens = serving.maxRunning;
        List<Level> results = new ArrayList<>();
        if (!requestPresses.isEmpty() && serving.kvType == null && serving.kvPress == null) serving.kvType = "f32";   // presses need the paged cache
        List<String> presses = requestPresses.isEmpty() ? java.util.Collections.singletonList(null) : requestPresses;
        try (Model model = modelOptions.load(); OpenAiServer server = serving.build(model, "127.0.0.1", 0).start()) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            URI uri = URI.create(server.baseUri() + "/v1/completions");
            String key = serving.apiKey != null ? serving.apiKey : System.getenv("KVSERVE_API_KEY");
            System.err.printf("kvserve bench serve: %s, %d threads, %d tokens per request; warming up%n", model.name(), modelOptions.threadCount(), maxTokens);
            // the JIT must have compiled the decode kernels of every batch shape before the first level is timed
            for (String press : presses) {
                pressOfRequests = press;
                run(http, uri, key, warmupTokens, 1, 1);
                run(http, uri, key, Math.max(2, warmupTokens / 2), Math.min(4, maxLevel), 1);
                run(http, uri, key, Math.max(2, warmupTokens / 4), maxLevel, 1);
            }
            // runs[p][i]: press p, level i, gathered over the repetitions
            LevelRuns[][] runs = new LevelRuns[presses.size()][levels.length];
            for (LevelRuns[] row : runs) Arrays.setAll(row, i -> new LevelRuns());
            for (int rep = 0; rep < repeat; rep++) {
                for (int p = 0; p < presses.size(); p++) {
                    String press = presses.get(p);
                    pressOfRequests = press;
                    double single = 0;
                    for (int i = 0; i < levels.length; i++) {
                        int c = levels[i];
                        int perClient = c == 1 ? Math.max(2, rounds) : rounds;
                        long t0 = System.nanoTime();
                        List<Sample> samples;
                        KvPeaks peaks = new KvPeaks(server);
                        try (peaks) {
                            samples = run(http, uri, key, maxTokens, c, perClient);
                        }
                        double wall = (System.nanoTime() - t0) / 1e9;
                        long tokens = samples.stream().mapToLong(Sample::tokens).sum();
                        double tps = tokens / wall;
                        if (c == 1) single = tps;
                        LevelRuns lr = runs[p][i];
                        lr.samples.addAll(samples);
                        lr.tokens += tokens;
                        lr.wall += wall;
                        lr.kvBytes = Math.max(lr.kvBytes, peaks.bytes);
                        lr.pages = Math.max(lr.pages, peaks.pages);
                        lr.running = Math.max(lr.running, peaks.running);
                        lr.ratios.add(single > 0 ? tps / single : Double.NaN);
                        System.err.printf("kvserve bench serve: %s%sconcurrency %d: %.1f tok/s (decode phase %.1f tok/s)%n", repeat > 1 ? "run " + (rep + 1) + "/" + repeat + ", " : "",
                                press != null ? "kv_press " + press + ", " : "", c, tps, steadyDecodeTps(samples));
                    }
                }
            }
            for (int p = 0; p < presses.size(); p++) {
                String press = presses.get(p);
                double single = 0, singleSteady = 0;
                for (int i = 0; i < levels.length; i++) {
                    int c = levels[i];
                    LevelRuns lr = runs[p][i];
                    double tps = lr.tokens / lr.wall;
                    // samples are grouped by client slot, so the runs of one slot average rather than add up
                    double steady = steadyDecodeTps(lr.samples);
                    if (c == 1) {
                        single = tps;
                        singleSteady = steady;
                    }
                    List<Double> ttft = new ArrayList<>(), itl = new ArrayList<>();
                    for (Sample smp : lr.samples) {
                        ttft.add(smp.ttftMs());
                        itl.addAll(smp.itlMs());
                    }
                    results.add(new Level(c, lr.samples.size(), lr.tokens, lr.wall, tps, tps / c, single > 0 ? tps / single : Double.NaN,
                            pct(ttft, 50), pct(ttft, 99), pct(itl, 50), pct(itl, 99),
                            press != null ? press : serving.kvPress != null ? serving.kvPress : "none", lr.kvBytes, (double) lr.kvBytes / c, lr.pages,
                            lr.running, steady, singleSteady > 0 ? steady / singleSteady : Double.NaN, repeat, List.copyOf(lr.ratios)));
                }
            }
            System.out.printf("%-32s %-36s %5s %12s %12s %8s %10s %10s %10s %10s %10s %8s %12s %10s %8s%n", "model", "kv press", "conc", "decode t/s", "per stream",
                    "x vs 1", "ttft p50", "ttft p99", "itl p50", "itl p99", "steady t/s", "x vs 1", "KV B/stream", "KV pages", "running");
            for (Level l : results) {
                System.out.printf("%-32s %-36s %5d %12.1f %12.2f %8.2f %10.1f %10.1f %10.1f %10.1f %10.1f %8.2f %12.0f %10d %8d%n", model.name(), l.kvPress(), l.concurrency(),
                        l.decodeTpsTotal(), l.decodeTpsPerStream(), l.speedupVs1(), l.ttftP50Ms(), l.ttftP99Ms(), l.itlP50Ms(), l.itlP99Ms(),
                        l.decodeTpsSteady(), l.steadySpeedupVs1(), l.kvBytesPerStreamPeak(), l.kvPagesUsedPeak(), l.runningPeak());
            }
            if (json != null) {
                new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE).enable(SerializationFeature.INDENT_OUTPUT)
                        .writeValue(json.toFile(), results);
            }
            if (plot != null) plot(presses.size() == 1 ? results : results.subList(0, levels.length), model.name(), plot);
        }
        return 0;
    }

    private List<Sample> run(HttpClient http, URI uri, String key, int tokens, int clients, int perClient) throws Exception {
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<Sample>>> fs = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                final int client = i;
                fs.add(pool.submit(() -> {
                    List<Sample> out = new ArrayList<>();
                    for (int r = 0; r < perClient; r++) out.add(one(http, uri, key, tokens, client, client * 1000 + r));
                    return out;
                }));
            }
            List<Sample> all = new ArrayList<>();
            for (var f : fs) {
                try {
                    all.addAll(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    // the client's own failure, so that the CLI reports it as it would have on this thread
                    if (e.getCause() instanceof Exception cause) throw cause;
                    throw e;
                }
            }
            return all;
        }
    }

    /** One streaming request; each client uses its own tenant so that no prefix is shared between them. */
    private Sample one(HttpClient http, URI uri, String key, int tokens, int client, int id) throws Exception {
        com.fasterxml.jackson.databind.node.ObjectNode req = JSON.createObjectNode().put("prompt", PROMPT).put("max_tokens", tokens).put("temperature", 0)
                .put("stream", true).put("ignore_eos", true).put("tenant", "bench-" + id);
        req.set("stream_options", JSON.createObjectNode().put("include_usage", true));
        if (pressOfRequests != null) req.put("kv_press", pressOfRequests);
        String body = req.toString();
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        if (key != null) b.header("Authorization", "Bearer " + key);
        long t0 = System.nanoTime();
        HttpResponse<java.util.stream.Stream<String>> r = http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            String answer = String.join("\n", r.body().toList());
            // a 4xx names something the user gave us (a press spec, a key): report it as such, not as a crash
            if (r.statusCode() >= 400 && r.statusCode() < 500) {
                String message;
                try {
                    message = JSON.readTree(answer).path("error").path("message").asText(answer);
                } catch (com.fasterxml.jackson.core.JacksonException notJson) {
                    message = answer;
                }
                throw new IllegalArgumentException("the server refused the benchmark's request (" + r.statusCode() + "): " + message);
            }
            throw new IllegalStateException("the server answered " + r.statusCode() + ": " + answer);
        }
        long[] last = {0};
        double[] ttft = {-1};
        long[] generated = {0};
        List<Double> itl = new ArrayList<>();
        r.body().forEach(line -> {
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) return;
            long now = System.nanoTime();
            try {
                JsonNode chunk = JSON.readTree(line.substring(6));
                if (chunk.hasNonNull("usage")) generated[0] = chunk.get("usage").get("completion_tokens").asLong();
                JsonNode ch = chunk.get("choices");
                if (ch == null || ch.isEmpty() || ch.get(0).path("text").asText().isEmpty()) return;
            } catch (Exception e) {
                throw new IllegalStateException("bad chunk: " + line, e);
            }
            if (ttft[0] < 0) ttft[0] = (now - t0) / 1e6;
            else itl.add((now - last[0]) / 1e6);
            last[0] = now;
        });
        return new Sample(client, generated[0], ttft[0], itl);
    }

    static double pct(List<Double> xs, int p) {
        if (xs.isEmpty()) return Double.NaN;
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int i = (int) Math.ceil(p / 100.0 * s.size()) - 1;
        return s.get(Math.max(0, Math.min(s.size() - 1, i)));
    }

    /** Two panels: aggregate tok/s with the linear ideal, and TTFT / ITL p50 and p99, against concurrency (log 2). */
    static void plot(List<Level> levels, String title, Path file) throws java.io.IOException {
        int w = 1000, h = 420, pad = 60, pw = (w - 3 * pad) / 2, ph = h - 2 * pad;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(Color.BLACK);
        g.drawString("kvserve bench serve: " + title, pad, 25);
        double maxC = levels.stream().mapToInt(Level::concurrency).max().orElse(1);
        double single = levels.getFirst().decodeTpsTotal();
        double maxTps = Math.max(levels.stream().mapToDouble(Level::decodeTpsTotal).max().orElse(1), 0);
        double maxLat = levels.stream().mapToDouble(l -> Math.max(l.ttftP99Ms(), l.itlP99Ms())).max().orElse(1);
        double[] xs = levels.stream().mapToDouble(l -> Math.log(l.concurrency()) / Math.log(2)).toArray();
        double xMax = Math.max(1, Math.log(maxC) / Math.log(2));
        panel(g, pad, pad, pw, ph, xs, xMax, new double[][]{levels.stream().mapToDouble(Level::decodeTpsTotal).toArray(),
                        levels.stream().mapToDouble(l -> Math.min(single * l.concurrency(), maxTps * 1.1)).toArray()},
                new String[]{"aggregate decode tok/s", "linear (x concurrency)"}, new Color[]{new Color(0x1f77b4), Color.LIGHT_GRAY}, maxTps * 1.1, levels);
        panel(g, 2 * pad + pw, pad, pw, ph, xs, xMax, new double[][]{levels.stream().mapToDouble(Level::ttftP50Ms).toArray(),
                        levels.stream().mapToDouble(Level::ttftP99Ms).toArray(), levels.stream().mapToDouble(Level::itlP50Ms).toArray(),
                        levels.stream().mapToDouble(Level::itlP99Ms).toArray()},
                new String[]{"TTFT p50 ms", "TTFT p99 ms", "ITL p50 ms", "ITL p99 ms"},
                new Color[]{new Color(0xd62728), new Color(0xff9896), new Color(0x2ca02c), new Color(0x98df8a)}, maxLat * 1.1, levels);
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static void panel(Graphics2D g, int x0, int y0, int pw, int ph, double[] xs, double xMax, double[][] series, String[] names,
                              Color[] colors, double yMax, List<Level> levels) {
        g.setColor(Color.BLACK);
        g.drawRect(x0, y0, pw, ph);
        for (int i = 0; i <= 4; i++) {
            int y = y0 + ph - i * ph / 4;
            g.setColor(new Color(0xeeeeee));
            g.drawLine(x0 + 1, y, x0 + pw - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(yMax < 10 ? "%.1f" : "%.0f", yMax * i / 4), x0 - 45, y + 4);
        }
        for (int i = 0; i < xs.length; i++) {
            int x = x0 + (int) (xs[i] / xMax * pw);
            g.drawString(Integer.toString(levels.get(i).concurrency()), x - 4, y0 + ph + 15);
        }
        g.drawString("concurrent streams", x0 + pw / 2 - 50, y0 + ph + 32);
        g.setStroke(new BasicStroke(2f));
        for (int s = 0; s < series.length; s++) {
            g.setColor(colors[s]);
            int px = -1, py = -1;
            for (int i = 0; i < xs.length; i++) {
                int x = x0 + (int) (xs[i] / xMax * pw), y = y0 + ph - (int) (series[s][i] / yMax * ph);
                g.fillOval(x - 3, y - 3, 6, 6);
                if (px >= 0) g.drawLine(px, py, x, y);
                px = x;
                py = y;
            }
            g.drawString(names[s], x0 + 10, y0 + 15 + 15 * s);
        }
        g.setStroke(new BasicStroke(1f));
    }
}
