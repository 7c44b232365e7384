package io.kvserve.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.bench.EndToEndBenchmark;
import io.kvserve.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code kvserve bench}: prompt and decode speed, time to first token and peak memory of one model. */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = {BenchServeCommand.class, BenchPrefixCommand.class, BenchAgentsCommand.class},
        description = {"Measure prompt processing (128 and 512 tokens), decode (64 tokens), TTFT and peak memory.",
                "`kvserve bench serve` measures the server under 1, 2, 4, 8 and 16 concurrent streams;",
                "`kvserve bench prefix` the page-level prefix cache on a shared system prompt."})
public final class BenchCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin KvOptions kvOptions;

    @Option(names = "--json", paramLabel = "FILE", description = "also write the results as JSON")
    Path json;

    @Option(names = "--batch", paramLabel = "N", description = "prefill micro-batch (default: 512)")
    int batch = 512;

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", description = "repetitions; the best is reported (default: 3)")
    int repetitions = 3;

    @Override
    public Integer call() throws Exception {
        if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1");
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1");
        kvOptions.validate();
        long t0 = System.nanoTime();
        try (Model model = modelOptions.load()) {
            System.err.printf("kvserve bench: loaded %s in %.1f s%n", model.name(), (System.nanoTime() - t0) / 1e9);
            EndToEndBenchmark.Result r = EndToEndBenchmark.run(model, modelOptions.threadCount(), batch, repetitions,
                    step -> System.err.println("kvserve bench: " + step), ctx -> kvOptions.newCache(model, ctx));
            System.out.printf("%-28s %10s %10s %10s %10s %10s %10s%n", "model", "kernels", "pp128 t/s", "pp512 t/s", "tg64 t/s", "ttft ms", "rss MiB");
            System.out.printf("%-28s %10s %10.1f %10.1f %10.2f %10.1f %10.0f%n", r.model(), r.kernels(), r.promptTps128(), r.promptTps512(),
                    r.decodeTps(), r.ttftMs(), r.peakRssMb());
            if (json != null) {
                new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                        .enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), r);
            }
        }
        return 0;
    }
}
