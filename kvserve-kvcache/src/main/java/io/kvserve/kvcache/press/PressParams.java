package io.kvserve.kvcache.press;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The {@code k=v,...} parameters of one press on the command line. Each getter takes its key out;
 * {@link #done} fails on any key left, naming the keys the press accepts.
 */
public final class PressParams {
    private final String press;
    private final Map<String, String> values = new LinkedHashMap<>();
    private final Set<String> accepted = new java.util.LinkedHashSet<>();

    public PressParams(String press, String text) {
        this.press = press;
        if (text == null || text.isBlank()) return;
        for (String kv : text.split(",")) {
            String[] p = kv.split("=", 2);
            if (p.length != 2 || p[0].isBlank() || p[1].isBlank()) {
                throw new IllegalArgumentException("press '" + press + "': parameter '" + kv + "' is not of the form key=value");
            }
            if (values.put(p[0].trim(), p[1].trim()) != null) throw new IllegalArgumentException("press '" + press + "': parameter '" + p[0] + "' given twice");
        }
    }

    public String string(String key, String dflt) {
        accepted.add(key);
        String v = values.remove(key);
        return v != null ? v : dflt;
    }

    public double real(String key, double dflt) {
        String v = string(key, null);
        if (v == null) return dflt;
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("press '" + press + "': " + key + " must be a number, got '" + v + "'");
        }
    }

    public int integer(String key, int dflt) {
        String v = string(key, null);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("press '" + press + "': " + key + " must be an integer, got '" + v + "'");
        }
    }

    /** A list written with ';' between the numbers, e.g. {@code keep=0.9;0.7;0.5}. */
    public double[] reals(String key) {
        String v = string(key, null);
        if (v == null) return null;
        String[] parts = v.split(";");
        double[] r = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                r[i] = Double.parseDouble(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("press '" + press + "': " + key + " must be numbers separated by ';', got '" + v + "'");
            }
        }
        return r;
    }

    public void done() {
        if (!values.isEmpty()) {
            throw new IllegalArgumentException("press '" + press + "' has no parameter " + String.join(", ", values.keySet())
                    + (accepted.isEmpty() ? "; it takes none" : "; it takes " + String.join(", ", accepted)));
        }
    }

    static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    static void ratio(String press, double ratio) {
        require(ratio >= 0 && ratio < 1, press + ": ratio (the fraction of tokens evicted) must be in [0, 1), got " + ratio);
    }

    static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e9 ? String.valueOf((long) d) : String.valueOf(d);
    }
}
