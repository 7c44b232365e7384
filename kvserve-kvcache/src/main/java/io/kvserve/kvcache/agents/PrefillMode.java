package io.kvserve.kvcache.agents;

/**
 * One way to prefill an agent's prompt into the shared cache: dense, prefix reuse, KVShare or KVCOMM.
 * A mode may keep state across calls (cached prompts, anchors); it is used by one thread.
 */
public interface PrefillMode {
    String name();

    /**
     * Prefills {@code prompt} of {@code agent} into a new sequence of the runtime's cache; the
     * sequence then holds every prompt position and the caller decodes from it and releases it.
     */
    Prefill prefill(String agent, AgentPrompt prompt);

    /**
     * @param seq        the sequence holding the prompt's KV
     * @param logits     next-token logits after the last prompt token (the first generated token)
     * @param recomputed prompt tokens whose KV was computed by the model in this call (the rest was reused)
     * @param nanos      time to first token: assembly, correction and recompute
     * @param dense      whether the mode fell back to a full prefill (KVCOMM: a new anchor)
     */
    record Prefill(int seq, float[] logits, int recomputed, long nanos, boolean dense) {}
}
