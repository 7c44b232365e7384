package io.kvserve.model.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Collection;
import java.util.Map;

/**
 * JSON exactly as Python's {@code json.dumps(x, ensure_ascii=False, indent=indent)} writes it, which
 * is what transformers' {@code tojson} produces: {@code ", "} and {@code ": "} separators without
 * indent, {@code ","} plus newlines with indent, keys in insertion order, non-ASCII kept.
 */
final class PythonJson {
    private static final int MAX_DEPTH = 64;

    private PythonJson() {}

    static String dumps(Object value, int indent) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, indent, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int indent, int depth) {
        if (depth > MAX_DEPTH) throw new IllegalArgumentException("tojson: value nested deeper than " + MAX_DEPTH + " levels");
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte || v instanceof BigInteger) {
            sb.append(v);
        } else if (v instanceof Float || v instanceof Double || v instanceof BigDecimal) {
            sb.append(pythonFloat(((Number) v).doubleValue()));
        } else if (v instanceof Number n) {
            sb.append(n);
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) sb.append(indent >= 0 ? "," : ", ");
                first = false;
                newline(sb, indent, depth + 1);
                string(sb, String.valueOf(e.getKey()));
                sb.append(": ");
                write(sb, e.getValue(), indent, depth + 1);
            }
            newline(sb, indent, depth);
            sb.append('}');
        } else if (v instanceof Collection<?> || v.getClass().isArray()) {
            Object[] items = v instanceof Collection<?> c ? c.toArray() : boxed(v);
            if (items.length == 0) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < items.length; i++) {
                if (i > 0) sb.append(indent >= 0 ? "," : ", ");
                newline(sb, indent, depth + 1);
                write(sb, items[i], indent, depth + 1);
            }
            newline(sb, indent, depth);
            sb.append(']');
        } else {
            string(sb, v.toString());
        }
    }

    private static Object[] boxed(Object array) {
        int n = Array.getLength(array);
        Object[] out = new Object[n];
        for (int i = 0; i < n; i++) out[i] = Array.get(array, i);
        return out;
    }

    private static void newline(StringBuilder sb, int indent, int depth) {
        if (indent < 0) return;
        sb.append('\n');
        sb.repeat(' ', indent * depth);
    }

    static String pythonFloat(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == Math.rint(d) && Math.abs(d) < 1e16) return BigDecimal.valueOf(d).toBigInteger() + ".0";
        String s = Double.toString(d);
        int e = s.indexOf('E');
        if (e < 0) return s;
        String mant = s.substring(0, e);
        if (mant.endsWith(".0")) mant = mant.substring(0, mant.length() - 2);
        int exp = Integer.parseInt(s.substring(e + 1));
        return mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    /** {@code x | tojson} and {@code x | tojson(indent=4)}. */
    static final class ToJsonFilter implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            int indent = args.length > 0 && args[0] != null ? parseIndent(args[0]) : -1;
            return dumps(var, indent);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object ind = kwargs.containsKey("indent") ? kwargs.get("indent") : (args.length > 0 ? args[0] : null);
            int indent = ind == null ? -1 : parseIndent(ind.toString());
            return dumps(var, indent);
        }

        private static int parseIndent(String s) {
            try {
                int v = (int) Double.parseDouble(s.trim());
                if (v < 0 || v > 16) throw new IllegalArgumentException("tojson indent must be 0 to 16, got " + s);
                return v;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("tojson indent must be a number, got '" + s + "'");
            }
        }
    }
}
