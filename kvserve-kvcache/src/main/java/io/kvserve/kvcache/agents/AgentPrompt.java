package io.kvserve.kvcache.agents;

import io.kvserve.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A filled template as tokens, with where each text segment and each placeholder sits. Every piece
 * is tokenised on its own and the prompt is their concatenation (after BOS, which belongs to text
 * 0): KVCOMM's convention, used by every mode so that all of them see the same tokens.
 *
 * @param messages the text in each slot, in slot order
 */
public record AgentPrompt(AgentTemplate template, List<String> messages, int[] tokens,
                          int[] textStart, int[] textLength, int[] slotStart, int[] slotLength) {

    public int length() { return tokens.length; }

    public int slots() { return slotStart.length; }

    /** Fills the template with {@code messages} (slot name to text); every slot must be given. */
    public static AgentPrompt fill(Tokenizer tok, AgentTemplate t, Map<String, String> messages) {
        List<String> texts = new ArrayList<>();
        for (String s : t.slots()) {
            String m = messages.get(s);
            if (m == null) throw new IllegalArgumentException("no message for placeholder {" + s + "} of agent " + t.agent());
            texts.add(m);
        }
        return build(tok, t, texts);
    }

    /** The template with each placeholder written literally ({@code "{slot}"}): what KVCOMM prefills once per agent. */
    public static AgentPrompt literal(Tokenizer tok, AgentTemplate t) {
        return build(tok, t, t.slots().stream().map(s -> "{" + s + "}").toList());
    }

    private static AgentPrompt build(Tokenizer tok, AgentTemplate t, List<String> messages) {
        int n = t.slots().size();
        int[] ts = new int[n + 1], tl = new int[n + 1], ss = new int[n], sl = new int[n];
        int[] buf = new int[256];
        int len = 0;
        if (tok.bosId() >= 0) buf[len++] = tok.bosId();
        for (int i = 0; i <= n; i++) {
            ts[i] = i == 0 ? 0 : len;
            int[] p = encode(tok, t.texts().get(i));
            buf = grow(buf, len + p.length);
            System.arraycopy(p, 0, buf, len, p.length);
            len += p.length;
            tl[i] = len - ts[i];
            if (i == n) break;
            ss[i] = len;
            int[] m = encode(tok, messages.get(i));
            if (m.length == 0) throw new IllegalArgumentException("the message for {" + t.slots().get(i) + "} of agent " + t.agent() + " is empty");
            buf = grow(buf, len + m.length);
            System.arraycopy(m, 0, buf, len, m.length);
            len += m.length;
            sl[i] = m.length;
        }
        return new AgentPrompt(t, List.copyOf(messages), Arrays.copyOf(buf, len), ts, tl, ss, sl);
    }

    /** One piece without BOS; the empty string is no tokens. */
    public static int[] encode(Tokenizer tok, String text) {
        return text.isEmpty() ? new int[0] : tok.encode(text, false, false);
    }

    private static int[] grow(int[] a, int need) {
        return need <= a.length ? a : Arrays.copyOf(a, Math.max(need, a.length * 2));
    }
}
