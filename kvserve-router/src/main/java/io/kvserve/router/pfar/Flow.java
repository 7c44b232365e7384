package io.kvserve.router.pfar;

/**
 * A flow to admit or reject: source and destination nodes, bandwidth demand, priority (&gt; 0, higher wins), and its
 * objective term when admitted ({@code value}; priority x demand unless given).
 */
public record Flow(int id, int source, int target, double demand, double priority, double value) {
    public Flow {
        if (source == target) throw new IllegalArgumentException("flow " + id + ": source and target are both node " + source);
        if (!(demand > 0)) throw new IllegalArgumentException("flow " + id + ": demand " + demand + " must be > 0");
        if (!(priority > 0)) throw new IllegalArgumentException("flow " + id + ": priority " + priority + " must be > 0");
        if (!(value > 0)) throw new IllegalArgumentException("flow " + id + ": objective value " + value + " must be > 0");
    }

    /** A flow whose objective term is priority-weighted demand. */
    public Flow(int id, int source, int target, double demand, double priority) {
        this(id, source, target, demand, priority, priority * demand);
    }
}
