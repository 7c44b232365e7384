package io.kvserve.model.sampling;

import java.util.List;
import java.util.Objects;

/**
 * Finds stop strings in streamed text. Feed each decoded piece; the result says what can be shown to
 * the client now. Text that could still turn out to be the start of a stop string is held back
 * until the next piece decides it, so a partial stop string is never emitted; the stop string itself
 * and everything after it are never emitted. At the end of generation without a stop,
 * {@link #flush()} releases what is held back.
 *
 * <p>A stop string may span any number of pieces. When several stop strings occur, the one that
 * completes first wins (at equal ends, the longer), exactly as if the text had arrived one character
 * at a time: the result never depends on how the text was cut into pieces.
 */
public final class StopStringMatcher {
    /** What a {@link #feed} allows: {@code emit} is safe to show; {@code stop} is the stop string that ended generation, or null. */
    public record Result(String emit, String stop) {
        public boolean stopped() {
            return stop != null;
        }
    }

    private static final Result NOTHING = new Result("", null);

    private final String[] stops;
    private final StringBuilder held = new StringBuilder();
    private String matched;

    public StopStringMatcher(List<String> stops) {
        Objects.requireNonNull(stops, "stops");
        this.stops = stops.toArray(String[]::new);
        for (int i = 0; i < this.stops.length; i++) {
            if (this.stops[i] == null || this.stops[i].isEmpty()) throw new IllegalArgumentException("stop string #" + i + " must be non-empty");
        }
    }

    /** Adds generated text; after a stop has matched, further pieces are ignored. */
    public Result feed(String piece) {
        Objects.requireNonNull(piece, "piece");
        if (matched != null) return new Result("", matched);
        held.append(piece);
        if (stops.length == 0) return release(held.length());

        int bestStart = -1, bestEnd = Integer.MAX_VALUE;
        String best = null;
        for (String st : stops) {
            int at = held.indexOf(st);
            if (at < 0) continue;
            int end = at + st.length();
            if (end < bestEnd || (end == bestEnd && at < bestStart)) {
                bestStart = at;
                bestEnd = end;
                best = st;
            }
        }
        if (best != null) {
            matched = best;
            String emit = held.substring(0, bestStart);
            held.setLength(0);
            return new Result(emit, best);
        }
        return release(safeLength());
    }

    /** The text held back at the end of generation (no stop matched); empty after a stop. */
    public String flush() {
        if (matched != null) return "";
        String rest = held.toString();
        held.setLength(0);
        return rest;
    }

    /** The stop string that matched, or null. */
    public String matchedStop() {
        return matched;
    }

    public boolean stopped() {
        return matched != null;
    }

    /** Characters currently held back. */
    public int heldLength() {
        return held.length();
    }

    /** How much of {@code held} cannot be the start of a stop string: up to the earliest suffix that is a prefix of one. */
    private int safeLength() {
        int n = held.length();
        for (int i = Math.max(0, n - maxStopLength() + 1); i < n; i++) {
            if (isPrefixOfAStop(i)) return i;
        }
        return n;
    }

    private boolean isPrefixOfAStop(int from) {
        int len = held.length() - from;
        for (String s : stops) {
            if (s.length() > len && regionMatches(s, from, len)) return true;
        }
        return false;
    }

    private boolean regionMatches(String s, int from, int len) {
        for (int k = 0; k < len; k++) if (held.charAt(from + k) != s.charAt(k)) return false;
        return true;
    }

    private int maxStopLength() {
        int m = 0;
        for (String s : stops) m = Math.max(m, s.length());
        return m;
    }

    private Result release(int upTo) {
        // never split a surrogate pair: the low half may arrive with the next piece
        if (upTo > 0 && Character.isHighSurrogate(held.charAt(upTo - 1))) upTo--;
        if (upTo == 0) return NOTHING;
        String emit = held.substring(0, upTo);
        held.delete(0, upTo);
        return new Result(emit, null);
    }
}
