package io.kvserve.kvcache.agents;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An agent's prompt template: fixed texts around named placeholders, written {@code {slot}}. Messages
 * (the user's input, other agents' responses) fill the placeholders. {@code texts} has one more
 * element than {@code slots}: text 0, slot 0, text 1, ..., slot n-1, text n.
 */
public record AgentTemplate(String agent, List<String> texts, List<String> slots) {
    private static final Pattern SLOT = Pattern.compile("\\{([A-Za-z0-9_]+)}");

    public AgentTemplate {
        if (agent == null || agent.isBlank()) throw new IllegalArgumentException("an agent needs a name");
        texts = List.copyOf(texts);
        slots = List.copyOf(slots);
        if (texts.size() != slots.size() + 1) throw new IllegalArgumentException("template of " + agent + ": " + texts.size() + " texts around " + slots.size() + " slots (need slots + 1)");
        if (texts.getLast().isEmpty()) throw new IllegalArgumentException("template of " + agent + " must end with text after its last placeholder, so that the last prompt token is template text");
    }

    /** Parses {@code "text {slot} text ..."}; braces that do not enclose a name stay text. */
    public static AgentTemplate parse(String agent, String template) {
        List<String> texts = new ArrayList<>(), slots = new ArrayList<>();
        Matcher m = SLOT.matcher(template);
        int last = 0;
        while (m.find()) {
            texts.add(template.substring(last, m.start()));
            slots.add(m.group(1));
            last = m.end();
        }
        texts.add(template.substring(last));
        return new AgentTemplate(agent, texts, slots);
    }
}
