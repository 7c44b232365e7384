package io.kvserve.kvcache.elitekv;

import io.kvserve.kvcache.StreamCodec;

import java.util.Arrays;

/**
 * EliteKV's storage of one (layer, KV head): per token the key dims of the elite RoPE pairs, still
 * rotated at the token's position, then a rank-r latent {@code c = U^T [k_nope ; v]}, where
 * {@code k_nope} is the key's other dims with their rotation undone (so they no longer depend on the
 * position) and U (orthonormal columns) comes from the SVD of calibration KV. Attention absorbs the
 * up-projections: the query's non-elite dims are unrotated at the query's position and mapped to
 * {@code U_k^T q_nope}, so {@code q . k ~ q_elite . k_elite + (U_k^T q_nope) . c}, which is RoPE on the
 * elite pairs only (RoPElite); values are {@code U_v (sum_t a_t c_t)}.
 */
public final class EliteKvCodec implements StreamCodec {
    private final int headDim, rank;
    private final int[] eliteDims;      // (2e) head dims kept rotated, pair by pair
    private final int[] nopeDims;       // (n = headDim - 2e) head dims in the latent
    private final int[] nopeFirst, nopeSecond;   // rotated pairs among the nope dims, as head dims
    private final float[] nopeInvFreq;  // angle per position of those pairs
    private final float[] up;           // (n + headDim, rank) U, row-major: rows [k_nope dims ; value dims]

    /**
     * @param elitePairs rotation pairs that keep RoPE
     * @param first      first head dim of every rotation pair
     * @param second     second head dim of every rotation pair
     * @param invFreq    angle per position of every rotation pair
     * @param up         {@code (headDim - 2e + headDim, rank)} row-major, orthonormal columns; its rows are the
     *                   nope key dims in increasing order, then the value dims
     */
    public EliteKvCodec(int headDim, int[] elitePairs, int[] first, int[] second, float[] invFreq, float[] up, int rank) {
        this.headDim = headDim;
        this.rank = rank;
        int[] pairs = elitePairs.clone();
        Arrays.sort(pairs);
        boolean[] elite = new boolean[headDim];
        eliteDims = new int[2 * pairs.length];
        for (int i = 0; i < pairs.length; i++) {
            eliteDims[2 * i] = first[pairs[i]];
            eliteDims[2 * i + 1] = second[pairs[i]];
            elite[first[pairs[i]]] = elite[second[pairs[i]]] = true;
        }
        nopeDims = nopeDims(headDim, elitePairs, first, second);
        int nopePairs = first.length - pairs.length;
        nopeFirst = new int[nopePairs];
        nopeSecond = new int[nopePairs];
        nopeInvFreq = new float[nopePairs];
        for (int p = 0, j = 0; p < first.length; p++) {
            if (elite[first[p]]) continue;
            nopeFirst[j] = first[p];
            nopeSecond[j] = second[p];
            nopeInvFreq[j++] = invFreq[p];
        }
        if (up.length != (nopeDims.length + headDim) * rank) {
            throw new IllegalArgumentException("up-projection has " + up.length + " floats, expected (" + nopeDims.length + " + " + headDim + ") x " + rank);
        }
        this.up = up.clone();
    }

    /** Head dims outside the elite pairs, increasing: the key dims that go into the latent. */
    public static int[] nopeDims(int headDim, int[] elitePairs, int[] first, int[] second) {
        boolean[] elite = new boolean[headDim];
        for (int p : elitePairs) elite[first[p]] = elite[second[p]] = true;
        int[] r = new int[headDim - 2 * elitePairs.length];
        for (int d = 0, j = 0; d < headDim; d++) if (!elite[d]) r[j++] = d;
        return r;
    }

    @Override public int headDim() { return headDim; }
    @Override public int width() { return eliteDims.length + rank; }

    public int rank() {
        return rank;
    }

    /** Elite rotation pairs, as head dims {@code (first, second)} pair by pair. */
    public int[] eliteDims() {
        return eliteDims.clone();
    }

    /** Rotates the nope pairs of {@code x} (head vector at {@code off}) by {@code sign * pos}. */
    private void rotateNope(float[] x, int off, long pos, int sign) {
        for (int j = 0; j < nopeFirst.length; j++) {
            float angle = sign * pos * nopeInvFreq[j];
            float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
            int a = off + nopeFirst[j], b = off + nopeSecond[j];
            float v0 = x[a], v1 = x[b];
            x[a] = v0 * cos - v1 * sin;
            x[b] = v0 * sin + v1 * cos;
        }
    }

    @Override
    public void encode(float[] k, int kOff, float[] v, int vOff, int pos, float[] dst, int dstOff) {
        int e = eliteDims.length, n = nopeDims.length;
        float[] key = Arrays.copyOfRange(k, kOff, kOff + headDim);
        for (int i = 0; i < e; i++) dst[dstOff + i] = key[eliteDims[i]];
        rotateNope(key, 0, pos, -1);
        for (int r = 0; r < rank; r++) {
            float c = 0f;
            for (int i = 0; i < n; i++) c += up[i * rank + r] * key[nopeDims[i]];
            for (int i = 0; i < headDim; i++) c += up[(n + i) * rank + r] * v[vOff + i];
            dst[dstOff + e + r] = c;
        }
    }

    @Override
    public void decodeKey(float[] row, int rowOff, int pos, float[] dst, int dstOff) {
        int e = eliteDims.length, n = nopeDims.length;
        float[] key = new float[headDim];
        for (int i = 0; i < e; i++) key[eliteDims[i]] = row[rowOff + i];
        for (int i = 0; i < n; i++) {
            float s = 0f;
            for (int r = 0; r < rank; r++) s += up[i * rank + r] * row[rowOff + e + r];
            key[nopeDims[i]] = s;
        }
        rotateNope(key, 0, pos, 1);
        System.arraycopy(key, 0, dst, dstOff, headDim);
    }

    @Override
    public void decodeValue(float[] row, int rowOff, float[] dst, int dstOff) {
        int e = eliteDims.length, n = nopeDims.length;
        for (int i = 0; i < headDim; i++) {
            float s = 0f;
            for (int r = 0; r < rank; r++) s += up[(n + i) * rank + r] * row[rowOff + e + r];
            dst[dstOff + i] = s;
        }
    }

    @Override
    public void encodeQuery(float[] q, int qOff, int pos, float[] dst, int dstOff) {
        int e = eliteDims.length, n = nopeDims.length;
        float[] query = Arrays.copyOfRange(q, qOff, qOff + headDim);
        for (int i = 0; i < e; i++) dst[dstOff + i] = query[eliteDims[i]];
        rotateNope(query, 0, pos, -1);
        for (int r = 0; r < rank; r++) {
            float s = 0f;
            for (int i = 0; i < n; i++) s += up[i * rank + r] * query[nopeDims[i]];
            dst[dstOff + e + r] = s;
        }
    }
}
