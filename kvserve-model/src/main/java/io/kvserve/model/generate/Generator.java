package io.kvserve.model.generate;

import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.kv.PrefillDriver;
import io.kvserve.model.transformer.ForwardPass;

import java.util.Arrays;
import java.util.function.BooleanSupplier;

/**
 * Generates tokens for one sequence: batched prefill of the prompt in chunks of up to
 * {@code maxBatch} tokens, then one token per decode step, until max tokens, an end-of-generation
 * token, the caller's stop decision or a full context.
 */
public final class Generator {
    /** Receives each generated token; returns false to stop (a stop string matched, or the client left). */
    @FunctionalInterface
    public interface TokenSink {
        boolean accept(int token);
    }

    private final Model model;
    private final ForwardPass pass;

    public Generator(Model model, int maxBatch, WorkerPool pool) {
        this.model = model;
        this.pass = model.newForwardPass(maxBatch, pool);
    }

    public ForwardPass forwardPass() {
        return pass;
    }

    /**
     * Prefills {@code prompt} into a fresh sequence of {@code cache} and generates up to
     * {@code maxTokens} tokens. End-of-generation tokens stop generation and are not passed to the sink.
     */
    public GenerationStats generate(KvCache cache, int[] prompt, int maxTokens, TokenChooser chooser, TokenSink sink,
                                    BooleanSupplier cancelled) {
        int seq = cache.open();
        try {
            return generate(cache, seq, prompt, 0, maxTokens, chooser, sink, cancelled);
        } finally {
            cache.release(seq);
        }
    }

    /**
     * Continues sequence {@code seq}, whose cache already holds the first {@code cached} tokens of
     * {@code prompt} (a multi-turn chat or a shared prefix): only the rest is prefilled. The sequence
     * stays open and afterwards holds the prompt and every generated token but the last.
     */
    public GenerationStats generate(KvCache cache, int seq, int[] prompt, int cached, int maxTokens, TokenChooser chooser,
                                    TokenSink sink, BooleanSupplier cancelled) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty: give at least one token (most models add BOS)");
        int capacity = model.config().contextLength();
        if (prompt.length > capacity) throw new PromptTooLongException(prompt.length, capacity);
        // at least one prompt token must run to produce logits
        int from = Math.max(0, Math.min(cached, Math.min(cache.length(seq), prompt.length - 1)));
        cache.truncate(seq, from);
        int vocab = model.config().vocabSize();
        int[] history = Arrays.copyOf(prompt, prompt.length + Math.max(0, maxTokens));
        int n = prompt.length;
        long t0 = System.nanoTime();
        cache.reserve(seq, prompt.length - from);
        float[] logits = null;
        PrefillDriver driver = cache.prefillDriver();
        if (driver != null) logits = driver.prefill(model, pass, seq, prompt, from);
        else for (int p = from; p < prompt.length; p += pass.maxBatch()) {
            int len = Math.min(pass.maxBatch(), prompt.length - p);
            logits = pass.forward(Batch.ofSequence(seq, prompt, p, len, p, false), cache);
        }
        cache.stepDone(seq);
        long prefill = System.nanoTime() - t0;
        GenerationStats.StopReason reason = GenerationStats.StopReason.MAX_TOKENS;
        int generated = 0;
        long ttft = 0, decodeStart = 0;
        int[] one = new int[1];
        while (generated < maxTokens) {
            if (cancelled != null && cancelled.getAsBoolean()) {
                reason = GenerationStats.StopReason.CANCELLED;
                break;
            }
            int next = chooser.choose(logits, 0, vocab, history, n);
            if (generated == 0) {
                ttft = System.nanoTime() - t0;
                decodeStart = System.nanoTime();
            }
            if (model.tokenizer() != null && model.tokenizer().isEndOfGeneration(next)) {
                reason = GenerationStats.StopReason.END_OF_GENERATION;
                break;
            }
            history[n++] = next;
            generated++;
            if (!sink.accept(next)) {
                reason = GenerationStats.StopReason.STOP_STRING;
                break;
            }
            if (generated == maxTokens) break;
            if (n >= capacity) {
                reason = GenerationStats.StopReason.CONTEXT_FULL;
                break;
            }
            one[0] = next;
            cache.reserve(seq, 1);
            logits = pass.forward(Batch.ofSequence(seq, one, 0, 1, n - 1, false), cache);
            cache.stepDone(seq);
        }
        long decode = generated > 0 ? System.nanoTime() - decodeStart : 0;
        return new GenerationStats(prompt.length - from, generated, prefill, decode, ttft, reason);
    }
}
