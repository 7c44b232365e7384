package io.kvserve.model.transformer;

import io.kvserve.model.ModelConfig;
import io.kvserve.model.RopeLayout;

/**
 * Rotary position embedding of one model: the pair layout (adjacent or NeoX halves), theta, llama3 /
 * rope_freqs frequency factors and linear scaling. Rotation angles are linear in the position, so a
 * key rotated for position {@code a} is moved to position {@code b} by rotating it by {@code b - a}
 * ({@link #rerotate}); the inverse rotation is a rotation by {@code -pos}. Stateless after construction.
 */
public final class Rope {
    private final int headDim, pairs;
    private final float linearScale;
    private final boolean neox;
    private final float[] invFreq;   // (pairs)

    public Rope(ModelConfig c) {
        this.headDim = c.headDim();
        this.pairs = c.ropeDim() / 2;
        this.linearScale = c.ropeLinearScale();
        this.neox = c.ropeLayout() == RopeLayout.NEOX_HALVES;
        this.invFreq = inverseFrequencies(c);
    }

    /** theta^(-2i/ropeDim), divided by the llama3 / rope_freqs factor of pair i. */
    static float[] inverseFrequencies(ModelConfig c) {
        int pairs = c.ropeDim() / 2;
        float[] f = new float[pairs];
        for (int i = 0; i < pairs; i++) {
            double inv = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.ropeDim());
            if (c.ropeFreqFactors() != null) inv /= c.ropeFreqFactors()[i];
            f[i] = (float) inv;
        }
        return f;
    }

    /** Rotated pairs per head (ropeDim / 2; dimensions past 2 * pairs are never rotated). */
    public int pairs() {
        return pairs;
    }

    public int headDim() {
        return headDim;
    }

    /** Angle per position of pair {@code i}, scaling included. */
    public float inverseFrequency(int i) {
        return invFreq[i] / linearScale;
    }

    /** Index within a head of the first element of pair {@code i}. */
    public int firstOf(int i) {
        return neox ? i : 2 * i;
    }

    /** Index within a head of the second element of pair {@code i}. */
    public int secondOf(int i) {
        return neox ? i + pairs : 2 * i + 1;
    }

    /** Rotates {@code heads} consecutive head vectors at {@code off} for position {@code pos}. */
    public void rotate(float[] buf, int off, int heads, int pos) {
        rotateBy(buf, off, heads, pos);
    }

    /** Moves keys rotated for position {@code from} to position {@code to}. */
    public void rerotate(float[] buf, int off, int heads, int from, int to) {
        rotateBy(buf, off, heads, (long) to - from);
    }

    /** Undoes {@link #rotate} for position {@code pos}. */
    public void unrotate(float[] buf, int off, int heads, int pos) {
        rotateBy(buf, off, heads, -(long) pos);
    }

    private void rotateBy(float[] buf, int off, int heads, long delta) {
        float p = delta / linearScale;
        for (int i = 0; i < pairs; i++) {
            float angle = p * invFreq[i];
            float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
            int fa = firstOf(i), fb = secondOf(i);
            for (int h = 0; h < heads; h++) {
                int base = off + h * headDim;
                int a = base + fa, b = base + fb;
                float v0 = buf[a], v1 = buf[b];
                buf[a] = v0 * cos - v1 * sin;
                buf[b] = v0 * sin + v1 * cos;
            }
        }
    }
}
