package io.kvserve.model.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The global functions and filters HuggingFace chat templates expect beyond what jinjava ships. */
final class TemplateFunctions {
    private TemplateFunctions() {}

    /** {@code raise_exception(msg)}: the template refuses the conversation. */
    public static String raiseException(String message) {
        throw new TemplateRaisedException(message == null ? "(no message)" : message);
    }

    /** {@code strftime_now(fmt)}: the current date formatted with Python's strftime directives. */
    public static String strftimeNow(String format) {
        JinjavaInterpreter interp = JinjavaInterpreter.getCurrent();
        Object now = interp == null ? null : interp.getContext().get(ChatTemplate.NOW_VARIABLE);
        ZonedDateTime t = now instanceof ZonedDateTime z ? z : ZonedDateTime.now();
        return strftime(format == null ? "" : format, t);
    }

    /** Python {@code time.strftime} in the C locale for the common directives; unknown ones are kept literally. */
    static String strftime(String fmt, ZonedDateTime t) {
        StringBuilder sb = new StringBuilder(fmt.length() + 16);
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 == fmt.length()) {
                sb.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            switch (d) {
                case 'd' -> sb.append(pad2(t.getDayOfMonth()));
                case 'e' -> sb.append(t.getDayOfMonth() < 10 ? " " : "").append(t.getDayOfMonth());
                case 'm' -> sb.append(pad2(t.getMonthValue()));
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> sb.append(pad2(t.getYear() % 100));
                case 'H' -> sb.append(pad2(t.getHour()));
                case 'I' -> sb.append(pad2(t.getHour() % 12 == 0 ? 12 : t.getHour() % 12));
                case 'M' -> sb.append(pad2(t.getMinute()));
                case 'S' -> sb.append(pad2(t.getSecond()));
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'j' -> sb.append(String.format("%03d", t.getDayOfYear()));
                case 'Z' -> sb.append(t.getZone().getId());
                case '%' -> sb.append('%');
                default -> sb.append('%').append(d);
            }
        }
        return sb.toString();
    }

    private static String pad2(int v) {
        return v < 10 ? "0" + v : Integer.toString(v);
    }

    /** {@code x | trim} and {@code x | trim(chars)} as Python's {@code str.strip}: jinjava's trims only ASCII control and space. */
    static final class TrimFilter implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var == null) return "";
            return PythonMethods.strip(var.toString(), args.length > 0 ? args[0] : null, true, true);
        }
    }

    /** {@code xs | min} and {@code xs | max} (jinja2 has them, jinjava does not); strings compare case-insensitively as in jinja2. */
    static final class ExtremumFilter implements Filter {
        private final boolean max;

        ExtremumFilter(boolean max) {
            this.max = max;
        }

        @Override
        public String getName() {
            return max ? "max" : "min";
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (!(var instanceof Iterable<?> items)) throw new IllegalArgumentException(getName() + " filter expects a sequence, got " + (var == null ? "none" : var.getClass().getSimpleName()));
            Object best = null;
            for (Object o : items) {
                if (best == null) {
                    best = o;
                    continue;
                }
                int c = o instanceof String a && best instanceof String b ? a.compareToIgnoreCase(b)
                        : o instanceof Number a && best instanceof Number b ? Double.compare(a.doubleValue(), b.doubleValue())
                        : ((Comparable) o).compareTo(best);
                if (max ? c > 0 : c < 0) best = o;
            }
            return best;
        }
    }

    /** {@code x | items}: the (key, value) pairs of a mapping, as jinja2's items filter. */
    static final class ItemsFilter implements Filter {
        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var == null) return List.of();
            if (var instanceof Map<?, ?> m) {
                List<List<Object>> out = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    List<Object> pair = new ArrayList<>(2);
                    pair.add(e.getKey());
                    pair.add(e.getValue());
                    out.add(pair);
                }
                return out;
            }
            throw new IllegalArgumentException("items filter expects a mapping, got " + var.getClass().getSimpleName());
        }
    }
}
