package io.kvserve.kvcache.agents;

/** The reference: every prompt token through the model. */
public final class DensePrefill implements PrefillMode {
    private final AgentRuntime rt;

    public DensePrefill(AgentRuntime rt) { this.rt = rt; }

    @Override public String name() { return "dense"; }

    @Override
    public Prefill prefill(String agent, AgentPrompt p) {
        long t0 = System.nanoTime();
        int seq = rt.cache().open();
        float[] logits = rt.prefill(seq, p.tokens(), 0, p.length());
        return new Prefill(seq, logits, p.length(), System.nanoTime() - t0, true);
    }
}
