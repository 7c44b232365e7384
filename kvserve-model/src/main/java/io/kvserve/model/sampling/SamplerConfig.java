package io.kvserve.model.sampling;

/**
 * Sampling hyper-parameters, with llama.cpp's meanings and "off" values.
 *
 * @param temperature      divides the logits after filtering; 0 means greedy (argmax). Default 0.8.
 * @param topK             keep the k most likely tokens; 0 turns it off. Default 40.
 * @param topP             keep the smallest set of most likely tokens whose probability reaches p; 1 turns it off. Default 0.95.
 * @param minP             drop tokens whose probability is below minP times the top token's; 0 turns it off. Default 0.05.
 * @param repeatPenalty    divides positive (multiplies negative) logits of tokens seen in the last {@code repeatLastN}; 1 turns it off. Default 1.0.
 * @param repeatLastN      how many recent tokens the penalties look at; 0 turns all penalties off. Default 64.
 * @param frequencyPenalty subtracted once per occurrence in the window (OpenAI {@code frequency_penalty}); 0 turns it off.
 * @param presencePenalty  subtracted once if the token occurs in the window (OpenAI {@code presence_penalty}); 0 turns it off.
 * @param seed             seed for the caller's random generator; the sampler itself only uses the injected generator.
 */
public record SamplerConfig(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
                            float frequencyPenalty, float presencePenalty, long seed) {
    public SamplerConfig {
        if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0f && topP <= 1f)) throw new IllegalArgumentException("topP must be in (0, 1] (1 = off), got " + topP);
        if (!(minP >= 0f && minP <= 1f)) throw new IllegalArgumentException("minP must be in [0, 1] (0 = off), got " + minP);
        if (!(repeatPenalty > 0f) || Float.isInfinite(repeatPenalty)) {
            throw new IllegalArgumentException("repeatPenalty must be a finite number > 0 (1 = off), got " + repeatPenalty);
        }
        if (repeatLastN < 0) throw new IllegalArgumentException("repeatLastN must be >= 0 (0 = no penalties), got " + repeatLastN);
        if (!Float.isFinite(frequencyPenalty)) throw new IllegalArgumentException("frequencyPenalty must be finite, got " + frequencyPenalty);
        if (!Float.isFinite(presencePenalty)) throw new IllegalArgumentException("presencePenalty must be finite, got " + presencePenalty);
    }

    /** Argmax decoding: no randomness, no filters, no penalties. */
    public static SamplerConfig greedy() {
        return new SamplerConfig(0f, 0, 1f, 0f, 1f, 64, 0f, 0f, 0L);
    }

    /** llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalties. */
    public static SamplerConfig defaults(long seed) {
        return new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1f, 64, 0f, 0f, seed);
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }

    public boolean hasPenalties() {
        return repeatLastN > 0 && (repeatPenalty != 1f || frequencyPenalty != 0f || presencePenalty != 0f);
    }

    public SamplerConfig withTemperature(float t) {
        return new SamplerConfig(t, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed);
    }
}
