package io.kvserve.model;

import java.util.List;

/** All weights of a model; matrices are slices of the model file's mapping where the file allows. */
public record ModelWeights(
        Matrix tokenEmbedding,   // (vocab, dim)
        List<LayerWeights> layers,
        float[] outputNorm,      // (dim)
        Matrix output) {         // (vocab, dim); the token embedding itself when tied
}
