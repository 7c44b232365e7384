package io.kvserve.model;

import java.util.ArrayList;
import java.util.List;

/**
 * A deliberately naive reference forward pass over plain float arrays, one token at a time, with
 * no shared code with the engine beyond dequantising each weight once. It is the oracle that the
 * engine's logits are compared with.
 */
public final class NaiveTransformer {
    private final ModelConfig c;
    private final float[][] emb, out;
    private final float[] outNorm;
    private final List<float[][]> wq = new ArrayList<>(), wk = new ArrayList<>(), wv = new ArrayList<>(), wo = new ArrayList<>(),
            w1 = new ArrayList<>(), w2 = new ArrayList<>(), w3 = new ArrayList<>();
    private final List<LayerWeights> lws;
    private final List<List<float[]>> keys = new ArrayList<>(), values = new ArrayList<>();

    public NaiveTransformer(Model m) {
        this.c = m.config();
        ModelWeights w = m.weights();
        emb = dense(w.tokenEmbedding());
        out = dense(w.output());
        outNorm = w.outputNorm();
        lws = w.layers();
        for (LayerWeights l : lws) {
            wq.add(dense(l.wq())); wk.add(dense(l.wk())); wv.add(dense(l.wv())); wo.add(dense(l.wo()));
            w1.add(dense(l.wGate())); w2.add(dense(l.wDown())); w3.add(dense(l.wUp()));
            keys.add(new ArrayList<>());
            values.add(new ArrayList<>());
        }
    }

    private static float[][] dense(Matrix m) {
        float[][] r = new float[m.rows()][m.cols()];
        for (int i = 0; i < m.rows(); i++) m.row(i, r[i], 0);
        return r;
    }

    private static float[] matvec(float[][] w, float[] x) {
        float[] y = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            double s = 0;
            for (int j = 0; j < x.length; j++) s += (double) w[i][j] * x[j];
            y[i] = (float) s;
        }
        return y;
    }

    private float[] rms(float[] x, float[] weight) {
        double ss = 0;
        for (float v : x) ss += (double) v * v;
        double scale = 1.0 / Math.sqrt(ss / x.length + c.rmsEps());
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (float) (weight[i] * (x[i] * scale));
        return y;
    }

    private void rope(float[] v, int heads, int pos) {
        int hd = c.headDim(), pairs = c.ropeDim() / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < pairs; i++) {
                double freq = 1.0 / Math.pow(c.ropeTheta(), 2.0 * i / c.ropeDim());
                if (c.ropeFreqFactors() != null) freq /= c.ropeFreqFactors()[i];
                double ang = pos / c.ropeLinearScale() * freq;
                int a, b;
                if (c.ropeLayout() == RopeLayout.NEOX_HALVES) { a = h * hd + i; b = a + pairs; }
                else { a = h * hd + 2 * i; b = a + 1; }
                double x0 = v[a], x1 = v[b];
                v[a] = (float) (x0 * Math.cos(ang) - x1 * Math.sin(ang));
                v[b] = (float) (x0 * Math.sin(ang) + x1 * Math.cos(ang));
            }
        }
    }

    /** Logits after consuming {@code token} at the next position. */
    public float[] step(int token) {
        int pos = keys.get(0).size();
        float[] x = emb[token].clone();
        int hd = c.headDim();
        for (int l = 0; l < c.nLayers(); l++) {
            LayerWeights lw = lws.get(l);
            float[] xb = rms(x, lw.attnNorm());
            float[] q = matvec(wq.get(l), xb), k = matvec(wk.get(l), xb), v = matvec(wv.get(l), xb);
            if (lw.bq() != null) for (int i = 0; i < q.length; i++) q[i] += lw.bq()[i];
            if (lw.bk() != null) for (int i = 0; i < k.length; i++) k[i] += lw.bk()[i];
            if (lw.bv() != null) for (int i = 0; i < v.length; i++) v[i] += lw.bv()[i];
            if (lw.qNorm() != null) headNorm(q, lw.qNorm());
            if (lw.kNorm() != null) headNorm(k, lw.kNorm());
            rope(q, c.nHeads(), pos);
            rope(k, c.nKvHeads(), pos);
            keys.get(l).add(k);
            values.get(l).add(v);
            float[] att = new float[c.qDim()];
            for (int h = 0; h < c.nHeads(); h++) {
                int kvh = h / c.groupSize();
                double[] s = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= pos; t++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double) q[h * hd + i] * keys.get(l).get(t)[kvh * hd + i];
                    s[t] = d / Math.sqrt(hd);
                    max = Math.max(max, s[t]);
                }
                double sum = 0;
                for (int t = 0; t <= pos; t++) { s[t] = Math.exp(s[t] - max); sum += s[t]; }
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int t = 0; t <= pos; t++) a += s[t] / sum * values.get(l).get(t)[kvh * hd + i];
                    att[h * hd + i] = (float) a;
                }
            }
            float[] o = matvec(wo.get(l), att);
            for (int i = 0; i < x.length; i++) x[i] += o[i];
            xb = rms(x, lw.ffnNorm());
            float[] g = matvec(w1.get(l), xb), u = matvec(w3.get(l), xb);
            for (int i = 0; i < g.length; i++) g[i] = (float) (g[i] / (1 + Math.exp(-g[i])) * u[i]);
            float[] d = matvec(w2.get(l), g);
            for (int i = 0; i < x.length; i++) x[i] += d[i];
        }
        return matvec(out, rms(x, outNorm));
    }

    private void headNorm(float[] v, float[] weight) {
        int hd = c.headDim();
        for (int h = 0; h < v.length / hd; h++) {
            float[] part = java.util.Arrays.copyOfRange(v, h * hd, (h + 1) * hd);
            System.arraycopy(rms(part, weight), 0, v, h * hd, hd);
        }
    }
}
