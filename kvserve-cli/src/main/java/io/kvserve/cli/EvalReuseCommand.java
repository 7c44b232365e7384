package io.kvserve.cli;

import io.kvserve.bench.ReuseFidelityEval;
import io.kvserve.kvcache.reuse.KvShare;
import io.kvserve.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code kvserve eval reuse}: non-prefix KV reuse (KVShare, CacheBlend-style, naive) against dense prefill. */
@Command(name = "reuse", mixinStandardHelpOptions = true,
        description = "A text segment cached after one prefix is reused after another: reuse rate, compute share, top-1 agreement "
                + "of the dense run's greedy tokens and KL against dense prefill for each CONFIG (kvshare:ratio=0.2,decode=3, "
                + "cacheblend:ratio=0.15, naive), and optionally TTFT against dense prefill on --timing-model.")
public final class EvalReuseCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ModelOptions modelOptions;

    @Option(names = "--text", paramLabel = "FILE", description = "text whose blank-line-separated paragraphs give segments and prefixes (default: ../shared/data/tinystories_val.txt beside the repository)")
    Path text;

    @Option(names = "--configs", paramLabel = "CONFIG", arity = "1..*", required = true, description = "reuse configurations: kvshare[:ratio=R,decode=N,check=L,select=dhd|key|none], cacheblend[:ratio=R], naive")
    List<String> configs = new ArrayList<>();

    @Option(names = "--json", paramLabel = "FILE", description = "results as a JSON array")
    Path json;

    @Option(names = "--trials", paramLabel = "N", description = "requests evaluated (default: 10)")
    int trials = 10;

    @Option(names = "--prefix-tokens", paramLabel = "N", description = "tokens of the prefix the segment was cached after (the new prefix has 7 more; default: 48)")
    int prefixTokens = 48;

    @Option(names = "--segment-tokens", paramLabel = "N", description = "tokens of the reused segment (default: 128)")
    int segmentTokens = 128;

    @Option(names = "--suffix-tokens", paramLabel = "N", description = "new tokens after the segment (default: 16)")
    int suffixTokens = 16;

    @Option(names = "--greedy-tokens", paramLabel = "N", description = "greedy tokens of the dense run compared (default: 64)")
    int greedyTokens = 64;

    @Option(names = "--min-fragment", paramLabel = "N", description = "shortest reused fragment in tokens (default: 16)")
    int minFragment = 16;

    @Option(names = "--timing-model", paramLabel = "PATH", description = "model whose TTFT is measured for each configuration against dense prefill")
    Path timingModel;

    @Option(names = "--timing-segment-tokens", paramLabel = "N", description = "segment tokens of the timing request (default: --segment-tokens)")
    Integer timingSegmentTokens;

    @Option(names = "--timing-repeats", paramLabel = "N", description = "TTFT measurements per configuration, the fastest kept (default: 2)")
    int timingRepeats = 2;

    @Override
    public Integer call() throws Exception {
        var o = new ReuseFidelityEval.Options(trials, prefixTokens, segmentTokens, suffixTokens, greedyTokens, minFragment);
        for (String c : configs) KvShare.parse(c);      // fail on a bad spec before loading anything
        if (timingRepeats < 1) throw new IllegalArgumentException("--timing-repeats must be >= 1, got " + timingRepeats);
        if (timingModel != null && !Files.exists(timingModel)) throw new NoSuchFileException(timingModel.toString(), null, "the --timing-model file does not exist");
        Path textPath = text != null ? text : defaultText();
        if (!Files.exists(textPath)) throw new NoSuchFileException(textPath.toString(), null, "give --text FILE");
        String body = Files.readString(textPath);
        List<ReuseFidelityEval.Result> results;
        try (Model model = modelOptions.load()) {
            var trialList = ReuseFidelityEval.trials(model, body, o);
            System.err.printf("kvserve eval reuse: %s, %d trials from %s, %d configurations%n", model.name(), trialList.size(), textPath, configs.size());
            results = ReuseFidelityEval.run(model, trialList, configs, o, System.err);
        }
        if (timingModel != null) {
            var t = new ReuseFidelityEval.Options(1, prefixTokens, timingSegmentTokens != null ? timingSegmentTokens : segmentTokens, suffixTokens, 1, minFragment);
            try (Model timing = Model.load(timingModel, null)) {
                results = ReuseFidelityEval.timeToFirstToken(timing, body, t, results, timingRepeats, System.err);
            }
        }
        var out = spec.commandLine().getOut();
        out.print(ReuseFidelityEval.table(results));
        out.flush();
        if (json != null) ReuseFidelityEval.writeJson(results, json);
        return 0;
    }

    private static Path defaultText() {
        String home = System.getProperty("kvserve.home");
        Path root = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        return root.resolve("../shared/data/tinystories_val.txt").normalize();
    }
}
