package io.kvserve.router.data;

/**
 * One prompt with each model's outcome (quality in [0,1]) and cost, in the dataset's model order.
 *
 * @param id       the row id ({@code id} field, or {@code line-N})
 * @param prompt   the prompt text, verbatim
 * @param task     the task name ("" when absent)
 * @param outcomes quality per model, indexed like {@link RoutingDataset#models()}
 * @param costs    cost per model (dollars per call, or a proxy), indexed like the models
 */
public record RoutingExample(String id, String prompt, String task, double[] outcomes, double[] costs) {
    public RoutingExample {
        if (outcomes.length != costs.length) {
            throw new IllegalArgumentException("outcomes (" + outcomes.length + ") and costs (" + costs.length + ") differ in length");
        }
    }

    /** Index of the best-scoring model, the cheaper one on ties. */
    public int bestModel() {
        int best = 0;
        for (int m = 1; m < outcomes.length; m++) {
            if (outcomes[m] > outcomes[best] || (outcomes[m] == outcomes[best] && costs[m] < costs[best])) best = m;
        }
        return best;
    }
}
