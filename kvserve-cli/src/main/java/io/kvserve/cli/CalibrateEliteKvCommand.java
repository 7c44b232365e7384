package io.kvserve.cli;

import io.kvserve.bench.KvFidelityEval;
import io.kvserve.kvcache.elitekv.EliteKvCalibrator;
import io.kvserve.kvcache.elitekv.EliteKvProfile;
import io.kvserve.kvcache.press.EliteKvPress;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code kvserve calibrate elitekv}: RoPElite rankings and J-LRD moments of a model, written as an EliteKV profile. */
@Command(name = "elitekv", mixinStandardHelpOptions = true,
        description = "Runs the model over calibration stories and writes the EliteKV profile (per KV head: RoPElite's order of the "
                + "rotation pairs, and the second moments of [unrotated key ; value] for the joint low-rank projection). "
                + "Use it as --kv-press elitekv:elite=E,rank=R,profile=FILE.")
public final class CalibrateEliteKvCommand implements Callable<Integer> {
    /** Stories at the start of the text left out of calibration by default, so evaluations on them stay out of sample. */
    static final int DEFAULT_SKIP = 200;
    static final int DEFAULT_STORIES = 16;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--text", paramLabel = "FILE", description = "calibration text, blank-line-separated stories (default: ../shared/data/tinystories_val.txt beside the repository)")
    Path text;

    @Option(names = "--out", paramLabel = "FILE", required = true, description = "profile file to write")
    Path out;

    @Option(names = "--skip", paramLabel = "N", description = "stories at the start of the text not used, so that `eval kv` on them stays out of sample (default: " + DEFAULT_SKIP + ")")
    int skip = DEFAULT_SKIP;

    @Option(names = "--stories", paramLabel = "N", description = "calibration stories (default: " + DEFAULT_STORIES + ")")
    int stories = DEFAULT_STORIES;

    @Option(names = "--min-tokens", paramLabel = "N", description = "shortest story in tokens (default: 96)")
    int minTokens = 96;

    @Option(names = "--max-tokens", paramLabel = "N", description = "stories are cut to this many tokens (default: 512)")
    int maxTokens = 512;

    @Override
    public Integer call() throws Exception {
        if (stories < 1) throw new IllegalArgumentException("--stories must be >= 1, got " + stories);
        if (skip < 0) throw new IllegalArgumentException("--skip must be >= 0, got " + skip);
        if (minTokens < 2 || maxTokens < minTokens) throw new IllegalArgumentException("need 2 <= --min-tokens <= --max-tokens, got " + minTokens + " and " + maxTokens);
        Path textPath = text != null ? text : defaultText();
        if (!Files.exists(textPath)) throw new NoSuchFileException(textPath.toString(), null, "give --text FILE");
        String body = Files.readString(textPath);
        try (Model model = modelOptions.load()) {
            EliteKvProfile p = calibrate(model, body, skip, stories, minTokens, maxTokens, System.err);
            p.write(out);
            System.err.printf("kvserve calibrate elitekv: wrote %s (%s)%n", out, p);
        }
        return 0;
    }

    static EliteKvProfile calibrate(Model model, String text, int skip, int count, int minTokens, int maxTokens, PrintStream log) {
        int limit = Math.min(maxTokens, model.config().contextLength());
        List<int[]> seqs = EliteKvCalibrator.stories(model.tokenizer(), text, skip, count, minTokens, limit);
        log.printf("kvserve calibrate elitekv: %s, %d stories (%d tokens) after the first %d%n", model.name(), seqs.size(),
                seqs.stream().mapToInt(s -> s.length).sum(), skip);
        var fp = model.newForwardPass(Math.min(512, limit), WorkerPool.shared());
        EliteKvProfile p = EliteKvCalibrator.calibrate(fp, seqs, null);
        int d = p.headDim();
        for (int l = 0; l < p.layers(); l++) {
            for (int h = 0; h < p.kvHeads(); h++) {
                log.printf(Locale.ROOT, "  layer %d KV head %d: RoPElite order %s, energy of [k_nope ; v] kept at rank %d/%d/%d with 1 elite pair: %.3f/%.3f/%.3f%n",
                        l, h, Arrays.toString(p.ranking()[l][h]), d - 2, d / 2, d / 4,
                        p.energyKept(l, h, 1, d - 2), p.energyKept(l, h, 1, d / 2), p.energyKept(l, h, 1, Math.max(1, d / 4)));
            }
        }
        return p;
    }

    /**
     * {@code configs} with every EliteKV press that has no profile calibrated on the fly, on the
     * stories of {@code text} after the {@code evaluated} ones (so calibration is out of sample).
     */
    static List<KvFidelityEval.Config> calibrateOnTheFly(Model model, String text, KvFidelityEval.Options o, List<KvFidelityEval.Config> configs, PrintStream log) {
        EliteKvProfile[] once = new EliteKvProfile[1];
        List<KvFidelityEval.Config> r = new ArrayList<>();
        for (KvFidelityEval.Config c : configs) {
            var press = EliteKvPress.calibrateIfNeeded(c.press(), () -> {
                if (once[0] == null) {
                    log.printf("kvserve eval kv: calibrating EliteKV on %d stories after the %d evaluated (write a profile with `kvserve calibrate elitekv` to skip this)%n",
                            DEFAULT_STORIES, o.stories());
                    once[0] = calibrate(model, text, o.stories(), DEFAULT_STORIES, o.minTokens(), o.maxTokens(), log);
                }
                return once[0];
            });
            r.add(press == c.press() ? c : new KvFidelityEval.Config(c.name(), press, c.storage()));
        }
        return r;
    }

    private static Path defaultText() {
        String home = System.getProperty("kvserve.home");
        Path root = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        return root.resolve("../shared/data/tinystories_val.txt").normalize();
    }
}
