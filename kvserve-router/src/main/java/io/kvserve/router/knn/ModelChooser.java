package io.kvserve.router.knn;

import io.kvserve.router.embed.Embedder;
import java.util.List;

/** Chooses a model for a prompt: embed, kNN-predict, apply the policy. */
public final class ModelChooser {
    /** The chosen model with its predicted quality and cost. */
    public record Choice(String model, double predictedQuality, double predictedCost) {}

    private final Embedder embedder;
    private final KnnRouter router;
    private final List<String> modelNames;

    public ModelChooser(Embedder embedder, KnnRouter router, List<String> modelNames) {
        if (modelNames.size() != router.models()) throw new IllegalArgumentException(modelNames.size() + " model names for " + router.models() + " models");
        this.embedder = embedder;
        this.router = router;
        this.modelNames = List.copyOf(modelNames);
    }

    public List<String> models() {
        return modelNames;
    }

    public Choice choose(String prompt, RoutingPolicy policy) {
        return choose(prompt, policy, modelNames);
    }

    /** Chooses among the allowed models only (for example those with a live backend). */
    public Choice choose(String prompt, RoutingPolicy policy, java.util.Collection<String> allowed) {
        KnnRouter.Prediction p = router.predict(embedder.embed(prompt));
        double[] q = p.quality().clone();
        double[] c = p.cost().clone();
        boolean any = false;
        for (int m = 0; m < q.length; m++) {
            if (!allowed.contains(modelNames.get(m))) {
                q[m] = Double.NEGATIVE_INFINITY;
                c[m] = Double.POSITIVE_INFINITY;
            } else {
                any = true;
            }
        }
        if (!any) throw new IllegalArgumentException("none of the models " + allowed + " is known to the router " + modelNames);
        int m = policy.choose(q, c);
        return new Choice(modelNames.get(m), q[m], c[m]);
    }

    /** Records an observed outcome (quality per model; unknown models get their current prediction). */
    public void feedback(String prompt, java.util.Map<String, Double> quality, java.util.Map<String, Double> cost) {
        for (String name : quality.keySet()) {
            if (!modelNames.contains(name)) throw new IllegalArgumentException("unknown model '" + name + "': known models are " + modelNames);
        }
        float[] e = embedder.embed(prompt);
        KnnRouter.Prediction p = router.predict(e);
        double[] q = p.quality().clone(), c = p.cost().clone();
        for (int m = 0; m < q.length; m++) {
            String n = modelNames.get(m);
            if (quality.containsKey(n)) q[m] = quality.get(n);
            if (cost != null && cost.containsKey(n)) c[m] = cost.get(n);
        }
        router.add(e, q, c);
    }
}
