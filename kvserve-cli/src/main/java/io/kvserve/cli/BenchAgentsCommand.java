package io.kvserve.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.bench.MultiAgentBenchmark;
import io.kvserve.kvcache.agents.AgentWorkload;
import io.kvserve.kvcache.kvcomm.KvcommConfig;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code kvserve bench agents}: a fully connected multi-agent pipeline, every agent prompt prefilled
 * by dense, prefix-cache, KVShare and KVCOMM side by side; reuse rate, TTFT against dense and
 * fidelity against dense. See docs/AGENTS.md.
 */
@Command(name = "agents", mixinStandardHelpOptions = true,
        description = {"Multi-agent KV reuse: dense vs prefix cache vs KVCOMM (and KVShare) on 2 to 5 agents.",
                "Reports reuse rate, TTFT (and speedup over dense on the same prompts), top-1 agreement and first-token KL."})
public final class BenchAgentsCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;

    @Option(names = "--workload", paramLabel = "NAME", description = "rag, math or coding (default: rag)")
    String workload = "rag";

    @Option(names = "--agents", paramLabel = "N,N,...", split = ",", description = "agent counts, 2 to 5 (default: 2,3,4,5)")
    int[] agents = {2, 3, 4, 5};

    @Option(names = "--queries", paramLabel = "N", description = "user inputs run through the pipeline (default: 8)")
    int queries = 8;

    @Option(names = "--warmup", paramLabel = "N", description = "first queries not measured: they build anchors and caches (default: 2)")
    int warmup = 2;

    @Option(names = "--rounds", paramLabel = "N", description = "rounds of messages per query (default: 1)")
    int rounds = 1;

    @Option(names = "--preset", paramLabel = "NAME", description = "default (prefix 128, input 384, output 64 tokens) or paper "
            + "(KVCOMM's 512 prefix, 1K input, 512 output, scaled down to fit the model's context)")
    String preset = "default";

    @Option(names = "--context", paramLabel = "N", description = "context the paper preset is scaled to (default: the model's; "
            + "stories260K was trained on 512 although its file declares more)")
    Integer context;

    @Option(names = "--prefix-tokens", paramLabel = "N", description = "fixed template tokens per agent (overrides the preset)")
    Integer prefixTokens;

    @Option(names = "--input-tokens", paramLabel = "N", description = "prompt tokens per agent: template plus messages (overrides the preset)")
    Integer inputTokens;

    @Option(names = "--output-tokens", paramLabel = "N", description = "tokens each agent generates, its response (overrides the preset)")
    Integer outputTokens;

    @Option(names = "--compare-tokens", paramLabel = "N", description = "generated tokens compared with dense (default: 64, at most --output-tokens)")
    int compareTokens = 64;

    @Option(names = "--responses", paramLabel = "KIND", description = "generated (the dense reference's greedy output) or text (story text: for timing on random-weight models) (default: generated)")
    String responses = "generated";

    @Option(names = "--text", paramLabel = "FILE", description = "stories for templates and inputs (default: ../shared/data/tinystories_val.txt beside the repository)")
    Path text;

    @Option(names = "--batch", paramLabel = "N", description = "prefill micro-batch (default: 512)")
    int batch = 512;

    @Option(names = "--gamma", description = "KVCOMM entropy threshold (default: 0.3)") double gamma = 0.3;
    @Option(names = "--max-anchors", description = "KVCOMM anchors per slot (default: 20)") int maxAnchors = 20;
    @Option(names = "--window", description = "KVCOMM eviction window (default: 5)") int window = 5;
    @Option(names = "--tau", description = "KVCOMM softmax temperature (default: 1)") double tau = 1.0;
    @Option(names = "--top-p", description = "KVCOMM activation nucleus (default: 0.9)") double topP = 0.9;

    @Option(names = "--kvshare-ratio", description = "KVShare: share of reused tokens recomputed (default: 0.15)") double kvshareRatio = 0.15;

    @Option(names = "--json", paramLabel = "FILE", description = "write one object per (agents, mode)")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "draw TTFT speedup and reuse rate against agents")
    Path plot;

    @Override
    public Integer call() throws Exception {
        AgentWorkload w = AgentWorkload.parse(workload);
        if (!responses.equals("generated") && !responses.equals("text")) throw new IllegalArgumentException("--responses must be generated or text, got '" + responses + "'");
        var kvcomm = new KvcommConfig(gamma, maxAnchors, window, tau, topP);
        Path textPath = text != null ? text : defaultText();
        if (!Files.exists(textPath)) throw new NoSuchFileException(textPath.toString(), null, "give --text FILE");
        List<String> stories = new ArrayList<>();
        for (String p : Files.readString(textPath).split("\\n\\s*\\n")) if (!p.isBlank()) stories.add(p.strip().replaceAll("\\s+", " "));
        try (Model model = modelOptions.load(); WorkerPool pool = new WorkerPool(modelOptions.threadCount())) {
            int ctx = model.config().contextLength();
            if (context != null) {
                if (context < 64 || context > ctx) throw new IllegalArgumentException("--context must be in [64, " + ctx + "] (the model's context), got " + context);
                ctx = context;
            }
            int p, in, out;
            switch (preset) {
                case "default" -> { p = 128; in = 384; out = 64; }
                case "paper" -> {
                    double s = Math.min(1.0, ctx / (1024.0 + 512.0));
                    p = (int) (512 * s); in = (int) (1024 * s); out = (int) (512 * s);
                    System.err.printf(Locale.ROOT, "kvserve bench agents: preset paper scaled by %.3f to the context of %d: prefix %d, input %d, output %d tokens%n", s, ctx, p, in, out);
                }
                default -> throw new IllegalArgumentException("--preset must be default or paper, got '" + preset + "'");
            }
            if (prefixTokens != null) p = prefixTokens;
            if (inputTokens != null) in = inputTokens;
            if (outputTokens != null) out = outputTokens;
            var o = new MultiAgentBenchmark.Options(w, agents, queries, warmup, rounds, p, in, out, Math.min(compareTokens, out),
                    responses.equals("text"), batch);
            System.err.printf(Locale.ROOT, "kvserve bench agents: %s, workload %s, agents %s, %d queries (%d warm-up), %d round(s), prefix %d, input %d, output %d tokens%n",
                    model.name(), w.name().toLowerCase(Locale.ROOT), java.util.Arrays.toString(agents), queries, warmup, rounds, p, in, out);
            List<MultiAgentBenchmark.Row> rows = MultiAgentBenchmark.run(model, pool, stories, o, MultiAgentBenchmark.defaultModes(kvcomm, kvshareRatio), System.err);
            System.out.print(MultiAgentBenchmark.table(rows));
            if (json != null) {
                new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                        .enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), rows);
            }
            if (plot != null) MultiAgentBenchmark.writePlot(rows, plot, model.name() + " " + w.name().toLowerCase(Locale.ROOT));
        }
        return 0;
    }

    /** ../shared/data/tinystories_val.txt beside the repository (kvserve.home), else beside the working directory. */
    static Path defaultText() {
        String home = System.getProperty("kvserve.home");
        Path root = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        return root.resolve("../shared/data/tinystories_val.txt").normalize();
    }
}
