package io.kvserve.kvcache.agents;

import io.kvserve.kvcache.kvcomm.KvcommConfig;
import io.kvserve.kvcache.kvcomm.KvcommPrefill;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a fully connected multi-agent pipeline: every round, each agent in turn reads the user's
 * input and every other agent's latest message through its template, its prompt is prefilled by
 * one {@link PrefillMode} (dense, prefix, kvshare or kvcomm), and it answers greedily; its answer
 * becomes the message the others read next. The modes keep their state (cached prompts, segment
 * store, anchor pools) across turns and calls, which is where reuse comes from.
 */
public final class AgentPipeline {
    /** One agent's turn: what it read, how much of its prompt was computed, how fast, and what it said. */
    public record Turn(int round, String agent, int promptTokens, int recomputedTokens, double ttftMs, boolean densePrefill, String response) {
        public double reuseRate() {
            return 1.0 - (double) recomputedTokens / promptTokens;
        }
    }

    private final AgentRuntime rt;
    private final List<AgentTemplate> agents;
    private final PrefillMode mode;

    public AgentPipeline(AgentRuntime rt, List<AgentTemplate> agents, PrefillMode mode) {
        if (agents.size() < 2 || agents.size() > 5) throw new IllegalArgumentException("a pipeline has 2 to 5 agents, got " + agents.size());
        this.rt = rt;
        this.agents = List.copyOf(agents);
        this.mode = mode;
    }

    /** A prefill mode by name: dense, prefix, kvshare (recompute ratio 0.15) or kvcomm (the card's defaults). */
    public static PrefillMode mode(String name, AgentRuntime rt, KvcommConfig kvcomm, double kvshareRatio) {
        return switch (name) {
            case "dense" -> new DensePrefill(rt);
            case "prefix" -> new PrefixCachePrefill(rt, 64);
            case "kvshare" -> new KvSharePrefill(rt, kvshareRatio, 16);
            case "kvcomm" -> new KvcommPrefill(rt, kvcomm);
            default -> throw new IllegalArgumentException("unknown mode '" + name + "': use dense, prefix, kvshare or kvcomm");
        };
    }

    /**
     * Runs {@code rounds} rounds on the user's {@code input}; each answer is at most {@code maxTokens}
     * tokens (cut at end of generation).
     */
    public List<Turn> run(String input, int rounds, int maxTokens) {
        if (rounds < 1) throw new IllegalArgumentException("rounds must be >= 1, got " + rounds);
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        Map<String, String> latest = new HashMap<>();
        latest.put(AgentWorkload.INPUT_SLOT, input);
        for (AgentTemplate a : agents) latest.put(AgentWorkload.slotOf(a.agent()), a.agent() + " has not said anything yet.");
        List<Turn> turns = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            for (AgentTemplate a : agents) {
                AgentPrompt p = AgentPrompt.fill(rt.tokenizer(), a, latest);
                if (p.length() + maxTokens > rt.contextLength()) {
                    throw new IllegalArgumentException("agent " + a.agent() + "'s prompt has " + p.length() + " tokens and " + maxTokens
                            + " more are generated, past the model's context of " + rt.contextLength() + ": shorten the input or --max-tokens");
                }
                PrefillMode.Prefill pf = mode.prefill(a.agent(), p);
                int[] out = new int[maxTokens];
                int n = 0;
                float[] logits = pf.logits();
                while (n < maxTokens) {
                    int t = argmax(logits);
                    if (rt.tokenizer().isEndOfGeneration(t)) break;
                    out[n++] = t;
                    if (n < maxTokens) logits = rt.step(pf.seq(), t, p.length() + n - 1);
                }
                rt.cache().release(pf.seq());
                String text = rt.tokenizer().decode(Arrays.copyOf(out, n)).strip();
                if (text.isEmpty()) text = a.agent() + " did not know what to say.";
                turns.add(new Turn(r, a.agent(), p.length(), pf.recomputed(), pf.nanos() / 1e6, pf.dense(), text));
                latest.put(AgentWorkload.slotOf(a.agent()), text);
            }
        }
        return turns;
    }

    private static int argmax(float[] x) {
        int b = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
        return b;
    }
}
