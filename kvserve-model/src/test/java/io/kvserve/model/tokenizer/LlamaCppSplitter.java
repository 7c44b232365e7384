package io.kvserve.model.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * A port of llama.cpp's hand-written pre-tokenizers ({@code unicode_regex_split_custom_gpt2},
 * {@code _llama3}, {@code _qwen2} in unicode.cpp), used only as the oracle that the regexes of
 * {@link PreTokenizer} are checked against. Categories come from {@link Character}, so the check
 * isolates the regex translation from Unicode-version differences.
 */
final class LlamaCppSplitter {
    enum Kind { GPT2, LLAMA3, QWEN2 }

    private static final int OUT_OF_RANGE = -1;
    private final int[] cpts;
    private final List<String> out = new ArrayList<>();
    private int prevEnd;

    private LlamaCppSplitter(String text) {
        cpts = text.codePoints().toArray();
    }

    static List<String> split(String text, Kind kind) {
        LlamaCppSplitter s = new LlamaCppSplitter(text);
        if (kind == Kind.GPT2) s.gpt2();
        else s.llama3(kind == Kind.LLAMA3 ? 3 : 1);
        return s.out;
    }

    static boolean isWhitespace(int cp) {
        return cp == 0x09 || cp == 0x0A || cp == 0x0B || cp == 0x0C || cp == 0x0D || cp == 0x20 || cp == 0x85 || cp == 0xA0
                || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    private int cpt(int pos) {
        return pos >= 0 && pos < cpts.length ? cpts[pos] : OUT_OF_RANGE;
    }

    private boolean inRange(int pos) {
        return pos >= 0 && pos < cpts.length;
    }

    private boolean letter(int pos) {
        return inRange(pos) && Character.isLetter(cpts[pos]);
    }

    private boolean number(int pos) {
        if (!inRange(pos)) return false;
        int t = Character.getType(cpts[pos]);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }

    private boolean space(int pos) {
        return inRange(pos) && isWhitespace(cpts[pos]);
    }

    /** {@code !(is_whitespace | is_letter | is_number) && as_uint()}: any in-range non-space, non-letter, non-number. */
    private boolean other(int pos) {
        return inRange(pos) && !space(pos) && !letter(pos) && !number(pos);
    }

    private int addToken(int end) {
        int len = end - prevEnd;
        if (len > 0) out.add(new String(cpts, prevEnd, len));
        prevEnd = end;
        return len;
    }

    private void gpt2() {
        int end = cpts.length;
        for (int pos = 0; pos < end; ) {
            int cpt = cpt(pos);
            if (cpt == '\'' && pos + 1 < end) {
                int next = cpt(pos + 1);
                if (next == 's' || next == 't' || next == 'm' || next == 'd') {
                    pos += addToken(pos + 2);
                    continue;
                }
                if (pos + 2 < end) {
                    int nn = cpt(pos + 2);
                    if ((next == 'r' && nn == 'e') || (next == 'v' && nn == 'e') || (next == 'l' && nn == 'l')) {
                        pos += addToken(pos + 3);
                        continue;
                    }
                }
            }
            int at = cpt == ' ' ? pos + 1 : pos;
            if (letter(at)) {
                pos = at;
                while (letter(pos)) pos++;
                addToken(pos);
                continue;
            }
            if (number(at)) {
                pos = at;
                while (number(pos)) pos++;
                addToken(pos);
                continue;
            }
            if (other(at)) {
                pos = at;
                while (other(pos)) pos++;
                addToken(pos);
                continue;
            }
            int n = 0;
            while (space(pos + n)) n++;
            if (n > 1 && cpt(pos + n) != OUT_OF_RANGE) {
                pos += n - 1;
                addToken(pos);
                continue;
            }
            if (n > 0) {
                pos += n;
                addToken(pos);
                continue;
            }
            addToken(++pos);
        }
    }

    private void llama3(int maxDigits) {
        int end = cpts.length;
        for (int pos = 0; pos < end; ) {
            int cpt = cpt(pos);
            if (cpt == '\'' && pos + 1 < end) {
                int next = Character.toLowerCase(cpt(pos + 1));
                if (next == 's' || next == 't' || next == 'm' || next == 'd') {
                    pos += addToken(pos + 2);
                    continue;
                }
                if (pos + 2 < end) {
                    int nn = Character.toLowerCase(cpt(pos + 2));
                    if ((next == 'r' && nn == 'e') || (next == 'v' && nn == 'e') || (next == 'l' && nn == 'l')) {
                        pos += addToken(pos + 3);
                        continue;
                    }
                }
            }
            if (!(cpt == '\r' || cpt == '\n' || number(pos))) {
                if (letter(pos) || letter(pos + 1)) {
                    pos++;
                    while (letter(pos)) pos++;
                    addToken(pos);
                    continue;
                }
            }
            if (number(pos)) {
                int ini = pos;
                while (number(pos)) {
                    if (++pos - ini >= maxDigits) {
                        addToken(pos);
                        ini = pos;
                    }
                }
                addToken(pos);
                continue;
            }
            int at = cpt == ' ' ? pos + 1 : pos;
            // llama.cpp tests the flags of the first char here (always set in range), not of 'at'
            if (!space(at) && !letter(at) && !number(at)) {
                pos = at;
                while (other(pos)) pos++;
                while (cpt(pos) == '\r' || cpt(pos) == '\n') pos++;
                addToken(pos);
                continue;
            }
            int n = 0, lastEndOfLine = 0;
            while (space(pos + n)) {
                int c = cpt(pos + n);
                if (c == '\r' || c == '\n') lastEndOfLine = pos + n + 1;
                n++;
            }
            if (lastEndOfLine > 0) {
                pos = lastEndOfLine;
                addToken(pos);
                continue;
            }
            if (n > 1 && cpt(pos + n) != OUT_OF_RANGE) {
                pos += n - 1;
                addToken(pos);
                continue;
            }
            if (n > 0) {
                pos += n;
                addToken(pos);
                continue;
            }
            addToken(++pos);
        }
    }
}
