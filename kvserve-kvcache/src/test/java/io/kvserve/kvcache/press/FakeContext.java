package io.kvserve.kvcache.press;

import io.kvserve.kvcache.KvStorage;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/** A hand-filled press context: one layer set per test, positions 0..n-1 unless given. */
final class FakeContext implements PressContext {
    final int layers, heads, dim, group;
    int[][][] positions;        // (layer, head) -> positions
    float[][][] keys;           // (layer, head) -> (n, dim)
    float[][][] attention;      // (layer, head) -> accumulated (n)
    float[][][] window;         // (layer, head) -> (w, group, n)
    int[] windowPositions = new int[0];
    int[][][] kept;             // what keep() was called with

    FakeContext(int layers, int heads, int dim, int group, int n) {
        this.layers = layers;
        this.heads = heads;
        this.dim = dim;
        this.group = group;
        positions = new int[layers][heads][];
        keys = new float[layers][heads][];
        attention = new float[layers][heads][];
        window = new float[layers][heads][];
        kept = new int[layers][heads][];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                positions[l][h] = java.util.stream.IntStream.range(0, n).toArray();
                keys[l][h] = new float[n * dim];
                attention[l][h] = new float[n];
            }
        }
    }

    @Override public int layers() { return layers; }
    @Override public int kvHeads() { return heads; }
    @Override public int headDim() { return dim; }
    @Override public int groupSize() { return group; }
    @Override public int sequenceLength() { return positions[0][0].length; }
    @Override public int tokens(int layer, int kvHead) { return positions[layer][kvHead].length; }
    @Override public int[] positions(int layer, int kvHead) { return positions[layer][kvHead].clone(); }
    @Override public float[] keys(int layer, int kvHead) { return keys[layer][kvHead].clone(); }
    @Override public float[] values(int layer, int kvHead) { return new float[tokens(layer, kvHead) * dim]; }
    @Override public int[] windowPositions() { return windowPositions.clone(); }
    @Override public float[] windowQueries(int layer, int kvHead) { return new float[windowPositions.length * group * dim]; }
    @Override public float[] windowAttention(int layer, int kvHead) { return window[layer][kvHead].clone(); }
    @Override public float[] accumulatedAttention(int layer, int kvHead) { return attention[layer][kvHead].clone(); }
    @Override public int budgetAfterPrefill(int layer, int kvHead) { return tokens(layer, kvHead); }

    @Override
    public void keep(int layer, int kvHead, int[] indices) {
        kept[layer][kvHead] = indices.clone();
        int[] p = positions[layer][kvHead];
        positions[layer][kvHead] = Arrays.stream(indices).map(i -> p[i]).toArray();
    }

    @Override public void convert(KvStorage storage) {}
    @Override public RandomGenerator random() { return new SplittableRandom(1); }
}
