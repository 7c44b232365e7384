package io.kvserve.model.kv;

import java.util.ArrayList;
import java.util.List;

/**
 * The id table of a cache's sequences: ids are small non-negative ints, and a released id is given
 * out again by the next {@link #add}. Not synchronized: the cache holds its own lock.
 */
public final class SequenceSlots<S> {
    private final List<S> slots = new ArrayList<>();

    /** Stores {@code s} in the lowest free slot and returns its id. */
    public int add(S s) {
        for (int i = 0; i < slots.size(); i++) {
            if (slots.get(i) == null) {
                slots.set(i, s);
                return i;
            }
        }
        slots.add(s);
        return slots.size() - 1;
    }

    /** The sequence with this id, or an {@link IllegalArgumentException} naming it. */
    public S get(int id) {
        S s = id >= 0 && id < slots.size() ? slots.get(id) : null;
        if (s == null) throw new IllegalArgumentException("unknown sequence " + id);
        return s;
    }

    public void remove(int id) {
        get(id);
        slots.set(id, null);
    }

    /** Ids of the open sequences, increasing. */
    public List<Integer> ids() {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < slots.size(); i++) if (slots.get(i) != null) ids.add(i);
        return ids;
    }

    /** The open sequences, by id. */
    public List<S> open() {
        List<S> open = new ArrayList<>();
        for (S s : slots) if (s != null) open.add(s);
        return open;
    }

    public void clear() {
        slots.clear();
    }
}
