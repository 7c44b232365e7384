package io.kvserve.kvcache.press;

/**
 * StreamingLLM: attention sinks plus a recent window.
 *
 * <p>Keeps the first {@code sinks} tokens, which soak up attention whatever they say, and the most
 * recent ones up to the budget; everything between is evicted. No scores: position only. Kept keys
 * keep their original positions (kvpress's plain press; the paper re-assigns cache positions).
 * Based on Xiao et al., "Efficient Streaming Language Models with Attention Sinks" (arXiv 2309.17453).
 *
 * @param ratio fraction of tokens evicted, default 0.5
 * @param sinks leading tokens always kept, default 4
 */
public record StreamingLlmPress(double ratio, int sinks) implements ScorerPress {
    public StreamingLlmPress {
        PressParams.ratio("streamingllm", ratio);
        PressParams.require(sinks >= 0, "streamingllm: sinks must be >= 0, got " + sinks);
    }

    static StreamingLlmPress parse(PressParams p) {
        return new StreamingLlmPress(p.real("ratio", 0.5), p.integer("sinks", 4));
    }

    @Override
    public String spec() {
        return "streamingllm:ratio=" + PressParams.fmt(ratio) + ",sinks=" + sinks;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        int[] pos = ctx.positions(layer, kvHead);
        float[] s = new float[pos.length];
        for (int i = 0; i < pos.length; i++) s[i] = pos[i] < sinks ? Float.POSITIVE_INFINITY : pos[i];
        return s;
    }
}
