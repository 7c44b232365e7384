package io.kvserve.model.chat;

import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.objects.SafeString;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Python {@code str} methods for templates written against jinja2 ({@code content.strip()},
 * {@code desc.endswith(".")}, {@code content.split('</think>')[-1]}); jinjava would otherwise call the
 * Java methods, whose names and semantics differ ({@code split} takes a regex, {@code startsWith}).
 * Placed before jinjava's own resolver; anything not handled here falls through to it.
 */
final class PythonMethods extends ELResolver {
    private static final Set<String> METHODS = Set.of(
            "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit", "splitlines",
            "upper", "lower", "title", "capitalize", "replace", "find", "rfind", "count", "join",
            "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower");

    private PythonMethods() {}

    static ELResolver resolver() {
        CompositeELResolver r = new CompositeELResolver();
        r.add(new PythonMethods());
        r.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        return r;
    }

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String || base instanceof SafeString) || method == null || !METHODS.contains(method.toString())) return null;
        String s = base.toString();
        Object[] p = params == null ? new Object[0] : params;
        Object result = call(s, method.toString(), p);
        context.setPropertyResolved(true);
        return result;
    }

    static Object call(String s, String name, Object[] p) {
        return switch (name) {
            case "strip" -> strip(s, arg(p, 0), true, true);
            case "lstrip" -> strip(s, arg(p, 0), true, false);
            case "rstrip" -> strip(s, arg(p, 0), false, true);
            case "startswith" -> matchesAny(s, p, true);
            case "endswith" -> matchesAny(s, p, false);
            case "split" -> split(s, arg(p, 0), p.length > 1 ? toInt(p[1]) : -1);
            case "rsplit" -> rsplit(s, arg(p, 0), p.length > 1 ? toInt(p[1]) : -1);
            case "splitlines" -> splitlines(s);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "replace" -> replace(s, str(p, 0), str(p, 1), p.length > 2 ? toInt(p[2]) : -1);
            case "find" -> s.indexOf(str(p, 0));
            case "rfind" -> s.lastIndexOf(str(p, 0));
            case "count" -> count(s, str(p, 0));
            case "join" -> join(s, p.length > 0 ? p[0] : null);
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            case "isupper" -> s.chars().anyMatch(Character::isLetter) && s.equals(s.toUpperCase(Locale.ROOT));
            case "islower" -> s.chars().anyMatch(Character::isLetter) && s.equals(s.toLowerCase(Locale.ROOT));
            default -> throw new IllegalStateException("unhandled string method " + name);
        };
    }

    private static List<Object> splitlines(String s) {
        List<Object> out = new ArrayList<>(List.of(s.split("\r\n|\r|\n", -1)));
        if (!out.isEmpty() && out.getLast().toString().isEmpty()) out.removeLast();
        return out;
    }

    private static String arg(Object[] p, int i) {
        return i < p.length && p[i] != null ? p[i].toString() : null;
    }

    private static String str(Object[] p, int i) {
        if (i >= p.length || p[i] == null) throw new IllegalArgumentException("string method needs argument " + (i + 1));
        return p[i].toString();
    }

    private static int toInt(Object o) {
        if (o instanceof Number n) return n.intValue();
        return Integer.parseInt(o.toString().trim());
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int a = 0, b = s.length();
        if (left) while (a < b && stripped(s.charAt(a), chars)) a++;
        if (right) while (b > a && stripped(s.charAt(b - 1), chars)) b--;
        return s.substring(a, b);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    private static boolean matchesAny(String s, Object[] p, boolean prefix) {
        if (p.length == 0 || p[0] == null) throw new IllegalArgumentException((prefix ? "startswith" : "endswith") + " needs an argument");
        if (p[0] instanceof Collection<?> c) {
            for (Object o : c) if (prefix ? s.startsWith(String.valueOf(o)) : s.endsWith(String.valueOf(o))) return true;
            return false;
        }
        String x = p[0].toString();
        return prefix ? s.startsWith(x) : s.endsWith(x);
    }

    static List<Object> split(String s, String sep, int maxSplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && Character.isWhitespace(s.charAt(i))) i++;
                if (i >= n) break;
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !Character.isWhitespace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new IllegalArgumentException("split: empty separator");
        int from = 0;
        while (maxSplit < 0 || out.size() < maxSplit) {
            int k = s.indexOf(sep, from);
            if (k < 0) break;
            out.add(s.substring(from, k));
            from = k + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<Object> rsplit(String s, String sep, int maxSplit) {
        if (maxSplit < 0 || sep == null) return split(s, sep, maxSplit);
        if (sep.isEmpty()) throw new IllegalArgumentException("rsplit: empty separator");
        List<Object> out = new ArrayList<>();
        int end = s.length();
        while (out.size() < maxSplit) {
            int k = s.lastIndexOf(sep, end - sep.length());
            if (k < 0) break;
            out.addFirst(s.substring(k + sep.length(), end));
            end = k;
        }
        out.addFirst(s.substring(0, end));
        return out;
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevLetter = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            sb.append(prevLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevLetter = Character.isLetter(c);
        }
        return sb.toString();
    }

    private static String replace(String s, String old, String rep, int count) {
        if (count < 0) return s.replace(old, rep);
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (int done = 0; done < count; done++) {
            int k = s.indexOf(old, from);
            if (k < 0) break;
            sb.append(s, from, k).append(rep);
            from = k + old.length();
            if (old.isEmpty()) {
                if (from < s.length()) sb.append(s.charAt(from));
                from++;
                if (from > s.length()) break;
            }
        }
        if (from <= s.length()) sb.append(s, Math.min(from, s.length()), s.length());
        return sb.toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        int n = 0;
        for (int k = s.indexOf(sub); k >= 0; k = s.indexOf(sub, k + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Object items) {
        if (items == null) throw new IllegalArgumentException("join needs an iterable");
        Iterable<?> it = items instanceof Iterable<?> i ? i : List.of(items.toString().split(""));
        StringBuilder sb = new StringBuilder();
        boolean first = true;
        for (Object o : it) {
            if (!first) sb.append(sep);
            first = false;
            sb.append(o);
        }
        return sb.toString();
    }

    // Only method calls are handled here; property access falls through to jinjava.
    @Override public Class<?> getCommonPropertyType(ELContext context, Object base) { return null; }
    @Override public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) { return null; }
    @Override public Class<?> getType(ELContext context, Object base, Object property) { return null; }
    /** {@code s[i]} on a string, with Python's negative indices; other property reads fall through. */
    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        if (!(base instanceof String || base instanceof SafeString) || property == null) return null;
        // jinjava turns an integer subscript into its decimal string before asking the resolvers
        String p = property.toString();
        if (!p.matches("-?\\d{1,9}")) return null;
        String s = base.toString();
        long i = Long.parseLong(p);
        if (i < 0) i += s.length();
        context.setPropertyResolved(true);
        return i >= 0 && i < s.length() ? String.valueOf(s.charAt((int) i)) : null;
    }

    @Override public boolean isReadOnly(ELContext context, Object base, Object property) { return true; }
    @Override public void setValue(ELContext context, Object base, Object property, Object value) { }
}
