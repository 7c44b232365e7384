package io.kvserve.model.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where jinjava parses jinja2 differently, and the fixes, applied to the code inside {@code {% %}} and
 * {@code {{ }}} (never to string literals):
 * <ul>
 * <li>{@code not x is defined} means {@code not (x is defined)} in jinja2 (tests bind tighter than
 * {@code not}) but {@code (not x) is defined} in jinjava: parentheses are added.</li>
 * <li>{@code f(k=a|length - 1)} passes {@code a|length - 1} as {@code k} in jinja2 but jinjava
 * subtracts 1 from the named parameter: a named argument with an operator gets parentheses.</li>
 * <li>{@code xs[::-1]} (step slicing) does not parse in jinjava: it becomes {@code (xs|reverse)}.</li>
 * <li>{@code loop.previtem} / {@code loop.nextitem} are missing: see {@link LoopItems}.</li>
 * <li>the {@code {% filter %}} block tag is missing: {@link FilterBlockTag}.</li>
 * <li>jinjava renders an unknown filter as nothing; jinja2 refuses to compile: {@link #filterNames}
 * lists them so the template can be checked up front.</li>
 * </ul>
 */
final class Jinja2Compat {
    private Jinja2Compat() {}

    // not <name(.attr|[index])*> is [not] <test>
    private static final Pattern NOT_IS = Pattern.compile(
            "(?<![\\w.])not\\s+([A-Za-z_]\\w*(?:\\s*\\.\\s*[A-Za-z_]\\w*|\\[[^\\[\\]]*\\])*)\\s+is\\s+(not\\s+)?([A-Za-z_]\\w*)\\b");

    private static final Pattern REVERSE_SLICE = Pattern.compile(
            "([A-Za-z_]\\w*(?:\\.[A-Za-z_]\\w*|\\[[^\\[\\]]*\\])*)\\[\\s*:\\s*:\\s*-\\s*1\\s*\\]");
    private static final Pattern NAMED_ARG = Pattern.compile("[(,]\\s*[A-Za-z_]\\w*\\s*=(?!=)");
    private static final Pattern FILTER_USE = Pattern.compile("(?<!\\|)\\|\\s*([A-Za-z_]\\w*)");
    private static final Pattern FILTER_TAG = Pattern.compile("^\\s*-?\\s*filter\\s+(.*?)\\s*-?\\s*$", Pattern.DOTALL);

    /** The names of all filters the template applies, from {@code x | name} and {@code {% filter name %}}. */
    static java.util.Set<String> filterNames(String src) {
        java.util.Set<String> names = new java.util.TreeSet<>();
        forEachTag(src, code -> {
            String m = mask(code);
            Matcher f = FILTER_USE.matcher(m);
            while (f.find()) names.add(f.group(1));
            Matcher t = FILTER_TAG.matcher(m);
            if (t.matches()) for (String n : t.group(1).split("\\s*\\|\\s*")) if (n.matches("[A-Za-z_]\\w*")) names.add(n);
            return code;
        });
        return names;
    }

    /** The source with the rewrites listed in the class comment. */
    static String rewrite(String src) {
        LoopItems loops = new LoopItems();
        return forEachTag(src, code -> loops.fix(fixNamedArguments(fixReverseSlices(fixPrecedence(code)))));
    }

    private static final Pattern FOR_TAG = Pattern.compile("^\\s*-?\\s*for\\s+[A-Za-z_]\\w*\\s+in\\s+(.+?)\\s*-?\\s*$", Pattern.DOTALL);
    private static final Pattern ANY_FOR_TAG = Pattern.compile("^\\s*-?\\s*for\\b.*", Pattern.DOTALL);
    private static final Pattern ENDFOR_TAG = Pattern.compile("^\\s*-?\\s*endfor\\s*-?\\s*$");
    private static final Pattern LOOP_ITEM = Pattern.compile("(?<![\\w.])loop\\s*\\.\\s*(previtem|nextitem)\\b");

    /**
     * {@code loop.previtem} and {@code loop.nextitem} (jinja2 2.10+; Hermes templates use them for
     * tool results) do not exist in jinjava: inside {@code {% for x in EXPR %}} they become
     * {@code EXPR[loop.index0 - 1]} / {@code EXPR[loop.index0 + 1]} guarded by {@code loop.first} /
     * {@code loop.last}. Loops with an {@code if} filter, {@code recursive} or several targets are left alone.
     */
    private static final class LoopItems {
        private final java.util.ArrayDeque<String> iterables = new java.util.ArrayDeque<>();

        String fix(String code) {
            String masked = mask(code);
            if (ENDFOR_TAG.matcher(masked).matches()) {
                iterables.poll();
                return code;
            }
            Matcher f = FOR_TAG.matcher(masked);
            if (ANY_FOR_TAG.matcher(masked).matches()) {
                // the for tag itself sees the enclosing loop, so push after rewriting it
                String out = replaceItems(code, masked);
                boolean simple = f.matches() && !Pattern.compile("\\b(if|recursive)\\b").matcher(f.group(1)).find();
                iterables.push(simple ? code.substring(f.start(1), f.end(1)) : "");
                return out;
            }
            return replaceItems(code, masked);
        }

        private String replaceItems(String code, String masked) {
            String expr = iterables.peek();
            if (expr == null || expr.isEmpty()) return code;
            Matcher m = LOOP_ITEM.matcher(masked);
            StringBuilder sb = new StringBuilder(code.length() + 64);
            int last = 0;
            while (m.find()) {
                sb.append(code, last, m.start());
                if (m.group(1).equals("previtem")) sb.append("((").append(expr).append(")[loop.index0 - 1] if not loop.first else none)");
                else sb.append("((").append(expr).append(")[loop.index0 + 1] if not loop.last else none)");
                last = m.end();
            }
            sb.append(code, last, code.length());
            return sb.toString();
        }
    }

    private static String forEachTag(String src, java.util.function.UnaryOperator<String> fix) {
        StringBuilder out = new StringBuilder(src.length() + 16);
        int i = 0;
        while (i < src.length()) {
            int open = nextOpen(src, i);
            if (open < 0) {
                out.append(src, i, src.length());
                break;
            }
            out.append(src, i, open + 2);
            String close = src.charAt(open + 1) == '%' ? "%}" : "}}";
            int end = findClose(src, open + 2, close);
            if (end < 0) { // unterminated: leave it to the parser to report
                out.append(src, open + 2, src.length());
                break;
            }
            out.append(fix.apply(src.substring(open + 2, end)));
            out.append(close);
            i = end + 2;
        }
        return out.toString();
    }

    private static int nextOpen(String s, int from) {
        int a = s.indexOf("{%", from), b = s.indexOf("{{", from), c = s.indexOf("{#", from);
        int best = -1;
        for (int x : new int[] {a, b}) if (x >= 0 && (best < 0 || x < best)) best = x;
        if (c >= 0 && (best < 0 || c < best)) { // skip a comment entirely
            int end = s.indexOf("#}", c + 2);
            return end < 0 ? -1 : nextOpen(s, end + 2);
        }
        return best;
    }

    private static int findClose(String s, int from, String close) {
        char quote = 0;
        for (int k = from; k < s.length() - 1; k++) {
            char ch = s.charAt(k);
            if (quote != 0) {
                if (ch == '\\') k++;
                else if (ch == quote) quote = 0;
            } else if (ch == '\'' || ch == '"') {
                quote = ch;
            } else if (ch == close.charAt(0) && s.charAt(k + 1) == close.charAt(1)) {
                return k;
            }
        }
        return -1;
    }

    static String fixPrecedence(String code) {
        Matcher m = NOT_IS.matcher(mask(code));
        StringBuilder sb = new StringBuilder(code.length() + 8);
        int last = 0;
        while (m.find()) {
            sb.append(code, last, m.start());
            sb.append("not (").append(code, m.start(1), m.end(1)).append(" is ");
            if (m.group(2) != null) sb.append("not ");
            sb.append(code, m.start(3), m.end(3)).append(')');
            last = m.end();
        }
        sb.append(code, last, code.length());
        return sb.toString();
    }

    static String fixReverseSlices(String code) {
        Matcher m = REVERSE_SLICE.matcher(mask(code));
        StringBuilder sb = new StringBuilder(code.length() + 8);
        int last = 0;
        while (m.find()) {
            sb.append(code, last, m.start()).append('(').append(code, m.start(1), m.end(1)).append("|reverse)");
            last = m.end();
        }
        sb.append(code, last, code.length());
        return sb.toString();
    }

    static String fixNamedArguments(String code) {
        String masked = mask(code);
        Matcher m = NAMED_ARG.matcher(masked);
        StringBuilder sb = new StringBuilder(code.length() + 8);
        int last = 0;
        while (m.find(last)) {
            int valueStart = m.end();
            int depth = 0, k = valueStart;
            for (; k < masked.length(); k++) {
                char c = masked.charAt(k);
                if (c == '(' || c == '[' || c == '{') depth++;
                else if ((c == ')' || c == ']' || c == '}') && depth-- == 0) break;
                else if (c == ',' && depth == 0) break;
            }
            if (k >= masked.length() || depth > 0) break; // unbalanced: leave it to the parser to report
            String value = masked.substring(valueStart, k);
            sb.append(code, last, valueStart);
            if (value.matches("(?s).*([|+*/~%<>-]|\\band\\b|\\bor\\b|\\bif\\b|\\bnot\\b|==|!=).*")) {
                sb.append('(').append(code, valueStart, k).append(')');
            } else {
                sb.append(code, valueStart, k);
            }
            last = k;
        }
        sb.append(code, last, code.length());
        return sb.toString();
    }

    /** A copy of {@code code} with the contents of string literals blanked, so patterns never match inside quotes. */
    static String mask(String code) {
        char[] masked = code.toCharArray();
        char quote = 0;
        for (int k = 0; k < masked.length; k++) {
            char ch = masked[k];
            if (quote != 0) {
                if (ch == quote) quote = 0;
                else masked[k] = 'x';
                if (ch == '\\' && k + 1 < masked.length) masked[++k] = 'x';
            } else if (ch == '\'' || ch == '"') {
                quote = ch;
            }
        }
        return new String(masked);
    }

    /** {@code {% filter trim %}...{% endfilter %}}: renders the body, then applies the filters ({@code a | b}). */
    static final class FilterBlockTag implements Tag {
        @Override
        public String getName() {
            return "filter";
        }

        @Override
        public String getEndTagName() {
            return "endfilter";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder body = new StringBuilder();
            for (Node child : tagNode.getChildren()) body.append(child.render(interpreter).getValue());
            Object value = body.toString();
            for (String name : tagNode.getHelpers().trim().split("\\s*\\|\\s*")) {
                if (name.isEmpty()) continue;
                Filter f = interpreter.getContext().getFilter(name);
                if (f == null) throw new IllegalArgumentException("{% filter " + name + " %}: unknown filter '" + name + "'");
                value = f.filter(value, interpreter);
            }
            return String.valueOf(value);
        }
    }
}
