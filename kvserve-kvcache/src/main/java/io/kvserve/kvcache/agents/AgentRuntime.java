package io.kvserve.kvcache.agents;

import io.kvserve.kvcache.kvcomm.KvSegment;
import io.kvserve.kvcache.kvcomm.SegmentKvCache;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.tokenizer.Tokenizer;
import io.kvserve.model.transformer.ForwardPass;
import io.kvserve.model.transformer.Rope;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * What every prefill mode of a multi-agent pipeline shares: one model, one forward pass, one
 * {@link SegmentKvCache}, and the stand-alone KV of each message (computed once, after a BOS
 * "header" that is dropped, as KVCOMM's base placeholder cache). Single-threaded.
 */
public final class AgentRuntime {
    private final Model model;
    private final ForwardPass pass;
    private final SegmentKvCache cache;
    private final Map<String, KvSegment> standAlone = new HashMap<>();
    private long standAloneNanos;

    public AgentRuntime(Model model, WorkerPool pool, int maxBatch) {
        this.model = model;
        this.pass = model.newForwardPass(maxBatch, pool);
        var c = model.config();
        this.cache = new SegmentKvCache(c.nLayers(), c.nKvHeads(), c.headDim(), c.contextLength());
    }

    public Model model() { return model; }
    public ForwardPass pass() { return pass; }
    public SegmentKvCache cache() { return cache; }
    public Rope rope() { return pass.rope(); }
    public Tokenizer tokenizer() { return model.tokenizer(); }
    public int contextLength() { return model.config().contextLength(); }

    /** Runs {@code tokens[from, to)} at positions {@code from..} of {@code seq}; a copy of the last token's logits. */
    public float[] prefill(int seq, int[] tokens, int from, int to) {
        if (to <= from) throw new IllegalArgumentException("nothing to prefill: [" + from + ", " + to + ")");
        cache.reserve(seq, to - cache.length(seq));
        float[] logits = null;
        for (int p = from; p < to; p += pass.maxBatch()) {
            int n = Math.min(pass.maxBatch(), to - p);
            logits = pass.forward(Batch.ofSequence(seq, tokens, p, n, p, false), cache);
        }
        return Arrays.copyOf(logits, model.config().vocabSize());
    }

    /** Runs one token at {@code pos} (appending, or recomputing a stored position in place). */
    public float[] step(int seq, int token, int pos) {
        float[] l = pass.forward(Batch.ofSequence(seq, new int[] {token}, 0, 1, pos, false), cache);
        return Arrays.copyOf(l, model.config().vocabSize());
    }

    /**
     * The message's KV computed alone, keys pre-RoPE: {@code [BOS] + message} prefilled from
     * position 0, BOS dropped (KVCOMM's {@code drop_num}). Cached by text.
     */
    public KvSegment standAlone(String message) {
        KvSegment s = standAlone.get(message);
        if (s != null) return s;
        long t0 = System.nanoTime();
        int[] m = AgentPrompt.encode(tokenizer(), message);
        int bos = tokenizer().bosId();
        int drop = bos >= 0 ? 1 : 0;
        int[] t = new int[m.length + drop];
        if (drop == 1) t[0] = bos;
        System.arraycopy(m, 0, t, drop, m.length);
        int seq = cache.open();
        try {
            prefill(seq, t, 0, t.length);
            s = cache.read(seq, drop, t.length, rope());
        } finally {
            cache.release(seq);
        }
        standAlone.put(message, s);
        standAloneNanos += System.nanoTime() - t0;
        return s;
    }

    /** Time spent computing stand-alone message KV so far. */
    public long standAloneNanos() { return standAloneNanos; }
}
