package io.kvserve.cli;

import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.chat.ChatMessage;
import io.kvserve.model.chat.ChatTemplate;
import io.kvserve.model.chat.FallbackTemplates;
import io.kvserve.model.generate.GenerationStats;
import io.kvserve.model.generate.Generator;
import io.kvserve.model.generate.TokenChooser;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.sampling.StopStringMatcher;
import io.kvserve.model.tokenizer.StreamingDecoder;
import io.kvserve.model.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code kvserve chat}: an interactive conversation through the model's chat template. Each turn
 * re-renders the conversation and prefills only what the cache does not already hold.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Chat interactively (reads user turns from stdin; /exit or end of input quits, /reset starts over).")
public final class ChatCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin SamplingOptions sampling;
    @Mixin KvOptions kvOptions;

    @Option(names = "--system", paramLabel = "TEXT", description = "system prompt")
    String system;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "tokens per reply at most (default: 512)")
    int maxTokens = 512;

    @Option(names = "--ctx", paramLabel = "N", description = "context window in tokens (default: the model's, at most 4096)")
    Integer ctx;

    @Option(names = "--show-prompt", description = "print the rendered prompt of each turn to stderr")
    boolean showPrompt;

    @Override
    public Integer call() throws Exception {
        if (maxTokens < 1) throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        kvOptions.validate();
        try (Model model = modelOptions.load()) {
            Tokenizer tok = model.tokenizer();
            String bos = tok.bosId() >= 0 ? tok.tokenPiece(tok.bosId()) : "";
            String eos = tok.eosId() >= 0 ? tok.tokenPiece(tok.eosId()) : "";
            ChatTemplate template = model.gguf() != null ? ChatTemplate.fromGguf(model.gguf(), bos, eos)
                    : ChatTemplate.builtIn(FallbackTemplates.Kind.PLAIN, bos, eos);
            int context = Math.min(ctx != null ? ctx : Math.min(model.config().contextLength(), 4096), model.config().contextLength());
            System.err.println("kvserve chat: " + model.name() + " with " + template + "; /exit quits, /reset starts over");
            TokenChooser chooser = sampling.chooser(tok);
            Generator gen = new Generator(model, Math.min(256, context), WorkerPool.shared());
            List<ChatMessage> messages = new ArrayList<>();
            if (system != null) messages.add(ChatMessage.system(system));
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            try (KvCache cache = kvOptions.newCache(model, context)) {
                int seq = cache.open();
                int[] cachedTokens = new int[0];
                while (true) {
                    System.err.print("> ");
                    String line = in.readLine();
                    if (line == null || line.strip().equals("/exit")) break;
                    if (line.strip().equals("/reset")) {
                        messages.removeIf(m -> !m.role().equals("system"));
                        continue;
                    }
                    if (line.isBlank()) continue;
                    messages.add(ChatMessage.user(line));
                    String rendered = template.render(messages, true);
                    if (showPrompt) System.err.println(rendered);
                    boolean addBos = tok.addBosByDefault() && (bos.isEmpty() || !rendered.startsWith(bos));
                    int[] ids = tok.encode(rendered, addBos, true);
                    if (ids.length >= context) {
                        messages.removeLast();
                        System.err.println("kvserve: the conversation has " + ids.length + " tokens, the context holds " + context + ": /reset or raise --ctx");
                        continue;
                    }
                    int common = commonPrefix(cachedTokens, ids);
                    StreamingDecoder dec = tok.newStreamingDecoder();
                    StopStringMatcher stop = new StopStringMatcher(sampling.stop);
                    StringBuilder reply = new StringBuilder();
                    List<Integer> generated = new ArrayList<>();
                    GenerationStats s = gen.generate(cache, seq, ids, common, Math.min(maxTokens, context - ids.length), chooser, id -> {
                        generated.add(id);
                        String piece = stop.feed(dec.feed(id)).emit();
                        reply.append(piece);
                        out.print(piece);
                        out.flush();
                        return !stop.stopped();
                    }, null);
                    String tail = stop.feed(dec.flush()).emit() + stop.flush();
                    reply.append(tail);
                    out.println(tail);
                    messages.add(ChatMessage.assistant(reply.toString().strip()));
                    // the cache now holds the prompt and all generated tokens but the last
                    int[] now = Arrays.copyOf(ids, ids.length + Math.max(0, generated.size() - 1));
                    for (int i = 0; i < generated.size() - 1; i++) now[ids.length + i] = generated.get(i);
                    cachedTokens = now;
                    System.err.printf("[%d new prompt tokens, %.1f tok/s prompt, %d generated, %.1f tok/s]%n", s.promptTokens(),
                            s.promptTokensPerSecond(), s.generatedTokens(), s.decodeTokensPerSecond());
                }
                cache.release(seq);
            }
        }
        return 0;
    }

    static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
