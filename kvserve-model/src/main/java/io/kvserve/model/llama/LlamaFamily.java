package io.kvserve.model.llama;

import io.kvserve.model.ModelFamily;
import io.kvserve.model.RopeLayout;

/**
 * Llama 2, Llama 3.x (llama3 RoPE scaling through {@code rope_freqs}), TinyLlama, SmolLM/SmolLM2 and
 * Mistral files converted by llama.cpp: adjacent-pair RoPE (the converter permutes q/k for it), no
 * biases, grouped-query attention, tied or separate output embedding.
 */
public record LlamaFamily() implements ModelFamily {
    @Override public String architecture() { return "llama"; }
    @Override public RopeLayout ropeLayout() { return RopeLayout.ADJACENT_PAIRS; }
    @Override public boolean attentionBiases() { return false; }
    @Override public boolean perHeadQkNorm() { return false; }
}
