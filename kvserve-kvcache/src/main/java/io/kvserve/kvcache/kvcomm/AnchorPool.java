package io.kvserve.kvcache.kvcomm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The anchors of one placeholder slot (KVCOMM's {@code predict_as_anchor}, {@code update_anchor} and
 * {@code _compute_anchor_weight_entry}). A new message either becomes an anchor (its readers prefill
 * densely and record deltas) or is reusable, its KV corrected by a softmax-weighted mix of the
 * anchors' deltas. The pool keeps insertion order; past {@code maxAnchors} it evicts, among the
 * oldest {@code window} anchors, the one activated least often. Not thread-safe: the reference
 * stages per-request changes and commits them when the last concurrent request ends; kvserve's
 * pipeline runs agents one after another, so changes apply at once.
 */
public final class AnchorPool {
    private final KvcommConfig config;
    private final List<Anchor> anchors = new ArrayList<>();
    private long nextId;

    /**
     * The verdict on a message.
     *
     * @param becomesAnchor whether the message must become an anchor
     * @param entropy       entropy (bits) of the match distribution, NaN when not computed
     * @param threshold     {@code gamma * log2(available)}, NaN when not computed
     * @param available     anchors at least as long as the message
     * @param probabilities match probability per available anchor, in pool order
     * @param activated     the nucleus whose activation counts were incremented
     */
    public record Decision(boolean becomesAnchor, double entropy, double threshold, List<Anchor> available,
                           double[] probabilities, List<Anchor> activated) {}

    public AnchorPool(KvcommConfig config) {
        this.config = config;
    }

    public KvcommConfig config() { return config; }

    public List<Anchor> anchors() { return Collections.unmodifiableList(anchors); }

    public int size() { return anchors.size(); }

    /** The anchor holding exactly this message, or null. */
    public Anchor find(String message) {
        for (Anchor a : anchors) if (a.message().equals(message)) return a;
        return null;
    }

    /**
     * Decides whether the message with stand-alone KV {@code candidate} becomes an anchor; when it
     * is reusable, increments the activation count of the top-p nucleus of matching anchors.
     */
    public Decision decide(KvSegment candidate) {
        if (anchors.size() <= 1) return new Decision(true, Double.NaN, Double.NaN, List.of(), new double[0], List.of());
        int k = candidate.tokens();
        List<Anchor> avail = new ArrayList<>();
        for (Anchor a : anchors) if (a.tokens() >= k) avail.add(a);
        if (avail.isEmpty()) return new Decision(true, Double.NaN, Double.NaN, avail, new double[0], List.of());
        double[] diff = new double[avail.size()];
        for (int i = 0; i < diff.length; i++) diff[i] = valueDistance(candidate, avail.get(i).placeholder(), k);
        double[] p = softmaxNegative(diff, 1.0);
        double entropy = 0;
        for (double x : p) if (x > 0) entropy -= x * (Math.log(x) / Math.log(2));
        double threshold = config.gamma() * (Math.log(avail.size()) / Math.log(2));
        if (entropy > threshold) return new Decision(true, entropy, threshold, avail, p, List.of());
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        List<Anchor> activated = new ArrayList<>();
        double cum = 0;
        for (int idx : order) {
            // the nucleus: anchors while the cumulative mass stays below top_p; the best one always
            if (!activated.isEmpty() && cum + p[idx] >= config.topP()) break;
            cum += p[idx];
            Anchor a = avail.get(idx);
            a.activations++;
            activated.add(a);
        }
        return new Decision(false, entropy, threshold, avail, p, activated);
    }

    /** Adds a message as an anchor, evicting per the window rule if the pool is then too full. */
    public Anchor add(String message, KvSegment placeholder) {
        Anchor a = new Anchor(nextId++, message, placeholder);
        anchors.add(a);
        if (anchors.size() > config.maxAnchors()) {
            int n = Math.min(config.window(), anchors.size());
            int victim = 0;
            for (int i = 1; i < n; i++) if (anchors.get(i).activations < anchors.get(victim).activations) victim = i;
            anchors.remove(victim);
        }
        return a;
    }

    /** Anchors at least {@code tokens} long that hold deltas of {@code agent}: the ones an estimate may use. */
    public List<Anchor> usable(int tokens, String agent) {
        List<Anchor> out = new ArrayList<>();
        for (Anchor a : anchors) if (a.tokens() >= tokens && a.deltas(agent) != null) out.add(a);
        return out;
    }

    /** L2 norm of the value difference over the first {@code k} tokens of every layer, head and channel. */
    static double valueDistance(KvSegment x, KvSegment anchor, int k) {
        int d = x.headDim();
        double s = 0;
        for (int l = 0; l < x.layers(); l++) {
            for (int h = 0; h < x.kvHeads(); h++) {
                float[] a = x.values(l, h), b = anchor.values(l, h);
                for (int i = 0; i < k * d; i++) {
                    double e = a[i] - b[i];
                    s += e * e;
                }
            }
        }
        return Math.sqrt(s);
    }

