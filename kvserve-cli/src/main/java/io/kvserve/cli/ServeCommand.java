package io.kvserve.cli;

import io.kvserve.model.Model;
import io.kvserve.server.OpenAiServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code kvserve serve}: the OpenAI-compatible server until SIGTERM / Ctrl-C, which drains running requests. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models),",
                "with /health, /ready and /metrics (Prometheus). SIGTERM drains running requests, then exits."})
public final class ServeCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin ServingOptions serving;

    @Option(names = "--host", paramLabel = "ADDR", description = "address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    String host = "127.0.0.1";

    @Option(names = {"-p", "--port"}, paramLabel = "PORT", description = "port (default: 8080; 0 picks a free one)")
    int port = 8080;

    @Override
    public Integer call() throws Exception {
        Model model = modelOptions.load();
        OpenAiServer server = serving.build(model, host, port).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("kvserve serve: draining...");
            try {
                server.shutdown();
                model.close();
            } catch (Exception e) {
                System.err.println("kvserve serve: shutdown: " + e);
            }
            stopped.countDown();
        }));
        System.err.printf("kvserve serve: %s as '%s' on %s/v1 (%d threads, scheduler %s, %d running at most%s)%n", model.name(),
                serving.servedModelName != null ? serving.servedModelName : ServingOptions.defaultModelName(model), server.baseUri(),
                modelOptions.threadCount(), serving.scheduler, serving.maxRunning, serving.kvPress != null ? ", default KV press " + serving.kvPress : "");
        stopped.await();
        return 0;
    }
}
