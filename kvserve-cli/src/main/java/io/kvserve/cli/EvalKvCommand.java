package io.kvserve.cli;

import io.kvserve.bench.KvFidelityEval;
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

/** {@code kvserve eval kv}: fidelity of KV configurations (press x element type) against none+f16. */
@Command(name = "kv", mixinStandardHelpOptions = true,
        description = "Perplexity, top-1 agreement and KL against none+f16, and measured KV bytes per token, for each CONFIG "
                + "(PRESS+TYPE, e.g. snapkv:ratio=0.5+kivi2, none+q8_0). Prints a table; writes JSON, CSV and a PNG plot.")
public final class EvalKvCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ModelOptions modelOptions;

    @Option(names = "--text", paramLabel = "FILE", description = "text whose blank-line-separated stories are evaluated (default: ../shared/data/tinystories_val.txt beside the repository)")
    Path text;

    @Option(names = "--configs", paramLabel = "CONFIG", arity = "1..*", required = true, description = "configurations PRESS+TYPE; none+f16 is the reference and always runs first")
    List<String> configs = new ArrayList<>();

    @Option(names = "--json", paramLabel = "FILE", required = true, description = "results as a JSON array")
    Path json;

    @Option(names = "--csv", paramLabel = "FILE", description = "results as CSV (default: the JSON path with .csv)")
    Path csv;

    @Option(names = "--plot", paramLabel = "FILE", description = "PNG plot of fidelity against compression (default: the JSON path with .png)")
    Path plot;

    @Option(names = "--stories", paramLabel = "N", description = "stories evaluated (default: 40)")
    int stories = 40;

    @Option(names = "--min-tokens", paramLabel = "N", description = "shortest story in tokens (default: 96)")
    int minTokens = 96;

    @Option(names = "--max-tokens", paramLabel = "N", description = "stories are cut to this many tokens (default: 512)")
    int maxTokens = 512;

    @Option(names = "--context-fraction", paramLabel = "F", description = "share of each story used as context (default: 0.5)")
    double contextFraction = 0.5;

    @Option(names = "--page-tokens", paramLabel = "N", description = "tokens per row page of the paged cache (default: 16)")
    int pageTokens = 16;

    @Option(names = "--window", paramLabel = "N", description = "packed-window mode: the stories tokenized in order (BOS each), concatenated, "
            + "cut into consecutive windows of N tokens (at most the model's context), as llama2.c trains; --stories, --min-tokens and --max-tokens then do not apply; 0 = one story at a time (default: 0)")
    int window = 0;

    @Option(names = "--windows", paramLabel = "K", description = "windows evaluated in packed-window mode (default: 8)")
    int windows = 8;

    @Override
    public Integer call() throws Exception {
        var o = new KvFidelityEval.Options(stories, minTokens, maxTokens, contextFraction, pageTokens);
        List<KvFidelityEval.Config> parsed = new ArrayList<>();
        for (String c : configs) parsed.add(KvFidelityEval.Config.parse(c));
        Path textPath = text != null ? text : defaultText();
        if (!Files.exists(textPath)) throw new NoSuchFileException(textPath.toString(), null, "give --text FILE");
        String body = Files.readString(textPath);
        try (Model model = modelOptions.load()) {
            if (window < 0) throw new IllegalArgumentException("--window must be >= 0 (0 = per-story mode), got " + window);
            var st = window > 0 ? KvFidelityEval.windows(model, body, window, windows, contextFraction) : KvFidelityEval.stories(model, body, o);
            parsed = CalibrateEliteKvCommand.calibrateOnTheFly(model, body, o, parsed, System.err);
            parsed = KvFidelityEval.fitLess(model, body, st, parsed, o, System.err);
            String what = window > 0 ? st.size() + " windows of " + window + " tokens" : st.size() + " stories";
            System.err.printf("kvserve eval kv: %s, %s from %s, %d configurations%n", model.name(), what, textPath, parsed.size());
            var results = KvFidelityEval.run(model, st, parsed, o, System.err, window);
            var out = spec.commandLine().getOut();
            out.print(KvFidelityEval.table(results));
            out.flush();
            KvFidelityEval.writeJson(results, json);
            String base = json.toString().endsWith(".json") ? json.toString().substring(0, json.toString().length() - 5) : json.toString();
            KvFidelityEval.writeCsv(results, csv != null ? csv : Path.of(base + ".csv"));
            KvFidelityEval.writePlot(results, plot != null ? plot : Path.of(base + ".png"),
                    "KV fidelity vs compression: " + model.name() + ", " + what);
        }
        return 0;
    }

    private static Path defaultText() {
        String home = System.getProperty("kvserve.home");
        Path root = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        return root.resolve("../shared/data/tinystories_val.txt").normalize();
    }
}
