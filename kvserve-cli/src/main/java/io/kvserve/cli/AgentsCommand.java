package io.kvserve.cli;

import io.kvserve.kvcache.agents.AgentPipeline;
import io.kvserve.kvcache.agents.AgentRuntime;
import io.kvserve.kvcache.agents.AgentWorkload;
import io.kvserve.kvcache.kvcomm.KvcommConfig;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import picocli.CommandLine;
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

/** {@code kvserve agents}: runs one multi-agent pipeline and prints every agent's turn with its reuse. */
@Command(name = "agents", mixinStandardHelpOptions = true,
        description = {"Run a fully connected pipeline of 2 to 5 agents (rag, math or coding templates) for some rounds,",
                "prefilling each agent's prompt with one mode (dense, prefix, kvshare, kvcomm), and print each turn:",
                "prompt tokens, share reused, time to first token and the agent's answer. `kvserve bench agents` compares the modes."})
public final class AgentsCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--workload", paramLabel = "NAME", description = "rag, math or coding (default: rag)")
    String workload = "rag";

    @Option(names = "--agents", paramLabel = "N", description = "agents, 2 to 5 (default: 3)")
    int agents = 3;

    @Option(names = "--rounds", paramLabel = "N", description = "rounds of messages (default: 2)")
    int rounds = 2;

    @Option(names = "--mode", paramLabel = "MODE", description = "dense, prefix, kvshare or kvcomm (default: kvcomm)")
    String mode = "kvcomm";

    @Option(names = "--input", paramLabel = "TEXT", description = "the user's input (default: the workload's first input)")
    String input;

    @Option(names = "--queries", paramLabel = "N", description = "user inputs run one after another through the same pipeline, "
            + "whose caches and KVCOMM anchor pools persist across them (default: 3; 1 with --input)")
    Integer queries;

    @Option(names = "--max-tokens", paramLabel = "N", description = "tokens per answer at most (default: 48)")
    int maxTokens = 48;

    @Option(names = "--prefix-tokens", paramLabel = "N", description = "background story tokens in each template (default: 64)")
    int prefixTokens = 64;

    @Option(names = "--text", paramLabel = "FILE", description = "stories for templates and inputs (default: ../shared/data/tinystories_val.txt beside the repository)")
    Path text;

    @Override
    public Integer call() throws Exception {
        AgentWorkload w = AgentWorkload.parse(workload);
        if (agents < 2 || agents > 5) throw new IllegalArgumentException("--agents must be 2 to 5, got " + agents);
        Path textPath = text != null ? text : BenchAgentsCommand.defaultText();
        if (!Files.exists(textPath)) throw new NoSuchFileException(textPath.toString(), null, "give --text FILE");
        List<String> stories = new ArrayList<>();
        for (String p : Files.readString(textPath).split("\\n\\s*\\n")) if (!p.isBlank()) stories.add(p.strip().replaceAll("\\s+", " "));
        try (Model model = modelOptions.load(); WorkerPool pool = new WorkerPool(modelOptions.threadCount())) {
            AgentRuntime rt = new AgentRuntime(model, pool, Math.min(512, model.config().contextLength()));
            var templates = w.agents(agents, model.tokenizer(), stories, prefixTokens);
            var pipeline = new AgentPipeline(rt, templates, AgentPipeline.mode(mode, rt, new KvcommConfig(0.3, 20, 5, 1.0, 0.9), 0.15));
            var out = spec.commandLine().getOut();
            int nq = queries != null ? queries : input != null ? 1 : 3;
            if (nq < 1) throw new IllegalArgumentException("--queries must be >= 1, got " + nq);
            out.printf(Locale.ROOT, "%s, workload %s, %d agents, %d rounds, %d queries, mode %s%n", model.name(),
                    w.name().toLowerCase(Locale.ROOT), agents, rounds, nq, mode);
            long tokens = 0, recomputed = 0;
            for (int q = 0; q < nq; q++) {
                String in = input != null ? input : w.input(q, model.tokenizer(), stories, 96);
                out.printf(Locale.ROOT, "%nquery %d: %s%n", q + 1, in);
                for (AgentPipeline.Turn t : pipeline.run(in, rounds, maxTokens)) {
                    out.printf(Locale.ROOT, "[round %d] %s (prompt %d tokens, %.0f%% reused%s, TTFT %.1f ms): %s%n", t.round() + 1, t.agent(),
                            t.promptTokens(), 100 * t.reuseRate(), t.densePrefill() ? ", dense" : "", t.ttftMs(), t.response());
                    tokens += t.promptTokens();
                    recomputed += t.recomputedTokens();
                }
            }
            out.printf(Locale.ROOT, "%nreuse rate over the run: %.1f%% of %d prompt tokens%n", 100.0 * (tokens - recomputed) / tokens, tokens);
            out.flush();
        }
        return 0;
    }
}
