package io.kvserve.router.data;

import java.util.List;

/** Prompts with per-model outcomes and costs; every example lists the models in {@link #models()} order. */
public record RoutingDataset(List<String> models, List<RoutingExample> examples, String costSource) {
    public RoutingDataset {
        models = List.copyOf(models);
        examples = List.copyOf(examples);
        for (RoutingExample e : examples) {
            if (e.outcomes().length != models.size()) {
                throw new IllegalArgumentException("example " + e.id() + " has " + e.outcomes().length + " outcomes, expected " + models.size());
            }
        }
    }

    public int modelIndex(String name) {
        int i = models.indexOf(name);
        if (i < 0) throw new RoutingDataException("unknown model '" + name + "': known models are " + models);
        return i;
    }

    public RoutingDataset subset(List<RoutingExample> part) {
        return new RoutingDataset(models, part, costSource);
    }

    public int size() {
        return examples.size();
    }
}
