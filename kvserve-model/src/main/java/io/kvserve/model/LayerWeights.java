package io.kvserve.model;

/**
 * The weights of one transformer block. Optional parts are null: biases (Qwen2) and per-head q/k
 * RMSNorm weights (Qwen3).
 */
public record LayerWeights(
        float[] attnNorm,   // (dim)
        Matrix wq,          // (nHeads * headDim, dim)
        Matrix wk,          // (nKvHeads * headDim, dim)
        Matrix wv,          // (nKvHeads * headDim, dim)
        Matrix wo,          // (dim, nHeads * headDim)
        float[] bq,         // (nHeads * headDim) or null
        float[] bk,         // (nKvHeads * headDim) or null
        float[] bv,         // (nKvHeads * headDim) or null
        float[] qNorm,      // (headDim) or null
        float[] kNorm,      // (headDim) or null
        float[] ffnNorm,    // (dim)
        Matrix wGate,       // (ffnDim, dim)
        Matrix wUp,         // (ffnDim, dim)
        Matrix wDown) {     // (dim, ffnDim)
}
