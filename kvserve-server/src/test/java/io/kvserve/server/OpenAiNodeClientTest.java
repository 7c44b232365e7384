package io.kvserve.server;

import io.kvserve.model.Model;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The official {@code openai} npm client (installed by {@code npm ci} in src/test/js, which .ci/run
 * does) drives chat, completions, streaming, errors and cancellation against a real server.
 */
class OpenAiNodeClientTest {
    static final Path JS = Path.of("src/test/js").toAbsolutePath();

    @Test
    void theOfficialOpenAiClientWorks() throws Exception {
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI"));
        if (!Files.isDirectory(JS.resolve("node_modules/openai"))) {
            String msg = "the openai npm package is not installed: run `npm ci` in " + JS;
            if (ci) throw new AssertionError(msg);
            Assumptions.abort(msg);
        }
        try (Model model = TestServer.model();
             OpenAiServer server = TestServer.start(model, ServerConfig.local("stories260K").withApiKey("sk-node"))) {
            ProcessBuilder pb = new ProcessBuilder("node", "openai-client.mjs").directory(JS.toFile()).redirectErrorStream(true);
            pb.environment().put("KVSERVE_BASE_URL", server.baseUri() + "/v1");
            pb.environment().put("KVSERVE_API_KEY", "sk-node");
            pb.environment().put("KVSERVE_MODEL", "stories260K");
            Process p = pb.start();
            boolean ended = p.waitFor(120, TimeUnit.SECONDS);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!ended) p.destroyForcibly();
            assertThat(ended).as("node finished in 120 s: " + out).isTrue();
            assertThat(p.exitValue()).as(out).isZero();
            assertThat(out).contains("\"ok\":true");
            // the aborted stream was cancelled and freed its pages
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (server.engineStats().running() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
            assertThat(server.engineStats().running()).isZero();
            assertThat(server.engineStats().pagesUsed()).isEqualTo(server.engineStats().prefixCachePages());
        }
    }
}