    static double[] softmaxNegative(double[] dist, double tau) {
        double min = Double.POSITIVE_INFINITY;
        for (double x : dist) min = Math.min(min, x);
        double[] p = new double[dist.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(-(dist[i] - min) / tau);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    /**
     * Weights of the prefix-segment delta, {@code [layer][head][channel][anchor]}: softmax over anchors
     * of {@code -||cur[-P:] - anchor[-P:]||_2 / tau}, the norm over the token axis; keys or values.
     */
    public static double[][][][] prefixWeights(KvSegment current, List<Anchor> anchors, double tau, boolean keys) {
        int P = current.tokens(), d = current.headDim(), A = anchors.size();
        double[][][][] w = new double[current.layers()][current.kvHeads()][d][];
        double[] dist = new double[A];
        for (int l = 0; l < current.layers(); l++) {
            for (int h = 0; h < current.kvHeads(); h++) {
                float[] cur = keys ? current.keys(l, h) : current.values(l, h);
                for (int c = 0; c < d; c++) {
                    for (int a = 0; a < A; a++) {
                        KvSegment ph = anchors.get(a).placeholder();
                        float[] an = keys ? ph.keys(l, h) : ph.values(l, h);
                        int off = ph.tokens() - P;
                        double s = 0;
                        for (int t = 0; t < P; t++) {
                            double e = cur[t * d + c] - an[(off + t) * d + c];
                            s += e * e;
                        }
                        dist[a] = Math.sqrt(s);
                    }
                    w[l][h][c] = softmaxNegative(dist, tau);
                }
            }
        }
        return w;
    }

    /**
     * Weights of the placeholder delta, {@code [token][anchor]}: softmax over anchors of
     * {@code -mean|cur[t] - anchor[t]| / tau}, the mean over layers, heads and channels; keys or values.
     */
    public static double[][] placeholderWeights(KvSegment current, List<Anchor> anchors, double tau, boolean keys) {
        int P = current.tokens(), d = current.headDim(), A = anchors.size();
        double[][] w = new double[P][];
        double[] dist = new double[A];
        double count = (double) current.layers() * current.kvHeads() * d;
        for (int t = 0; t < P; t++) {
            for (int a = 0; a < A; a++) {
                KvSegment ph = anchors.get(a).placeholder();
                double s = 0;
                for (int l = 0; l < current.layers(); l++) {
                    for (int h = 0; h < current.kvHeads(); h++) {
                        float[] cur = keys ? current.keys(l, h) : current.values(l, h);
                        float[] an = keys ? ph.keys(l, h) : ph.values(l, h);
                        for (int c = 0; c < d; c++) s += Math.abs(cur[t * d + c] - an[t * d + c]);
                    }
                }
                dist[a] = s / count;
            }
            w[t] = softmaxNegative(dist, tau);
        }
        return w;
    }

    /**
     * The estimated offset of a message for {@code agent}: the placeholder delta ({@code P} tokens)
     * and the delta of the template segment that follows ({@code prefixTokens}). Layer 0 stays
     * zero: its KV depends only on the token and its position, so reuse is exact there.
     */
    public static Anchor.Deltas estimate(KvSegment current, List<Anchor> anchors, String agent, double tau, int prefixTokens) {
        if (anchors.isEmpty()) throw new IllegalArgumentException("no anchors to estimate an offset from");
        int P = current.tokens(), d = current.headDim();
        KvSegment ph = new KvSegment(current.layers(), current.kvHeads(), d, P);
        KvSegment pf = new KvSegment(current.layers(), current.kvHeads(), d, prefixTokens);
        for (int pass = 0; pass < 2; pass++) {
            boolean keys = pass == 0;
            double[][] wPh = placeholderWeights(current, anchors, tau, keys);
            double[][][][] wPf = prefixWeights(current, anchors, tau, keys);
            for (int a = 0; a < anchors.size(); a++) {
                Anchor.Deltas da = anchors.get(a).deltas(agent);
                if (da == null) throw new IllegalArgumentException("anchor " + anchors.get(a).id() + " has no deltas for agent " + agent);
                if (da.prefix().tokens() != prefixTokens) {
                    throw new IllegalArgumentException("anchor " + anchors.get(a).id() + " has a " + da.prefix().tokens() + "-token prefix delta, the slot " + prefixTokens);
                }
                for (int l = 1; l < current.layers(); l++) {
                    for (int h = 0; h < current.kvHeads(); h++) {
                        float[] src = keys ? da.placeholder().keys(l, h) : da.placeholder().values(l, h);
                        float[] dst = keys ? ph.keys(l, h) : ph.values(l, h);
                        for (int t = 0; t < P; t++) {
                            float wt = (float) wPh[t][a];
                            for (int c = 0; c < d; c++) dst[t * d + c] += wt * src[t * d + c];
                        }
                        src = keys ? da.prefix().keys(l, h) : da.prefix().values(l, h);
                        dst = keys ? pf.keys(l, h) : pf.values(l, h);
                        double[][] wc = wPf[l][h];
                        for (int t = 0; t < prefixTokens; t++) {
                            for (int c = 0; c < d; c++) dst[t * d + c] += (float) wc[c][a] * src[t * d + c];
                        }
                    }
                }
            }
        }
        return new Anchor.Deltas(ph, pf);
    }

    /** {@code target += delta} for layers 1.. (keys and values); layer 0 is never corrected. */
    public static void addDelta(KvSegment target, KvSegment delta) {
        target.requireSameShape(delta);
        for (int l = 1; l < target.layers(); l++) {
            for (int h = 0; h < target.kvHeads(); h++) {
                float[] a = target.keys(l, h), b = delta.keys(l, h);
                for (int i = 0; i < a.length; i++) a[i] += b[i];
                a = target.values(l, h); b = delta.values(l, h);
                for (int i = 0; i < a.length; i++) a[i] += b[i];
            }
        }
    }
}
