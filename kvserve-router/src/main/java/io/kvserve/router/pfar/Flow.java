package io.kvserve.router.pfar;

/** A flow to admit or reject: source and destination nodes, bandwidth demand, priority (> 0, higher wins). */
public record Flow(int id, int source, int target, double demand, double priority) {
    public Flow {
        if (source == target) throw new IllegalArgumentException("flow " + id + ": source and target are both node " + source);
        if (!(demand > 0)) throw new IllegalArgumentException("flow " + id + ": demand " + demand + " must be > 0");
        if (!(priority > 0)) throw new IllegalArgumentException("flow " + id + ": priority " + priority + " must be > 0");
    }

    /** The objective term of this flow when admitted: priority-weighted demand. */
    public double value() {
        return priority * demand;
    }
}
