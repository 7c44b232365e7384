package io.kvserve.router.pfar;

/** A directed link with a capacity (bandwidth units) and a routing weight (length) for shortest paths. */
public record Link(int id, int from, int to, double capacity, double weight) {
    public Link {
        if (!(capacity >= 0)) throw new IllegalArgumentException("link " + from + "->" + to + ": capacity " + capacity + " must be >= 0");
        if (!(weight > 0)) throw new IllegalArgumentException("link " + from + "->" + to + ": weight " + weight + " must be > 0");
    }
}
