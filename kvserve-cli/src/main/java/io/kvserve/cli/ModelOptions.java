package io.kvserve.cli;

import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** Options shared by every command that loads a model. */
public final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "PATH",
            description = "GGUF file or llama2.c .bin checkpoint (default: $KVSERVE_MODEL, else ../shared/models/stories260K.gguf beside the repository)")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer file (default: tok<vocab>.bin or tokenizer.bin beside a .bin checkpoint)")
    Path tokenizer;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "worker threads (default: all cores)")
    Integer threads;

    public Path modelPath() {
        if (model != null) return model;
        String env = System.getenv("KVSERVE_MODEL");
        if (env != null && !env.isBlank()) return Path.of(env);
        String home = System.getProperty("kvserve.home");
        Path root = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        return root.resolve("../shared/models/stories260K.gguf").normalize();
    }

    public int threadCount() {
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (n < 1 || n > 1024) throw new IllegalArgumentException("--threads must be between 1 and 1024, got " + n);
        return n;
    }

    public Model load() throws IOException {
        WorkerPool.setShared(threadCount());
        return Model.load(modelPath(), tokenizer);
    }
}
