package io.kvserve.kvcache.elitekv;

import java.util.Arrays;
import java.util.List;

/**
 * RoPElite (EliteKV step 1): the greedy ranking of one KV head's RoPE frequency pairs. Starting from
 * RoPE switched off on every pair, each round adds the pair whose RoPE brings the pre-softmax logits
 * closest to the full-RoPE logits: for candidate j, {@code dist_j = mean |logits(RoPE on chosen + j,
 * NoPE elsewhere) - logits(full RoPE)|} over every causal (query, key) pair and every query head of
 * the group, averaged per calibration sequence and then over the sequences.
 */
public final class RopElite {
    private RopElite() {}

    /**
     * One calibration sequence of one (layer, KV head), as the model produced it.
     *
     * @param queries   the group's queries after RoPE, {@code (tokens, group, headDim)}
     * @param keys      keys after RoPE, {@code (tokens, headDim)}
     * @param positions position of each token, {@code (tokens)}; query t sees keys 0..t
     */
    public record HeadSample(float[] queries, float[] keys, int[] positions, int group) {}

    /**
     * All pairs in the order the greedy search picks them: the first {@code e} are the elite pairs of
     * a budget of {@code e}.
     *
     * @param first   first head dim of each rotation pair
     * @param second  second head dim of each rotation pair
     * @param invFreq angle per position of each rotation pair
     */
    public static int[] rank(List<HeadSample> samples, int headDim, int[] first, int[] second, float[] invFreq) {
        int pairs = first.length;
        if (samples.isEmpty()) throw new IllegalArgumentException("RoPElite needs at least one calibration sequence");
        // delta_p(i, g, t) = NoPE logit - RoPE logit of pair p; the residual R = sum over unchosen pairs of delta_p
        // is the candidate's logits minus the full-RoPE logits
        float[][][] delta = new float[samples.size()][][];
        float[][] residual = new float[samples.size()][];
        for (int s = 0; s < samples.size(); s++) {
            HeadSample h = samples.get(s);
            delta[s] = pairDeltas(h, headDim, first, second, invFreq);
            residual[s] = new float[delta[s][0].length];
            for (int p = 0; p < pairs; p++) for (int x = 0; x < residual[s].length; x++) residual[s][x] += delta[s][p][x];
        }
        int[] order = new int[pairs];
        boolean[] chosen = new boolean[pairs];
        for (int round = 0; round < pairs; round++) {
            int best = -1;
            double bestDist = Double.POSITIVE_INFINITY;
            for (int j = 0; j < pairs; j++) {
                if (chosen[j]) continue;
                double dist = 0;
                for (int s = 0; s < samples.size(); s++) {
                    float[] r = residual[s], dj = delta[s][j];
                    double sum = 0;
                    for (int x = 0; x < r.length; x++) sum += Math.abs(r[x] - dj[x]);
                    dist += sum / r.length;
                }
                dist /= samples.size();
                if (dist < bestDist) {
                    bestDist = dist;
                    best = j;
                }
            }
            chosen[best] = true;
            order[round] = best;
            for (int s = 0; s < samples.size(); s++) {
                float[] r = residual[s], db = delta[s][best];
                for (int x = 0; x < r.length; x++) r[x] -= db[x];
            }
        }
        return order;
    }

    /** Per pair, over the causal (query token i, group head g, key token t <= i) triples in that order. */
    static float[][] pairDeltas(HeadSample h, int headDim, int[] first, int[] second, float[] invFreq) {
        int n = h.positions().length, g = h.group(), pairs = first.length;
        if (h.keys().length != n * headDim || h.queries().length != n * g * headDim) {
            throw new IllegalArgumentException("calibration sample shapes disagree: " + n + " positions, " + h.keys().length
                    + " key floats, " + h.queries().length + " query floats, head dim " + headDim + ", group " + g);
        }
        float[] qu = unrotate(h.queries(), n * g, headDim, h.positions(), g, first, second, invFreq);
        float[] ku = unrotate(h.keys(), n, headDim, h.positions(), 1, first, second, invFreq);
        int triples = g * n * (n + 1) / 2;
        float[][] d = new float[pairs][triples];
        for (int p = 0; p < pairs; p++) {
            int a = first[p], b = second[p], x = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < g; j++) {
                    int qo = (i * g + j) * headDim;
                    float qa = h.queries()[qo + a], qb = h.queries()[qo + b], qua = qu[qo + a], qub = qu[qo + b];
                    for (int t = 0; t <= i; t++) {
                        int ko = t * headDim;
                        float rope = qa * h.keys()[ko + a] + qb * h.keys()[ko + b];
                        float nope = qua * ku[ko + a] + qub * ku[ko + b];
                        d[p][x++] = nope - rope;
                    }
                }
            }
        }
        return d;
    }

    /** Head vectors with every pair's rotation undone; vector r belongs to position {@code positions[r / perPosition]}. */
    static float[] unrotate(float[] x, int vectors, int headDim, int[] positions, int perPosition, int[] first, int[] second, float[] invFreq) {
        float[] r = Arrays.copyOf(x, x.length);
        for (int v = 0; v < vectors; v++) {
            int pos = positions[v / perPosition], off = v * headDim;
            for (int p = 0; p < first.length; p++) {
                float angle = -pos * invFreq[p];
                float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
                float v0 = r[off + first[p]], v1 = r[off + second[p]];
                r[off + first[p]] = v0 * cos - v1 * sin;
                r[off + second[p]] = v0 * sin + v1 * cos;
            }
        }
        return r;
    }
}
