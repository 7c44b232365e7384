package io.kvserve.model;

/** How RoPE pairs the dimensions of a head. */
public enum RopeLayout {
    /** Adjacent pairs (2i, 2i+1): llama.cpp "NORM", Llama 2/3 GGUF files, llama2.c. */
    ADJACENT_PAIRS,
    /** Halves (i, i + d/2): llama.cpp "NEOX", Qwen2/Qwen3 and HuggingFace layouts. */
    NEOX_HALVES
}
