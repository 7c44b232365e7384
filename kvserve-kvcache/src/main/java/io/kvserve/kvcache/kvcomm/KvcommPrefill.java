package io.kvserve.kvcache.kvcomm;

import io.kvserve.kvcache.agents.AgentPrompt;
import io.kvserve.kvcache.agents.AgentRuntime;
import io.kvserve.kvcache.agents.AgentTemplate;
import io.kvserve.kvcache.agents.PrefillMode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * KVCOMM's prefill of an agent prompt (Ye et al., NeurIPS 2025, card 1 of METHODS.md). The prompt's
 * KV is assembled from the agent's template segments (prefilled once with literal placeholders)
 * and each message's stand-alone KV, placed at the prompt's positions (RoPE rotation for the
 * target position, which equals re-rotating by the offset), then corrected on layers 1.. by
 * deltas estimated from the slot's anchor pool. The last prompt token is recomputed so that the
 * logits are real. When a message is (or just became) an anchor without this agent's deltas, the
 * agent prefills densely and records real-minus-base deltas for it ({@code set_anchor}).
 */
public final class KvcommPrefill implements PrefillMode {
    private final AgentRuntime rt;
    private final KvcommConfig config;
    private final Map<String, AnchorPool> pools = new HashMap<>();
    private final Map<String, Boolean> becameAnchor = new HashMap<>();
    private final Map<String, KvSegment[]> templateTexts = new HashMap<>();
    private int anchorsCreated;

    public KvcommPrefill(AgentRuntime rt, KvcommConfig config) {
        this.rt = rt;
        this.config = config;
    }

    @Override public String name() { return "kvcomm"; }

    public AnchorPool pool(String slot) {
        return pools.computeIfAbsent(slot, s -> new AnchorPool(config));
    }

    /** Messages that became anchors so far. */
    public int anchorsCreated() { return anchorsCreated; }

    /**
     * The template's text segments (pre-RoPE KV), from one dense prefill of the template with its
     * placeholders written literally; computed once per agent, ahead of any request.
     */
    KvSegment[] templateTexts(AgentTemplate t) {
        return templateTexts.computeIfAbsent(t.agent(), a -> {
            AgentPrompt lit = AgentPrompt.literal(rt.tokenizer(), t);
            int seq = rt.cache().open();
            try {
                rt.prefill(seq, lit.tokens(), 0, lit.length());
                KvSegment[] s = new KvSegment[lit.textStart().length];
                for (int i = 0; i < s.length; i++) s[i] = rt.cache().read(seq, lit.textStart()[i], lit.textStart()[i] + lit.textLength()[i], rt.rope());
                return s;
            } finally {
                rt.cache().release(seq);
            }
        });
    }

    /** KVCOMM's {@code predict_as_anchor}, once per (slot, message): true when the message became an anchor. */
    boolean decideOnce(String slot, String message, KvSegment base) {
        return becameAnchor.computeIfAbsent(slot + '\u0000' + message, k -> {
            AnchorPool pool = pool(slot);
            AnchorPool.Decision d = pool.decide(base);
            if (d.becomesAnchor()) {
                pool.add(message, base);
                anchorsCreated++;
            }
            return d.becomesAnchor();
        });
    }

    @Override
    public Prefill prefill(String agent, AgentPrompt p) {
        AgentTemplate t = p.template();
        KvSegment[] texts = templateTexts(t);
        int n = p.slots();
        KvSegment[] bases = new KvSegment[n];
        for (int i = 0; i < n; i++) bases[i] = rt.standAlone(p.messages().get(i));
        long t0 = System.nanoTime();
        boolean dense = false;
        List<Anchor> toRecord = new ArrayList<>();
        List<Integer> recordSlots = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String slot = t.slots().get(i), msg = p.messages().get(i);
            decideOnce(slot, msg, bases[i]);
            AnchorPool pool = pool(slot);
            Anchor own = pool.find(msg);
            if (own != null && own.deltas(agent) == null) {
                dense = true;
                toRecord.add(own);
                recordSlots.add(i);
            } else if (pool.usable(bases[i].tokens(), agent).isEmpty()) {
                dense = true;
            }
        }
        int T = p.length();
        int seq = rt.cache().open();
        float[] logits;
        if (dense) {
            logits = rt.prefill(seq, p.tokens(), 0, T);
            long nanos = System.nanoTime() - t0;
            for (int j = 0; j < toRecord.size(); j++) {
                int i = recordSlots.get(j);
                int s = p.slotStart()[i], e = s + p.slotLength()[i];
                KvSegment realPh = rt.cache().read(seq, s, e, rt.rope());
                int fs = p.textStart()[i + 1], fe = fs + p.textLength()[i + 1];
                KvSegment realPf = rt.cache().read(seq, fs, fe, rt.rope());
                toRecord.get(j).setDeltas(agent, new Anchor.Deltas(realPh.minus(bases[i]), realPf.minus(texts[i + 1])));
            }
            return new Prefill(seq, logits, T, nanos, true);
        }
        rt.cache().reserve(seq, T);
        rt.cache().write(seq, 0, texts[0], rt.rope());   // BOS + text 0: identical tokens from position 0, exact
        for (int i = 0; i < n; i++) {
            AnchorPool pool = pool(t.slots().get(i));
            Anchor.Deltas est = AnchorPool.estimate(bases[i], pool.usable(bases[i].tokens(), agent), agent, config.tau(), p.textLength()[i + 1]);
            KvSegment ph = bases[i].copy();
            AnchorPool.addDelta(ph, est.placeholder());
            rt.cache().write(seq, p.slotStart()[i], ph, rt.rope());
            KvSegment pf = texts[i + 1].copy();
            AnchorPool.addDelta(pf, est.prefix());
            rt.cache().write(seq, p.textStart()[i + 1], pf, rt.rope());
        }
        // the last prompt token is recomputed, in place, for real logits
        logits = rt.step(seq, p.tokens()[T - 1], T - 1);
        return new Prefill(seq, logits, 1, System.nanoTime() - t0, false);
    }
}
