package io.kvserve.model.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where jinjava parses jinja2 differently, and the fixes: {@code not x is defined} means
 * {@code not (x is defined)} in jinja2 (tests bind tighter than {@code not}) but
 * {@code (not x) is defined} in jinjava, so the source is rewritten with explicit parentheses; the
 * {@code {% filter %}} block tag is missing, so it is added.
 */
final class Jinja2Compat {
    private Jinja2Compat() {}

    // not <name(.attr|[index])*> is [not] <test>
    private static final Pattern NOT_IS = Pattern.compile(
            "(?<![\\w.])not\\s+([A-Za-z_]\\w*(?:\\s*\\.\\s*[A-Za-z_]\\w*|\\[[^\\[\\]]*\\])*)\\s+is\\s+(not\\s+)?([A-Za-z_]\\w*)\\b");

    /** The source with jinja2's precedence made explicit inside {@code {% %}} and {@code {{ }}}. */
    static String rewrite(String src) {
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
            out.append(fixPrecedence(src.substring(open + 2, end)));
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
        // match on a copy whose string literals are blanked, so text inside quotes is never rewritten
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
        Matcher m = NOT_IS.matcher(new String(masked));
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
