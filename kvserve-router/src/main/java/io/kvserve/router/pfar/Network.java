package io.kvserve.router.pfar;

import java.util.ArrayList;
import java.util.List;

/** A directed graph of {@code nodes} nodes (0..nodes-1) and capacitated links. */
public final class Network {
    private final int nodes;
    private final List<Link> links = new ArrayList<>();
    private final List<List<Link>> out = new ArrayList<>();

    public Network(int nodes) {
        if (nodes < 2) throw new IllegalArgumentException("a network needs at least 2 nodes, got " + nodes);
        this.nodes = nodes;
        for (int i = 0; i < nodes; i++) out.add(new ArrayList<>());
    }

    public Link addLink(int from, int to, double capacity, double weight) {
        if (from < 0 || from >= nodes || to < 0 || to >= nodes || from == to) {
            throw new IllegalArgumentException("link " + from + "->" + to + " is not between two distinct nodes of 0.." + (nodes - 1));
        }
        Link l = new Link(links.size(), from, to, capacity, weight);
        links.add(l);
        out.get(from).add(l);
        return l;
    }

    /** Adds links in both directions with the same capacity each way. */
    public void addBidirectional(int a, int b, double capacity, double weight) {
        addLink(a, b, capacity, weight);
        addLink(b, a, capacity, weight);
    }

    public int nodes() {
        return nodes;
    }

    public List<Link> links() {
        return links;
    }

    public List<Link> out(int node) {
        return out.get(node);
    }

    public Link link(int id) {
        return links.get(id);
    }
}
