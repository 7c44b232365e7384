package io.kvserve.model;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the shared test assets ({@code ../shared} beside the repository). Under CI ({@code CI=true})
 * a missing asset fails the test loudly; on a developer's machine the test is skipped with a message.
 */
public final class TestAssets {
    private TestAssets() {}

    public static Path shared() {
        String env = System.getenv("KVSERVE_SHARED");
        if (env != null && Files.isDirectory(Path.of(env))) return Path.of(env);
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path c = p.resolve("../shared").normalize();
            if (Files.isDirectory(c.resolve("models"))) return c;
            Path d = p.resolve("shared");
            if (Files.isDirectory(d.resolve("models"))) return d;
        }
        return Path.of("../shared");
    }

    /** A file under the shared folder, e.g. {@code models/stories260K.gguf}. */
    public static Path require(String relative) {
        Path p = shared().resolve(relative);
        if (!Files.exists(p)) {
            String msg = "shared test asset " + p + " is missing (expected ../shared/" + relative + " beside the repository)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) throw new AssertionError(msg);
            Assumptions.abort(msg);
        }
        return p;
    }
}
