package io.kvserve.model.chat;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/** The shared test assets ({@code ../shared/models}): fail loudly under CI, skip with a message on a developer machine. */
final class SharedTemplates {
    private SharedTemplates() {}

    static Path modelsDir() {
        String env = System.getenv("KVSERVE_SHARED");
        Path dir = (env != null ? Path.of(env) : Path.of("..", "..", "shared")).resolve("models");
        if (!Files.isDirectory(dir.resolve("templates"))) {
            String msg = "shared test models not found at " + dir.toAbsolutePath() + " (set KVSERVE_SHARED to the shared directory)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) fail(msg);
            Assumptions.abort(msg);
        }
        return dir;
    }

    static Path template(String name) {
        return modelsDir().resolve("templates").resolve(name + ".jinja");
    }

    static String read(String name) {
        try {
            return Files.readString(template(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every {@code .jinja} file, by name without the extension. */
    static Stream<String> allTemplateNames() {
        try (Stream<Path> s = Files.list(modelsDir().resolve("templates"))) {
            List<String> names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".jinja"))
                    .map(n -> n.substring(0, n.length() - ".jinja".length())).sorted().toList();
            return names.stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
