package io.kvserve.cli;

import io.kvserve.kvcache.press.PrefixKvCalibration;
import io.kvserve.kvcache.press.PrefixKvProfile;
import io.kvserve.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code kvserve calibrate prefixkv}: PrefixKV's per-layer eviction ratios, written as a profile. */
@Command(name = "prefixkv", mixinStandardHelpOptions = true,
        description = "Runs PrefixKV's global prefix search on calibration stories (taken from the END of --text) and writes "
                + "one eviction ratio per layer for each --ratio; use it as --kv-press prefixkv:profile=FILE,ratio=R.")
public final class CalibratePrefixKvCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ModelOptions modelOptions;

    @Option(names = "--text", paramLabel = "FILE", description = "calibration text, blank-line-separated stories (default: ../shared/data/tinystories_val.txt beside the repository)")
    Path text;

    @Option(names = "--out", paramLabel = "FILE", required = true, description = "the profile (JSON) to write")
    Path out;

    @Option(names = {"--ratio", "--budget"}, paramLabel = "R", split = ",", description = "compression ratios (fraction of tokens evicted), e.g. 0.5,0.75,0.875 (default: 0.5)")
    List<Double> ratios = List.of(0.5);

    @Option(names = "--samples", paramLabel = "N", description = "calibration stories (default: 16)")
    int samples = PrefixKvCalibration.DEFAULT_SAMPLES;

    @Option(names = "--start", paramLabel = "N", description = "leading tokens the press always keeps (default: 1)")
    int start = 1;

    @Option(names = "--min-tokens", paramLabel = "N", description = "shortest story in tokens (default: 96)")
    int minTokens = PrefixKvCalibration.DEFAULT_MIN_TOKENS;

    @Option(names = "--max-tokens", paramLabel = "N", description = "stories are cut to this many tokens (default: 512)")
    int maxTokens = PrefixKvCalibration.DEFAULT_MAX_TOKENS;

    @Option(names = "--context-fraction", paramLabel = "F", description = "share of each story prefilled, as in eval kv (default: 0.5)")
    double contextFraction = PrefixKvCalibration.DEFAULT_CONTEXT_FRACTION;

    @Override
    public Integer call() throws Exception {
        if (samples < 1) throw new IllegalArgumentException("--samples must be >= 1, got " + samples);
        if (start < 0) throw new IllegalArgumentException("--start must be >= 0, got " + start);
        if (minTokens < 4 || maxTokens < minTokens) throw new IllegalArgumentException("need 4 <= --min-tokens <= --max-tokens, got " + minTokens + " and " + maxTokens);
        if (!(contextFraction > 0 && contextFraction < 1)) throw new IllegalArgumentException("--context-fraction must be in (0, 1), got " + contextFraction);
        double[] rs = ratios.stream().mapToDouble(Double::doubleValue).toArray();
        for (double r : rs) if (!(r >= 0 && r < 1)) throw new IllegalArgumentException("--ratio (fraction of tokens evicted) must be in [0, 1), got " + r);
        Path textPath = text != null ? text : PrefixKvCalibration.defaultText();
        if (!Files.exists(textPath)) throw new NoSuchFileException(textPath.toString(), null, "give --text FILE");
        try (Model model = modelOptions.load()) {
            List<int[]> prompts = PrefixKvCalibration.prompts(model, Files.readString(textPath), samples, minTokens, maxTokens, contextFraction, List.of());
            if (prompts.isEmpty()) throw new IllegalArgumentException(textPath + " has no story of at least " + minTokens + " tokens; lower --min-tokens");
            String source = textPath + ": the last " + prompts.size() + " stories of >= " + minTokens + " tokens, first " + contextFraction + " of each";
            PrefixKvProfile profile = PrefixKvCalibration.calibrate(model, prompts, rs, start, source);
            profile.write(out);
            var o = spec.commandLine().getOut();
            o.printf(Locale.ROOT, "kvserve calibrate prefixkv: %s, %d samples -> %s%n", model.name(), prompts.size(), out);
            for (PrefixKvProfile.Entry e : profile.ratios()) {
                StringBuilder b = new StringBuilder();
                for (double d : e.evict()) b.append(String.format(Locale.ROOT, " %.3f", d));
                o.printf(Locale.ROOT, "  ratio %s: evicted per layer%s%n", e.ratio(), b);
            }
            o.flush();
        }
        return 0;
    }
}
