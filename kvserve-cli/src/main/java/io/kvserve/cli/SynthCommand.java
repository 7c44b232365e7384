package io.kvserve.cli;

import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufWriter;
import io.kvserve.model.synth.ModelShape;
import io.kvserve.model.synth.ModelSynthesizer;
import io.kvserve.model.synth.QuantRecipe;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kvserve synth}: a llama.cpp-compatible GGUF model with random weights, for tests and benchmarks. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {"Write a GGUF model with random weights (N(0, 0.02), norms 1) in the layout llama.cpp loads.",
                "Give a named --shape (optionally with --layers/--context), or explicit --dim --layers --heads --ffn."})
public final class SynthCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--shape", paramLabel = "NAME", description = "A named shape: llama-3.2-1b, smollm2-135m, qwen2.5-0.5b, qwen3-0.6b, tinyllama-1.1b, mistral-7b.")
    String shape;

    @Option(names = "--type", paramLabel = "TYPE", defaultValue = "f16", description = "f32, f16, bf16, q8_0, q4_0, q4_1, q4_k (q4_k_m), q5_k (q5_k_m), q6_k (default ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--vocab", required = true, paramLabel = "VOCAB.gguf", description = "GGUF whose tokenizer.* metadata is copied; it sets the vocabulary size.")
    Path vocab;

    @Option(names = "--out", required = true, paramLabel = "FILE.gguf", description = "The file to write.")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--force", description = "Overwrite --out if it exists.")
    boolean force;

    @Option(names = "--threads", paramLabel = "N", description = "Encoding threads (default: all processors).")
    Integer threads;

    @Option(names = "--layers", paramLabel = "N", description = "Number of blocks (overrides the named shape's).")
    Integer layers;

    @Option(names = "--context", paramLabel = "N", description = "Context length written to the metadata (default: the shape's, 2048 for explicit dims).")
    Integer context;

    @Option(names = "--tied", negatable = true, description = "Share the token embedding as the output projection (default: the shape's; tied for explicit dims).")
    Boolean tied;

    @Option(names = "--arch", paramLabel = "ARCH", description = "With explicit dims: llama (default), qwen2 (q/k/v biases) or qwen3 (q/k norms).")
    String arch;

    @Option(names = "--dim", paramLabel = "N", description = "Embedding length.")
    Integer dim;

    @Option(names = "--heads", paramLabel = "N", description = "Query heads.")
    Integer heads;

    @Option(names = "--kv-heads", paramLabel = "N", description = "Key/value heads (default: --heads).")
    Integer kvHeads;

    @Option(names = "--head-dim", paramLabel = "N", description = "Per-head size (default: dim / heads).")
    Integer headDim;

    @Option(names = "--ffn", paramLabel = "N", description = "Feed-forward hidden size.")
    Integer ffn;

    @Option(names = "--quiet", description = "No progress output.")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        ModelShape s = resolveShape();
        QuantRecipe recipe = QuantRecipe.parse(type);
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (nThreads < 1) throw new IllegalArgumentException("--threads must be at least 1, got " + nThreads);
        if (Files.isDirectory(out)) throw new IllegalArgumentException("--out " + out + " is a directory");
        if (Files.exists(out) && !force) throw new FileAlreadyExistsException(out.toString(), null, "exists; pass --force to overwrite it");

        GgufWriter w;
        try (GgufFile v = GgufFile.open(vocab)) {
            w = ModelSynthesizer.writer(s, recipe, v, seed);
        }
        w.threads(nThreads);
        long bytes = w.dataBytes();
        Path dir = out.toAbsolutePath().getParent();
        long free = Files.getFileStore(dir).getUsableSpace();
        if (free < bytes + (64L << 20)) {
            throw new IOException(String.format(Locale.ROOT, "%s needs about %s but only %s is free in %s",
                    out, InspectCommand.humanBytes(bytes), InspectCommand.humanBytes(free), dir));
        }
        PrintWriter err = spec.commandLine().getErr();
        if (!quiet) {
            err.printf(Locale.ROOT, "synth: %s (%s, %d layers, dim %d) as %s, seed %d, %d threads -> %s (%s)%n",
                    s.name(), s.arch(), s.layers(), s.dim(), recipe.cliName(), seed, nThreads, out, InspectCommand.humanBytes(bytes));
            err.flush();
        }
        long t0 = System.nanoTime();
        w.write(out, quiet ? null : new Progress(err, t0));
        double secs = (System.nanoTime() - t0) / 1e9;
        if (!quiet) {
            try (GgufFile f = GgufFile.open(out)) {
                InspectCommand.Totals totals = InspectCommand.Totals.of(f);
                err.printf(Locale.ROOT, "%nsynth: wrote %s in %.1f s (%.0f MB/s): %d tensors, %s parameters, %s%n",
                        out, secs, f.fileSize() / 1e6 / Math.max(secs, 1e-9), f.tensors().size(),
                        InspectCommand.humanCount(totals.params()), InspectCommand.humanBytes(f.fileSize()));
                for (Map.Entry<io.kvserve.kernels.GgmlType, long[]> e : totals.byType().entrySet()) {
                    err.printf(Locale.ROOT, "  %-6s %4d tensors %s%n", e.getKey(), e.getValue()[0], InspectCommand.humanBytes(e.getValue()[2]));
                }
                err.flush();
            }
        }
        return 0;
    }

    ModelShape resolveShape() {
        if (shape != null) {
            for (Object[] o : new Object[][]{{"--dim", dim}, {"--heads", heads}, {"--kv-heads", kvHeads}, {"--head-dim", headDim}, {"--ffn", ffn}, {"--arch", arch}}) {
                if (o[1] != null) throw new IllegalArgumentException(o[0] + " cannot be combined with --shape (only --layers, --context and --tied override a named shape)");
            }
            ModelShape s = ModelShape.named(shape);
            if (layers != null) s = s.withLayers(layers);
            if (context != null) s = s.withContext(context);
            if (tied != null) s = s.withTied(tied);
            return s;
        }
        if (dim == null || layers == null || heads == null || ffn == null) {
            throw new IllegalArgumentException("give --shape NAME (one of " + String.join(", ", ModelShape.names()) + "), or all of --dim, --layers, --heads and --ffn");
        }
        return ModelShape.custom(arch != null ? arch : "llama", dim, layers, heads, kvHeads != null ? kvHeads : heads, ffn,
                headDim != null ? headDim : 0, context != null ? context : 2048, tied == null || tied);
    }

    /** One line on stderr, rewritten in place on a terminal, or a line per 10% otherwise. */
    private static final class Progress implements GgufWriter.Progress {
        private final PrintWriter err;
        private final long t0;
        private final boolean console = System.console() != null;
        private long lastPrint;
        private int lastDecile = -1;

        Progress(PrintWriter err, long t0) {
            this.err = err;
            this.t0 = t0;
        }

        @Override
        public void update(String tensor, long done, long total) {
            long now = System.nanoTime();
            int decile = total == 0 ? 10 : (int) (done * 10 / total);
            if (console ? now - lastPrint < 200_000_000L && done < total : decile == lastDecile) return;
            lastPrint = now;
            lastDecile = decile;
            double secs = (now - t0) / 1e9;
            double rate = done / 1e6 / Math.max(secs, 1e-9);
            String speed = secs < 0.5 || done == 0 ? "" : String.format(Locale.ROOT, "  %.0f MB/s  eta %.0f s", rate, (total - done) / 1e6 / rate);
            String line = String.format(Locale.ROOT, "  %5.1f%%  %s / %s%s  %s",
                    total == 0 ? 100.0 : 100.0 * done / total, InspectCommand.humanBytes(done), InspectCommand.humanBytes(total), speed, tensor);
            if (console) err.print("\r" + line + "\u001b[K");
            else err.println(line);
            err.flush();
        }
    }
}
