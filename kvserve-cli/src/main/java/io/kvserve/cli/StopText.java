package io.kvserve.cli;

import java.util.List;

/**
 * Holds back generated text that could be the start of a stop string, so that a stop string is
 * never printed, even when it spans tokens.
 */
final class StopText {
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean matched;

    StopText(List<String> stops) {
        this.stops = stops == null ? List.of() : stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    boolean matched() {
        return matched;
    }

    /** Adds text and returns what can be emitted now. */
    String feed(String text) {
        if (matched) return "";
        pending.append(text);
        int cut = -1;
        for (String s : stops) {
            int i = pending.indexOf(s);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        if (cut >= 0) {
            matched = true;
            String out = pending.substring(0, cut);
            pending.setLength(0);
            return out;
        }
        int keep = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, pending.length()); k > keep; k--) {
                if (pending.toString().regionMatches(pending.length() - k, s, 0, k)) {
                    keep = k;
                    break;
                }
            }
        }
        String out = pending.substring(0, pending.length() - keep);
        pending.delete(0, pending.length() - keep);
        return out;
    }

    String flush(String tail) {
        String s = feed(tail);
        if (matched) return s;
        String rest = pending.toString();
        pending.setLength(0);
        return s + rest;
    }
}
