package io.kvserve.router.knn;

import java.util.ArrayList;
import java.util.List;

/**
 * kNN utility prediction (Li, arXiv 2505.12601): each model's quality and cost for a prompt are the (optionally
 * distance-weighted) mean over its k nearest support prompts. Outcomes fed back with {@link #add} extend the support
 * set online. Thread-safe for concurrent predict and add.
 *
 * @param k         neighbours per prediction (paper's default 100)
 * @param weighting how neighbours are weighted
 */
public final class KnnRouter {
    /** Neighbour weights. */
    public enum Weighting {
        /** plain mean (the paper's choice) */
        UNIFORM,
        /** 1 / (cosine distance + 0.01) */
        INVERSE_COSINE,
        /** 1 / (euclidean distance + 0.01) on unit vectors */
        INVERSE_EUCLIDEAN
    }

    /** A prediction and the neighbours it came from. */
    public record Prediction(double[] quality, double[] cost, List<Neighbour> neighbours) {}

    private final VectorIndex index;
    private final int models;
    private final int k;
    private final Weighting weighting;
    private final List<double[]> outcomes = new ArrayList<>();
    private final List<double[]> costs = new ArrayList<>();

    public KnnRouter(VectorIndex index, int models, int k, Weighting weighting) {
        if (k < 1) throw new IllegalArgumentException("k = " + k + " must be >= 1");
        if (models < 1) throw new IllegalArgumentException("models = " + models + " must be >= 1");
        if (index.size() != 0) throw new IllegalArgumentException("the index must start empty; it holds " + index.size());
        this.index = index;
        this.models = models;
        this.k = k;
        this.weighting = weighting;
    }

    public int k() {
        return k;
    }

    public Weighting weighting() {
        return weighting;
    }

    public int size() {
        return index.size();
    }

    public int models() {
        return models;
    }

    /** Stores one prompt embedding with its per-model outcomes and costs. */
    public synchronized void add(float[] embedding, double[] quality, double[] cost) {
        if (quality.length != models || cost.length != models) {
            throw new IllegalArgumentException("got " + quality.length + " outcomes and " + cost.length + " costs, expected " + models + " each");
        }
        outcomes.add(quality.clone());
        costs.add(cost.clone());
        index.add(embedding);
    }

    public Prediction predict(float[] embedding) {
        List<Neighbour> nn = index.search(embedding, k);
        double[] q = new double[models], c = new double[models];
        if (nn.isEmpty()) return new Prediction(q, c, nn);
        double wsum = 0;
        for (Neighbour n : nn) {
            double w = weightOf(n.similarity());
            double[] o, cs;
            synchronized (this) {
                o = outcomes.get(n.id());
                cs = costs.get(n.id());
            }
            for (int m = 0; m < models; m++) {
                q[m] += w * o[m];
                c[m] += w * cs[m];
            }
            wsum += w;
        }
        for (int m = 0; m < models; m++) {
            q[m] /= wsum;
            c[m] /= wsum;
        }
        return new Prediction(q, c, nn);
    }

    /** The weight this router gives a neighbour at the given cosine similarity. */
    public double weightOf(float similarity) {
        double cosDist = Math.max(0, 1 - similarity);
        return switch (weighting) {
            case UNIFORM -> 1;
            case INVERSE_COSINE -> 1 / (cosDist + 0.01);
            case INVERSE_EUCLIDEAN -> 1 / (Math.sqrt(2 * cosDist) + 0.01);
        };
    }

    public int route(float[] embedding, RoutingPolicy policy) {
        Prediction p = predict(embedding);
        return policy.choose(p.quality(), p.cost());
    }
}
