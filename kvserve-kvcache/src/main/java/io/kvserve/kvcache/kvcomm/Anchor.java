package io.kvserve.kvcache.kvcomm;

import java.util.HashMap;
import java.util.Map;

/**
 * One anchor of a placeholder slot: a message's stand-alone ("base") KV and, per agent that has
 * read it with a dense prefill, how the real in-prompt KV differed from the reused pieces. Keys of
 * the base and of the deltas are pre-RoPE (see {@link KvSegment}).
 */
public final class Anchor {
    private final long id;
    private final String message;
    private final KvSegment placeholder;
    private final Map<String, Deltas> deltasByAgent = new HashMap<>();
    int activations;

    /**
     * @param placeholder real minus base KV of the message's own tokens
     * @param prefix      real minus base KV of the template segment that follows the placeholder
     */
    public record Deltas(KvSegment placeholder, KvSegment prefix) {}

    Anchor(long id, String message, KvSegment placeholder) {
        this.id = id;
        this.message = message;
        this.placeholder = placeholder;
    }

    public long id() { return id; }

    /** The message's identity (its text) — for reports and tests. */
    public String message() { return message; }

    /** Base (stand-alone) KV of the message, header dropped. */
    public KvSegment placeholder() { return placeholder; }

    public int tokens() { return placeholder.tokens(); }

    public int activations() { return activations; }

    /** Records the deltas that {@code agent}'s dense prefill measured ({@code set_anchor}). */
    public void setDeltas(String agent, Deltas d) {
        if (d.placeholder().tokens() != tokens()) {
            throw new IllegalArgumentException("placeholder delta has " + d.placeholder().tokens() + " tokens, the anchor " + tokens());
        }
        deltasByAgent.put(agent, d);
    }

    public Deltas deltas(String agent) {
        return deltasByAgent.get(agent);
    }
}
