package io.kvserve.router.fleet;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/** A tiny OpenAI-style backend on 127.0.0.1 for router tests: answers with its name, optionally slowly or streamed. */
final class StubBackend implements AutoCloseable {
    final String name;
    final HttpServer server;
    final AtomicInteger served = new AtomicInteger();
    volatile long delayMs;

    StubBackend(String name, long delayMs) throws IOException {
        this.name = name;
        this.delayMs = delayMs;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/models", ex -> {
            byte[] b = "{\"object\":\"list\",\"data\":[]}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.createContext("/v1/chat/completions", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            try {
                Thread.sleep(this.delayMs);
            } catch (InterruptedException e) {
                return;
            }
            String model = body.replaceAll("(?s).*\"model\"\\s*:\\s*\"([^\"]*)\".*", "$1");
            if (body.contains("\"stream\":true")) {
                ex.getResponseHeaders().set("Content-Type", "text/event-stream");
                ex.sendResponseHeaders(200, 0);
                try (OutputStream out = ex.getResponseBody()) {
                    for (int i = 0; i < 3; i++) {
                        out.write(("data: {\"choices\":[{\"delta\":{\"content\":\"tok" + i + "\"}}]}\n\n").getBytes(StandardCharsets.UTF_8));
                        out.flush();
                    }
                    out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
                }
            } else {
                byte[] b = ("{\"object\":\"chat.completion\",\"model\":\"" + model + "\",\"backend\":\"" + name
                        + "\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi from " + name + "\"}}]}").getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "application/json");
                ex.sendResponseHeaders(200, b.length);
                ex.getResponseBody().write(b);
            }
            served.incrementAndGet();
            ex.close();
        });
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
