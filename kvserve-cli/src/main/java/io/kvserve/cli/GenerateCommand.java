package io.kvserve.cli;

import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
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

import java.util.concurrent.Callable;

/** {@code kvserve generate}: the prompt followed by the generated text on stdout, statistics on stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt; streams tokens to stdout, prints speed to stderr.")
public final class GenerateCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ModelOptions modelOptions;
    @Mixin SamplingOptions sampling;
    @Mixin KvOptions kvOptions;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "prompt text (default: \"Once upon a time\")")
    String prompt = "Once upon a time";

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "tokens to generate at most (default: 256)")
    int maxTokens = 256;

    @Option(names = "--ctx", paramLabel = "N", description = "context window in tokens (default: the model's, at most 4096)")
    Integer ctx;

    @Option(names = "--batch", paramLabel = "N", description = "prefill micro-batch in tokens (default: 256)")
    int batch = 256;

    @Option(names = "--no-bos", description = "do not add the BOS token")
    boolean noBos;

    @Override
    public Integer call() throws Exception {
        if (maxTokens < 0) throw new IllegalArgumentException("--max-tokens must be >= 0, got " + maxTokens);
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        java.io.PrintWriter out = spec.commandLine().getOut();
        kvOptions.validate();
        try (Model model = modelOptions.load()) {
            Tokenizer tok = model.tokenizer();
            int context = Math.min(ctx != null ? ctx : Math.min(model.config().contextLength(), 4096), model.config().contextLength());
            if (context < 1) throw new IllegalArgumentException("--ctx must be >= 1");
            int[] ids = tok.encode(prompt, tok.addBosByDefault() && !noBos, true);
            if (ids.length > context) throw new io.kvserve.model.generate.PromptTooLongException(ids.length, context);
            TokenChooser chooser = sampling.chooser(tok);
            StopStringMatcher stop = new StopStringMatcher(sampling.stop);
            StreamingDecoder dec = tok.newStreamingDecoder();
            // echo the prompt as given; the decoder still sees its tokens (llama2.c drops the space after BOS)
            for (int id : ids) dec.feed(id);
            out.print(prompt);
            out.flush();
            Generator gen = new Generator(model, Math.min(batch, context), WorkerPool.shared());
            GenerationStats s;
            try (KvCache cache = kvOptions.newCache(model, context)) {
                s = gen.generate(cache, ids, Math.min(maxTokens, context - ids.length), chooser, id -> {
                    String emitted = stop.feed(dec.feed(id)).emit();
                    out.print(emitted);
                    out.flush();
                    return !stop.stopped();
                }, null);
            }
            out.print(stop.feed(dec.flush()).emit() + stop.flush());
            out.println();
            out.flush();
            System.err.printf("%nkvserve: %s | prompt %d tokens in %.1f ms (%.1f tok/s) | generated %d tokens, decode %.1f tok/s | TTFT %.1f ms | stop: %s | kernels %s, %d threads%n",
                    model.name(), s.promptTokens(), s.prefillNanos() / 1e6, s.promptTokensPerSecond(), s.generatedTokens(),
                    s.decodeTokensPerSecond(), s.timeToFirstTokenNanos() / 1e6, s.stopReason().name().toLowerCase(),
                    io.kvserve.kernels.Kernels.impl().name(), WorkerPool.shared().threads());
        }
        return 0;
    }
}
