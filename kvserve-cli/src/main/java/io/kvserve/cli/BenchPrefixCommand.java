package io.kvserve.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.engine.AdmissionPolicy;
import io.kvserve.engine.Completion;
import io.kvserve.engine.Engine;
import io.kvserve.engine.EngineRequest;
import io.kvserve.engine.GeneratedToken;
import io.kvserve.engine.Scheduler;
import io.kvserve.engine.TokenSink;
import io.kvserve.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code kvserve bench prefix}: the page-level prefix cache on a shared-system-prompt workload. Two
 * engines on the paged cache, one with the prefix cache off and one with it on, get the same requests
 * (a system prompt shared by all, then a different story opening each), their rounds interleaved so
 * that the load of other processes falls on both alike. Reports hit rate, prefill tokens saved and
 * time to first token of each, and the TTFT ratio.
 */
@Command(name = "prefix", mixinStandardHelpOptions = true,
        description = {"Measure the page-level prefix cache: requests sharing a system prompt, run with the cache off and on",
                "in the same process (rounds interleaved); prints hit rate, prefill tokens saved and TTFT of both."})
public final class BenchPrefixCommand implements java.util.concurrent.Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin ServingOptions serving;

    @Option(names = "--text", paramLabel = "FILE", description = "text for the prompts (default: ../shared/data/tinystories_val.txt beside the repository)")
    Path text;

    @Option(names = "--requests", paramLabel = "N", description = "requests per engine (default: 16)")
    int requests = 16;

    @Option(names = "--system-tokens", paramLabel = "N", description = "tokens of the shared system prompt (default: 256)")
    int systemTokens = 256;

    @Option(names = "--question-tokens", paramLabel = "N", description = "tokens of each request's own part (default: 32)")
    int questionTokens = 32;

    @Option(names = "--concurrency", paramLabel = "N", description = "requests submitted at once per round (default: 1)")
    int concurrency = 1;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "tokens each request generates (default: 4)")
    int maxTokens = 4;

    @Option(names = "--json", paramLabel = "FILE", description = "write both results as a JSON array")
    Path json;

    /** One engine's result; also the JSON object. */
    public record Result(String config, int requests, long promptTokens, long lookupTokens, long hitTokens, double hitRate,
                         long prefillTokensComputed, long prefillTokensSaved, long evictions, double ttftP50Ms, double ttftMeanMs,
                         double ttftP99Ms) {}

    @Override
    public Integer call() throws Exception {
        if (requests < 1) throw new IllegalArgumentException("--requests must be >= 1, got " + requests);
        if (concurrency < 1) throw new IllegalArgumentException("--concurrency must be >= 1, got " + concurrency);
        if (systemTokens < 1 || questionTokens < 1) throw new IllegalArgumentException("--system-tokens and --question-tokens must be >= 1");
        if (maxTokens < 1) throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        if (serving.kvType == null) serving.kvType = "f32";
        if (text == null) {
            String home = System.getProperty("kvserve.home");
            text = (home != null ? Path.of(home) : Path.of("").toAbsolutePath()).resolve("../shared/data/tinystories_val.txt").normalize();
        }
        String corpus;
        try {
            corpus = Files.readString(text);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--text " + text + " does not exist: give a text file (e.g. ../shared/data/tinystories_val.txt)");
        }
        try (Model model = modelOptions.load()) {
            List<int[]> prompts = prompts(model, corpus);
            Engine.Config cfg = serving.engineConfig(model);
            int need = prompts.getFirst().length + maxTokens;
            if (need >= cfg.contextLength()) {
                throw new IllegalArgumentException("a request needs " + need + " positions but the context is " + cfg.contextLength()
                        + ": lower --system-tokens or --question-tokens");
            }
            Clock clock = Clock.systemUTC();
            AdmissionPolicy admit = AdmissionPolicy.kvBudget(Math.max(64, concurrency), Duration.ofMinutes(10), Duration.ofSeconds(1));
            try (Engine off = serving.pagedEngine(model, cfg, Scheduler.fcfs(), admit, clock, 0).start();
                 Engine on = serving.pagedEngine(model, cfg, Scheduler.fcfs(), admit, clock, serving.prefixCacheMib != null ? serving.prefixCacheMib << 20 : -1).start()) {
                System.err.printf("kvserve bench prefix: %s, %d requests of %d tokens (%d shared), %d at once, %d generated each; warming up%n",
                        model.name(), requests, prompts.getFirst().length, systemTokens, concurrency, maxTokens);
                // warm the JIT on both with prompts that share nothing with the workload
                for (Engine e : List.of(off, on)) round(e, List.of(Arrays.copyOfRange(prompts.getLast(), systemTokens, prompts.getLast().length)), "warm-up");
                long[] baseOff = {off.prefixCacheStats().lookupTokens(), off.prefixCacheStats().hitTokens()};
                long[] baseOn = {on.prefixCacheStats().lookupTokens(), on.prefixCacheStats().hitTokens()};
                List<Double> ttftOff = new ArrayList<>(), ttftOn = new ArrayList<>();
                for (int i = 0; i < requests; i += concurrency) {
                    List<int[]> batch = prompts.subList(i, Math.min(requests, i + concurrency));
                    boolean offFirst = (i / concurrency) % 2 == 0;   // alternate which engine goes first
                    if (offFirst) ttftOff.addAll(round(off, batch, "bench"));
                    ttftOn.addAll(round(on, batch, "bench"));
                    if (!offFirst) ttftOff.addAll(round(off, batch, "bench"));
                }
                long promptTokens = prompts.subList(0, requests).stream().mapToLong(p -> p.length).sum();
                Result rOff = result("prefix cache off", off, ttftOff, promptTokens, baseOff);
                Result rOn = result("prefix cache on", on, ttftOn, promptTokens, baseOn);
                System.out.printf("%-18s %8s %8s %8s %9s %9s %9s %10s %10s %10s%n", "config", "requests", "prompt", "hit tok", "hit rate",
                        "prefilled", "saved", "ttft p50", "ttft mean", "ttft p99");
                for (Result r : List.of(rOff, rOn)) {
                    System.out.printf("%-18s %8d %8d %8d %9.3f %9d %9d %10.1f %10.1f %10.1f%n", r.config(), r.requests(), r.promptTokens(),
                            r.hitTokens(), r.hitRate(), r.prefillTokensComputed(), r.prefillTokensSaved(), r.ttftP50Ms(), r.ttftMeanMs(), r.ttftP99Ms());
                }
                System.out.printf("TTFT on / off: p50 %.3f, mean %.3f (same run, rounds interleaved)%n", rOn.ttftP50Ms() / rOff.ttftP50Ms(),
                        rOn.ttftMeanMs() / rOff.ttftMeanMs());
                if (json != null) {
                    new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE).enable(SerializationFeature.INDENT_OUTPUT)
                            .writeValue(json.toFile(), List.of(rOff, rOn));
                }
            }
        }
        return 0;
    }

    /** The workload: the first {@code systemTokens} tokens of the text, then a different paragraph's opening per request. */
    private List<int[]> prompts(Model model, String corpus) {
        int[] all = model.tokenizer().encode(corpus.substring(0, Math.min(corpus.length(), systemTokens * 12)), true, false);
        if (all.length < systemTokens) throw new IllegalArgumentException("--text gives only " + all.length + " tokens, fewer than --system-tokens " + systemTokens);
        int[] system = Arrays.copyOf(all, systemTokens);
        List<int[]> out = new ArrayList<>();
        String[] paragraphs = corpus.split("\\n\\s*\\n");
        for (int i = paragraphs.length - 1; i >= 0 && out.size() < requests + 1; i--) {     // from the end: away from the system prompt
            int[] q = model.tokenizer().encode(paragraphs[i].strip(), false, false);
            if (q.length < questionTokens) continue;
            int[] p = Arrays.copyOf(system, systemTokens + questionTokens);
            System.arraycopy(q, 0, p, systemTokens, questionTokens);
            out.add(p);
        }
        if (out.size() < requests + 1) throw new IllegalArgumentException("--text has fewer than " + (requests + 1) + " paragraphs of " + questionTokens + " tokens");
        return out;
    }

    /** Submits {@code prompts} at once and returns each one's time to first token in ms. */
    private List<Double> round(Engine e, List<int[]> prompts, String tenant) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(prompts.size());
        double[] ttft = new double[prompts.size()];
        for (int i = 0; i < prompts.size(); i++) {
            final int k = i;
            long t0 = System.nanoTime();
            Engine.Submission s = e.submit(EngineRequest.greedy(prompts.get(i), maxTokens).withTenant(tenant), new TokenSink() {
                boolean first = true;

                @Override
                public void onToken(GeneratedToken t) {
                    if (first) ttft[k] = (System.nanoTime() - t0) / 1e6;
                    first = false;
                }

                @Override
                public void onFinish(Completion c) {
                    if (first) ttft[k] = (System.nanoTime() - t0) / 1e6;
                    done.countDown();
                }
            });
            if (s.rejected()) throw new IllegalStateException("the engine refused a benchmark request: raise --kv-tokens or lower --concurrency");
        }
        if (!done.await(30, TimeUnit.MINUTES)) throw new IllegalStateException("benchmark requests did not finish in 30 minutes");
        List<Double> r = new ArrayList<>();
        for (double t : ttft) r.add(t);
        return r;
    }

    private Result result(String name, Engine e, List<Double> ttft, long promptTokens, long[] base) {
        Engine.PrefixCacheStats s = e.prefixCacheStats();
        long lookup = s.lookupTokens() - base[0], hit = s.hitTokens() - base[1];
        return new Result(name, ttft.size(), promptTokens, lookup, hit, lookup == 0 ? 0 : (double) hit / lookup, promptTokens - hit, hit,
                s.evictions(), pct(ttft, 50), ttft.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN), pct(ttft, 99));
    }

    static double pct(List<Double> xs, int p) {
        if (xs.isEmpty()) return Double.NaN;
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(p / 100.0 * s.size()) - 1));
    }
}
