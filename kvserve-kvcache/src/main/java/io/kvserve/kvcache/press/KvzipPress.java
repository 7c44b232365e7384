package io.kvserve.kvcache.press;

import io.kvserve.kernels.Kernels;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.chat.ChatMessage;
import io.kvserve.model.chat.ChatTemplate;
import io.kvserve.model.kv.ForwardingKvCache;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.tokenizer.Tokenizer;
import io.kvserve.model.transformer.ForwardPass;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * KVzip: query-agnostic eviction scored by context reconstruction.
 *
 * <p>After the prompt (the context) is prefilled, the model re-reads it: on a fork of the sequence,
 * "Repeat the previous context exactly." followed by the context itself is run through the forward
 * pass, chunk by chunk. Each (layer, KV head, context token) scores the largest softmax attention any
 * reconstruction query of the group gives it, over a key set of the sinks, the chunk's own cached keys
 * and the reconstruction tokens so far. The fork is released; then the lowest-scoring pairs of the
 * whole cache are evicted (one pool over all layers and heads, so each stream keeps a different
 * length), the sinks never. The compressed cache serves any later query. Based on Kim et al., "KVzip:
 * Query-Agnostic KV Cache Compression with Context Reconstruction" (arXiv 2505.23416); see
 * docs/methods/kvzip.md.
 *
 * @param ratio   fraction of the stored KV pairs evicted, default 0.5 (KVzip's own {@code ratio} is the kept fraction)
 * @param chunk   most context tokens re-read per reconstruction pass, default 2000
 * @param sinks   first tokens never evicted and always in the key set, default 4
 * @param prefix  tokens of the previous chunk quoted in the next chunk's prompt, default 8
 * @param uniform keep the same fraction in every (layer, head) instead of one global pool, default false
 */
public record KvzipPress(double ratio, int chunk, int sinks, int prefix, boolean uniform) implements ScorerPress, PrefillPress {
    static final String FIRST_PROMPT = "\n\nRepeat the previous context exactly.";
    static final String NEXT_PROMPT = "\n\nRepeat the part of the previous context exactly, starting with ";

    public KvzipPress {
        PressParams.ratio("kvzip", ratio);
        PressParams.require(chunk >= 1, "kvzip: chunk must be >= 1 token, got " + chunk);
        PressParams.require(sinks >= 0, "kvzip: sinks must be >= 0, got " + sinks);
        PressParams.require(prefix >= 0, "kvzip: prefix must be >= 0, got " + prefix);
    }

    static KvzipPress parse(PressParams p) {
        String u = p.string("uniform", "false").toLowerCase(Locale.ROOT);
        PressParams.require(u.equals("true") || u.equals("false"), "kvzip: uniform must be true or false, got '" + u + "'");
        return new KvzipPress(p.real("ratio", 0.5), p.integer("chunk", 2000), p.integer("sinks", 4), p.integer("prefix", 8), u.equals("true"));
    }

    @Override
    public String spec() {
        return "kvzip:ratio=" + PressParams.fmt(ratio) + ",chunk=" + chunk + ",sinks=" + sinks + ",prefix=" + prefix + ",uniform=" + uniform;
    }

    @Override
    public float[] score(PressContext ctx, int layer, int kvHead) {
        float[] s = ctx.prefillScores(layer, kvHead);
        if (s == null) {
            throw new IllegalStateException("kvzip: this sequence has no reconstruction scores; KVzip scores during prefill, "
                    + "so run it through a paged cache's prefill driver (Generator, kvserve eval kv)");
        }
        return s;
    }

    /** One pool over every (layer, KV head, token): the {@code N - floor(ratio N)} best pairs stay. */
    @Override
    public void afterPrefill(PressContext ctx) {
        if (uniform) {
            ScorerPress.super.afterPrefill(ctx);
            return;
        }
        int layers = ctx.layers(), heads = ctx.kvHeads();
        float[][] s = new float[layers * heads][];
        int total = 0;
        for (int l = 0; l < layers; l++) for (int h = 0; h < heads; h++) total += (s[l * heads + h] = score(ctx, l, h)).length;
        int keep = total - (int) Math.floor(ratio * total);
        // sort (score, stream, index) descending; ties to the later token, as ScorerPress.topK
        long[] order = new long[total];
        float[] flat = new float[total];
        int k = 0;
        for (int st = 0; st < s.length; st++) {
            for (int i = 0; i < s[st].length; i++) {
                flat[k] = s[st][i];
                order[k] = ((long) st << 32) | i;
                k++;
            }
        }
        Integer[] idx = new Integer[total];
        for (int i = 0; i < total; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> {
            int c = Float.compare(flat[b], flat[a]);
            if (c != 0) return c;
            return Integer.compare((int) order[b], (int) order[a]);
        });
        boolean[][] kept = new boolean[s.length][];
        for (int st = 0; st < s.length; st++) kept[st] = new boolean[s[st].length];
        for (int r = 0; r < keep; r++) {
            long o = order[idx[r]];
            kept[(int) (o >>> 32)][(int) o] = true;
        }
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                boolean[] kk = kept[l * heads + h];
                int c = 0;
                for (boolean b : kk) if (b) c++;
                if (c == kk.length) continue;
                int[] indices = new int[c];
                int j = 0;
                for (int i = 0; i < kk.length; i++) if (kk[i]) indices[j++] = i;
                ctx.keep(l, h, indices);
            }
        }
    }

    /**
     * Plain prefill, then the reconstruction passes that score the context; the scores go to the
     * cache. A prompt that continues a cached sequence (a later chat turn: the query after the
     * compressed context) is only prefilled: it is kept in full, the context is not scored again.
     */
    @Override
    public float[] prefill(Run run) {
        float[] logits = PrefillPress.plainPrefill(run);
        if (run.from() > 0) return logits;
        PagedKvCache cache = run.cache();
        int t = cache.length(run.seq());
        run.cache().setPrefillScores(run.seq(), reconstructionScores(run.model(), run.pass(), cache, run.seq(), Arrays.copyOf(run.prompt(), t)));
        return logits;
    }

    /**
     * Scores of every (layer, KV head, position) of the {@code context.length} tokens {@code seq}
     * holds, sinks +inf. Each chunk runs on a fork that is released afterwards.
     */
    float[][][] reconstructionScores(Model model, ForwardPass pass, PagedKvCache cache, int seq, int[] context) {
        int layers = cache.layers(), heads = cache.kvHeads(), t = context.length;
        PressContext ctx = cache.pressContext(seq);
        float[][][] keys = new float[layers][heads][];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                if (ctx.tokens(l, h) != t) throw new IllegalStateException("kvzip scores a full cache: layer " + l + " head " + h + " holds " + ctx.tokens(l, h) + " of " + t + " tokens");
                keys[l][h] = ctx.keys(l, h);
            }
        }
        float[][][] scores = new float[layers][heads][t];
        int nSink = Math.min(sinks, t);
        for (float[][] layer : scores) for (float[] row : layer) Arrays.fill(row, 0, nSink, Float.POSITIVE_INFINITY);
        int room = Math.min(cache.maxPositions(), model.config().contextLength()) - t;
        for (int c0 = nSink, i = 0; c0 < t; i++) {
            int[] ask = repeatPrompt(model, i == 0 ? null : Arrays.copyOfRange(context, Math.max(nSink, c0 - prefix), c0));
            int len = Math.min(chunk, Math.min(t - c0, room - ask.length));
            if (len < 1) {
                throw new IllegalArgumentException("kvzip: a context of " + t + " tokens leaves " + room + " positions of the " + Math.min(cache.maxPositions(), model.config().contextLength())
                        + " for the reconstruction prompt (" + ask.length + " tokens) and at least one context token: give a shorter prompt or a longer context (--ctx)");
            }
            int[] input = new int[ask.length + len];
            System.arraycopy(ask, 0, input, 0, ask.length);
            System.arraycopy(context, c0, input, ask.length, len);
            scoreChunk(pass, cache, seq, keys, scores, nSink, c0, c0 + len, input);
            c0 += len;
        }
        return scores;
    }

    /** One reconstruction pass of {@code input} after the context, scoring context tokens {@code [c0, c1)}. */
    static void scoreChunk(ForwardPass pass, PagedKvCache cache, int seq, float[][][] keys, float[][][] scores,
                           int nSink, int c0, int c1, int[] input) {
        int t = cache.length(seq);
        int fork = cache.fork(seq, t);
        try {
            ReconstructionProbe probe = new ReconstructionProbe(cache, t, keys, scores, nSink, c0, c1, input.length);
            for (int p = 0; p < input.length; p += pass.maxBatch()) {
                int len = Math.min(pass.maxBatch(), input.length - p);
                pass.forward(Batch.ofSequence(fork, input, p, len, t + p, false), probe);
            }
        } finally {
            cache.release(fork);
        }
    }

    /** The repeat instruction (through the model's chat template when it has one), with the quoted tokens. */
    static int[] repeatPrompt(Model model, int[] quoted) {
        Tokenizer tok = model.tokenizer();
        String text = quoted == null ? FIRST_PROMPT : NEXT_PROMPT + new String(bytesOf(tok, quoted), StandardCharsets.UTF_8);
        if (model.chatTemplate() != null) {
            try {
                String bos = tok.bosId() >= 0 ? new String(tok.tokenBytes(tok.bosId()), StandardCharsets.UTF_8) : "";
                String eos = tok.eosId() >= 0 ? new String(tok.tokenBytes(tok.eosId()), StandardCharsets.UTF_8) : "";
                text = ChatTemplate.of(model.chatTemplate(), bos, eos).render(List.of(ChatMessage.user(text.strip())), true);
                if (!bos.isEmpty() && text.startsWith(bos)) text = text.substring(bos.length());
            } catch (RuntimeException e) {
                // a template that cannot render one user turn: the plain instruction still works
            }
        }
        return tok.encode(text, false, true);
    }

    private static byte[] bytesOf(Tokenizer tok, int[] ids) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (int id : ids) b.writeBytes(tok.tokenBytes(id));
        return b.toByteArray();
    }

    /**
     * The fork as the reconstruction pass sees it: appends are recorded (the reconstruction keys), and
     * before each attention its probabilities over the subsampled key set are computed and max-reduced
     * into the scores of the chunk's context tokens.
     */
    static final class ReconstructionProbe extends ForwardingKvCache {
        private final PagedKvCache c;
        private final int t, nSink, c0, c1, headDim;
        private final float[][][] contextKeys, scores, inputKeys;   // inputKeys: (layer, kvHead) -> (inputLen, headDim)
        private final ThreadLocal<float[]> buf;

        ReconstructionProbe(PagedKvCache c, int t, float[][][] contextKeys, float[][][] scores, int nSink, int c0, int c1, int inputLen) {
            super(c);
            this.c = c;
            this.t = t;
            this.nSink = nSink;
            this.c0 = c0;
            this.c1 = c1;
            this.headDim = c.headDim();
            this.contextKeys = contextKeys;
            this.scores = scores;
            this.inputKeys = new float[c.layers()][c.kvHeads()][inputLen * headDim];
            int keysMax = nSink + (c1 - c0) + inputLen;
            this.buf = ThreadLocal.withInitial(() -> new float[keysMax]);
        }

        @Override
        public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
            for (int h = 0; h < c.kvHeads(); h++) System.arraycopy(k, kOff + h * headDim, inputKeys[layer][h], (pos - t) * headDim, headDim);
            c.append(layer, seq, pos, k, kOff, v, vOff);
        }

        @Override
        public void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale,
                           float[] out, int outOff, float[] scratch) {
            float[] ck = contextKeys[layer][kvHead], ik = inputKeys[layer][kvHead];
            int chunkLen = c1 - c0, nIn = maxPos - t + 1, n = nSink + chunkLen + nIn;
            float[] a = buf.get();
            float[] best = new float[chunkLen];
            for (int j = 0; j < nq; j++) {
                int qo = qOff + j * headDim;
                for (int i = 0; i < nSink; i++) a[i] = Kernels.dot(q, qo, ck, i * headDim, headDim) * scale;
                for (int i = 0; i < chunkLen; i++) a[nSink + i] = Kernels.dot(q, qo, ck, (c0 + i) * headDim, headDim) * scale;
                for (int i = 0; i < nIn; i++) a[nSink + chunkLen + i] = Kernels.dot(q, qo, ik, i * headDim, headDim) * scale;
                Kernels.softmax(a, 0, n);
                for (int i = 0; i < chunkLen; i++) best[i] = Math.max(best[i], a[nSink + i]);
            }
            float[] row = scores[layer][kvHead];
            synchronized (row) {
                for (int i = 0; i < chunkLen; i++) row[c0 + i] = Math.max(row[c0 + i], best[i]);
            }
            c.attend(layer, seq, kvHead, q, qOff, nq, maxPos, scale, out, outOff, scratch);
        }

    }
}
