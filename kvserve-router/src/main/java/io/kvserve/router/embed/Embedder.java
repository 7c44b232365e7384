package io.kvserve.router.embed;

import java.util.List;

/** A sentence encoder with L2-normalised output, so cosine similarity is a dot product. */
public interface Embedder {
    int dimension();

    float[] embed(String text);

    /** Embeds many texts; implementations may batch. */
    default List<float[]> embedAll(List<String> texts) {
        return texts.stream().map(this::embed).toList();
    }

    /** A name that identifies the encoder (used to key embedding caches). */
    String name();

    static float[] normalize(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        if (s == 0) return v;
        float inv = (float) (1 / Math.sqrt(s));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
        return v;
    }
}
