package io.kvserve.engine;

import io.kvserve.model.sampling.SamplerConfig;

import java.util.List;
import java.util.Objects;

/**
 * One generation: prompt tokens in, up to {@code maxTokens} tokens out.
 *
 * @param prompt       the prompt token ids (BOS and chat template already applied), at least one
 * @param sampling     the sampler chain; its seed is used as given
 * @param maxTokens    tokens to generate at most, {@code >= 1}
 * @param stop         stop strings; the text up to the first is emitted, the stop string is not
 * @param ignoreEos    keep generating after an end-of-generation token
 * @param topLogprobs  -1: no log-probabilities; n >= 0: the chosen token's and the n most likely
 * @param priority     lower is served first (vLLM's convention); 0 by default
 * @param tenant       salt of the prefix cache: prefixes are only shared within one tenant
 * @param kvPress      the KV press compressing this sequence, a {@code PressRegistry} spec ({@code none} for none), or
 *                     null for the engine's default ({@link Engine#defaultPress}); needs the paged cache
 */
public record EngineRequest(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, boolean ignoreEos,
                            int topLogprobs, int priority, String tenant, String kvPress) {
    /** A request with the engine's default press. */
    public EngineRequest(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, boolean ignoreEos,
                         int topLogprobs, int priority, String tenant) {
        this(prompt, sampling, maxTokens, stop, ignoreEos, topLogprobs, priority, tenant, null);
    }

    public EngineRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampling, "sampling");
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty: give at least one token");
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        if (topLogprobs < -1 || topLogprobs > 20) throw new IllegalArgumentException("topLogprobs must be in [0, 20] (or -1 for none), got " + topLogprobs);
        stop = List.copyOf(stop == null ? List.of() : stop);
        for (String s : stop) if (s.isEmpty()) throw new IllegalArgumentException("stop strings must be non-empty");
        tenant = tenant == null ? "" : tenant;
        prompt = prompt.clone();
    }

    /** A greedy request without stop strings or log-probabilities. */
    public static EngineRequest greedy(int[] prompt, int maxTokens) {
        return new EngineRequest(prompt, SamplerConfig.greedy(), maxTokens, List.of(), false, -1, 0, "");
    }

    public EngineRequest withPriority(int p) {
        return new EngineRequest(prompt, sampling, maxTokens, stop, ignoreEos, topLogprobs, p, tenant, kvPress);
    }

    public EngineRequest withTenant(String t) {
        return new EngineRequest(prompt, sampling, maxTokens, stop, ignoreEos, topLogprobs, priority, t, kvPress);
    }

    /** This request compressed by the press {@code spec} ({@code none}: uncompressed even if the engine has a default). */
    public EngineRequest withKvPress(String spec) {
        return new EngineRequest(prompt, sampling, maxTokens, stop, ignoreEos, topLogprobs, priority, tenant, spec);
    }
}
