package io.kvserve.router.knn;

import java.util.List;

/** Stores L2-normalised vectors under dense ids 0..size-1 and finds the most similar ones by cosine similarity. */
public interface VectorIndex extends AutoCloseable {
    int dimension();

    int size();

    /** Stores a vector; returns its id (= size before the call). */
    int add(float[] vector);

    /** Up to k neighbours, most similar first. */
    List<Neighbour> search(float[] query, int k);

    @Override
    default void close() {}

    static void checkDim(int expected, float[] v) {
        if (v.length != expected) throw new IllegalArgumentException("vector has dimension " + v.length + ", index holds dimension " + expected);
    }
}
