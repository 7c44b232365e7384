package io.kvserve.model;

/**
 * Hyper-parameters of a decoder-only transformer, whatever file it came from.
 *
 * @param ropeFreqFactors per-pair divisors of the RoPE frequencies (llama3 scaling, {@code rope_freqs}), or null
 * @param ropeLinearScale positions are divided by this (linear RoPE scaling); 1 for none
 */
public record ModelConfig(
        String architecture,
        int dim,
        int nLayers,
        int nHeads,
        int nKvHeads,
        int headDim,
        int ffnDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        int ropeDim,
        RopeLayout ropeLayout,
        float[] ropeFreqFactors,
        float ropeLinearScale) {

    public ModelConfig {
        require(dim > 0, "embedding length must be positive, got " + dim);
        require(nLayers > 0, "block count must be positive, got " + nLayers);
        require(nHeads > 0, "head count must be positive, got " + nHeads);
        require(nKvHeads > 0 && nHeads % nKvHeads == 0, "head count " + nHeads + " must be a multiple of the KV head count " + nKvHeads);
        require(headDim > 0 && headDim % 2 == 0, "head dimension must be positive and even, got " + headDim);
        require(ffnDim > 0, "feed-forward length must be positive, got " + ffnDim);
        require(vocabSize > 0, "vocabulary size must be positive, got " + vocabSize);
        require(contextLength > 0, "context length must be positive, got " + contextLength);
        require(ropeDim > 0 && ropeDim <= headDim && ropeDim % 2 == 0, "RoPE dimension " + ropeDim + " must be even and at most the head dimension " + headDim);
        require(ropeFreqFactors == null || ropeFreqFactors.length == ropeDim / 2, "rope_freqs has " + (ropeFreqFactors == null ? 0 : ropeFreqFactors.length) + " factors, expected " + ropeDim / 2);
        require(ropeLinearScale > 0, "RoPE linear scale must be positive");
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new ModelFileException("invalid model hyper-parameters: " + message);
    }

    public int qDim() {
        return nHeads * headDim;
    }

    public int kvDim() {
        return nKvHeads * headDim;
    }

    /** Query heads per KV head (grouped-query attention). */
    public int groupSize() {
        return nHeads / nKvHeads;
    }
}
