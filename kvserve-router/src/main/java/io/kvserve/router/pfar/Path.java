package io.kvserve.router.pfar;

import java.util.List;

/** A loop-free path as its link ids, with its total weight. */
public record Path(List<Integer> links, List<Integer> nodes, double weight) {
    public Path {
        links = List.copyOf(links);
        nodes = List.copyOf(nodes);
    }
}
