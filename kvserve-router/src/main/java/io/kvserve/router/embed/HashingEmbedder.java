package io.kvserve.router.embed;

import java.util.Locale;

/**
 * Feature hashing of lower-cased word unigrams and bigrams into a fixed dimension, L2-normalised. Not a sentence
 * encoder: a fast, deterministic stand-in for tests and for runs where the ONNX model is not wanted.
 */
public final class HashingEmbedder implements Embedder {
    private final int dim;

    public HashingEmbedder(int dim) {
        if (dim < 8) throw new IllegalArgumentException("dimension " + dim + " < 8");
        this.dim = dim;
    }

    @Override
    public int dimension() {
        return dim;
    }

    @Override
    public float[] embed(String text) {
        float[] v = new float[dim];
        String[] words = text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+");
        String prev = null;
        for (String w : words) {
            if (w.isEmpty()) continue;
            add(v, w.hashCode());
            if (prev != null) add(v, (prev + " " + w).hashCode() * 31 + 7);
            prev = w;
        }
        return Embedder.normalize(v);
    }

    private void add(float[] v, int h) {
        int mixed = h * 0x9E3779B1;
        v[Math.floorMod(mixed, dim)] += (mixed & 0x10000) == 0 ? 1f : -1f;
    }

    @Override
    public String name() {
        return "hashing-" + dim;
    }
}
