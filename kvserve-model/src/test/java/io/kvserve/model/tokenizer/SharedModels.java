package io.kvserve.model.tokenizer;

import io.kvserve.model.gguf.GgufFile;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Locates the shared test assets ({@code ../shared/models} from the repository root). A missing file
 * fails the test under CI ({@code CI=true}) and skips it elsewhere.
 */
final class SharedModels {
    private static final Map<String, Tokenizer> GGUF_TOKENIZERS = new ConcurrentHashMap<>();

    private SharedModels() {}

    static Path sharedRoot() {
        String env = System.getenv("KVSERVE_SHARED");
        if (env != null && !env.isBlank()) return Path.of(env);
        Path cwd = Path.of("").toAbsolutePath();
        for (Path p : new Path[] {cwd.resolve("../shared"), cwd.resolve("../../shared")}) {
            if (Files.isDirectory(p)) return p.normalize();
        }
        return cwd.resolve("../../shared").normalize();
    }

    /** {@code models/<relative>} in the shared folder; fails under CI and skips otherwise when it is missing. */
    static Path model(String relative) {
        Path p = sharedRoot().resolve("models").resolve(relative);
        if (!Files.isRegularFile(p)) {
            String msg = "test asset " + p + " is missing (set KVSERVE_SHARED to the shared folder that holds models/, see models/PROVENANCE.md)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) Assertions.fail(msg);
            Assumptions.abort(msg);
        }
        return p;
    }

    /** The tokenizer of a shared GGUF file, loaded once per test run. */
    static Tokenizer gguf(String relative) {
        Path p = model(relative);
        return GGUF_TOKENIZERS.computeIfAbsent(relative, r -> {
            try (GgufFile f = GgufFile.open(p)) {
                return Tokenizer.fromGguf(f);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
