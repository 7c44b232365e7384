package io.kvserve.model.transformer;

import io.kvserve.kernels.Kernels;
import io.kvserve.model.Batch;
import io.kvserve.model.LayerWeights;
import io.kvserve.model.Matrix;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.ModelWeights;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;

/**
 * The forward pass of a Llama-family decoder (Llama 2/3, Mistral, SmolLM, TinyLlama, Qwen2, Qwen3),
 * over a batch of tokens at once so that each weight row is read once per batch. Per layer: RMSNorm,
 * q/k/v projections (+ biases for Qwen2, + per-head q/k RMSNorm for Qwen3), RoPE, KV write, causal
 * attention through the {@link KvCache}, output projection, residual, RMSNorm, SwiGLU FFN, residual.
 * One instance owns its scratch buffers and is used by one thread at a time.
 */
public final class ForwardPass {
    private final ModelConfig c;
    private final ModelWeights w;
    private final WorkerPool pool;
    private final int maxBatch;
    private final Rope rope;
    private final ThreadLocal<float[]> scores;

    // scratch, (maxBatch, width) each
    private final float[] x, xb, q, k, v, att, gate, up;
    private float[] logits = new float[0];
    private float[] lastRows = new float[0];
    /** Activations packed for the eight-row decode dots, shared by the parallel parts of one product (see {@link #packed}). */
    private float[] packedActivations = new float[0];

    public ForwardPass(ModelConfig config, ModelWeights weights, int maxBatch, WorkerPool pool) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be at least 1");
        this.c = config;
        this.w = weights;
        this.pool = pool;
        this.maxBatch = maxBatch;
        this.x = new float[maxBatch * c.dim()];
        this.xb = new float[maxBatch * Math.max(c.dim(), c.qDim())];
        this.q = new float[maxBatch * c.qDim()];
        this.k = new float[maxBatch * c.kvDim()];
        this.v = new float[maxBatch * c.kvDim()];
        this.att = new float[maxBatch * c.qDim()];
        this.gate = new float[maxBatch * c.ffnDim()];
        this.up = new float[maxBatch * c.ffnDim()];
        this.rope = new Rope(config);
        int ctx = config.contextLength();
        this.scores = ThreadLocal.withInitial(() -> new float[Math.min(ctx, 1 << 16)]);
    }

    public int maxBatch() {
        return maxBatch;
    }

    public ModelConfig config() {
        return c;
    }

    /** The model's rotary embedding (for re-rotating cached keys to new positions). */
    public Rope rope() {
        return rope;
    }

    /**
     * Runs the batch: appends its keys and values to {@code cache} and returns the logits of the
     * tokens that want them, {@code (logitRows, vocab)} row-major. The returned array is reused by the
     * next call.
     */
    public float[] forward(Batch batch, KvCache cache) {
        int n = batch.size();
        if (n == 0) return new float[0];
        if (n > maxBatch) throw new IllegalArgumentException("batch of " + n + " tokens exceeds this pass's maximum " + maxBatch);
        int dim = c.dim();
        for (int i = 0; i < n; i++) {
            int tok = batch.tokens()[i];
            if (tok < 0 || tok >= c.vocabSize()) throw new IllegalArgumentException("token id " + tok + " is outside the vocabulary [0, " + c.vocabSize() + ")");
            int pos = batch.positions()[i];
            if (pos < 0 || pos >= c.contextLength()) throw new IllegalArgumentException("position " + pos + " is outside the context [0, " + c.contextLength() + ")");
            w.tokenEmbedding().row(tok, x, i * dim);
        }
        for (int l = 0; l < c.nLayers(); l++) layer(l, batch, cache);
        return logitsOf(batch, x, 0);
    }

    /**
     * Token embeddings of the batch into {@code hidden} from {@code hiddenOff}, {@code (n, dim)}: the
     * input of layer 0, for callers that run the layers themselves ({@link #runLayers}).
     */
    public void embed(Batch batch, float[] hidden, int hiddenOff) {
        int dim = c.dim();
        for (int i = 0; i < batch.size(); i++) {
            int tok = batch.tokens()[i];
            if (tok < 0 || tok >= c.vocabSize()) throw new IllegalArgumentException("token id " + tok + " is outside the vocabulary [0, " + c.vocabSize() + ")");
            w.tokenEmbedding().row(tok, hidden, hiddenOff + i * dim);
        }
    }

    /**
     * Runs layers {@code [fromLayer, toLayer)} over the hidden states {@code (n, dim)} at
     * {@code hidden[hiddenOff..]}, in place, appending each layer's keys and values to {@code cache}
     * at the batch's positions. Lets a prefill driver run a layer range for some tokens only (FastKV's
     * token-selective propagation); {@link #forward} is the same loop over every layer.
     */
    public void runLayers(Batch batch, KvCache cache, float[] hidden, int hiddenOff, int fromLayer, int toLayer) {
        int n = batch.size();
        if (n == 0) return;
        if (n > maxBatch) throw new IllegalArgumentException("batch of " + n + " tokens exceeds this pass's maximum " + maxBatch);
        if (fromLayer < 0 || toLayer > c.nLayers() || fromLayer > toLayer) {
            throw new IllegalArgumentException("layer range [" + fromLayer + ", " + toLayer + ") is outside the model's " + c.nLayers() + " layers");
        }
        for (int i = 0; i < n; i++) {
            int pos = batch.positions()[i];
            if (pos < 0 || pos >= c.contextLength()) throw new IllegalArgumentException("position " + pos + " is outside the context [0, " + c.contextLength() + ")");
        }
        int len = n * c.dim();
        System.arraycopy(hidden, hiddenOff, x, 0, len);
        for (int l = fromLayer; l < toLayer; l++) layer(l, batch, cache);
        System.arraycopy(x, 0, hidden, hiddenOff, len);
    }

    /**
     * Final norm and classifier over the hidden states {@code (n, dim)} at {@code hidden[hiddenOff..]}
     * of the rows of {@code batch} that want logits; {@code (logitRows, vocab)}, reused by the next call.
     */
    public float[] logitsOf(Batch batch, float[] hidden, int hiddenOff) {
        int n = batch.size();
        int dim = c.dim();
        // final norm and classifier, only for rows that want logits
        int rows = batch.logitRows();
        if (lastRows.length < rows * dim) lastRows = new float[rows * dim];
        int r = 0;
        for (int i = 0; i < n; i++) {
            if (batch.wantLogits()[i]) {
                Kernels.rmsNorm(lastRows, r * dim, hidden, hiddenOff + i * dim, w.outputNorm(), dim, c.rmsEps());
                r++;
            }
        }
        int vocab = c.vocabSize();
        if (logits.length < rows * vocab) logits = new float[rows * vocab];
        if (rows > 0) {
            Matrix out = w.output();
            float[] in = lastRows, dst = logits;
            float[] xp = packed(out, in, rows);
            parallelRows(rows, xp != null, vocab, 64, (long) vocab * out.cols() * rows, (a, b) -> Kernels.matmul(out.type(), out.data(), 0, out.cols(), in, xp, rows, dst, vocab, a, b));
        }
        return logits;
    }

    /** One decoder layer over the first {@code batch.size()} rows of {@code x}. */
    private void layer(int l, Batch batch, KvCache cache) {
        int n = batch.size();
        int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim();
        float scale = (float) (1.0 / Math.sqrt(hd));
        LayerWeights lw = w.layers().get(l);
        // attention block
        rmsNormRows(x, xb, lw.attnNorm(), n, dim);
        matmul3(lw.wq(), q, lw.wk(), k, lw.wv(), v, xb, n);
        addBias(q, lw.bq(), n, qDim);
        addBias(k, lw.bk(), n, kvDim);
        addBias(v, lw.bv(), n, kvDim);
        if (lw.qNorm() != null) headNorm(q, lw.qNorm(), n * c.nHeads());
        if (lw.kNorm() != null) headNorm(k, lw.kNorm(), n * c.nKvHeads());
        for (int i = 0; i < n; i++) {
            int pos = batch.positions()[i];
            rope.rotate(q, i * qDim, c.nHeads(), pos);
            rope.rotate(k, i * kvDim, c.nKvHeads(), pos);
            cache.append(l, batch.seqs()[i], pos, k, i * kvDim, v, i * kvDim);
        }
        final int layer = l;
        int group = c.groupSize();
        long attnWork = (long) n * c.nHeads() * hd * 2L * (batch.positions()[n - 1] + 1);
        pool.forRangeBalanced(n * c.nKvHeads(), 1, attnWork, (from, to) -> {
            float[] s = scores.get();
            for (int job = from; job < to; job++) {
                int i = job / c.nKvHeads(), h = job % c.nKvHeads();
                int off = i * qDim + h * group * hd;
                cache.attend(layer, batch.seqs()[i], h, q, off, group, batch.positions()[i], scale, att, off, s);
            }
        });
        matmul(lw.wo(), att, xb, n);
        add(x, xb, n * dim);
        // feed-forward block
        rmsNormRows(x, xb, lw.ffnNorm(), n, dim);
        matmul2(lw.wGate(), gate, lw.wUp(), up, xb, n);
        swiglu(gate, up, n * c.ffnDim());
        matmul(lw.wDown(), gate, xb, n);
        add(x, xb, n * dim);
    }

    /**
     * Like {@link #forward}, for a batch whose rows may sit at positions the cache already holds:
     * such a row overwrites its stored KV at every layer it passes through (a row past the stored
     * length appends). After each layer, {@code selector} (may be null) may drop rows; a dropped row
     * keeps whatever KV the cache holds for it in later layers. This is the selective recompute of KV
     * reuse (CacheBlend, KVShare): recompute a subset of reused positions over the reused rest.
     */
    public float[] forwardSelective(Batch batch, KvCache cache, RowSelector selector) {
        int n = batch.size();
        if (n == 0) return new float[0];
        if (n > maxBatch) throw new IllegalArgumentException("batch of " + n + " tokens exceeds this pass's maximum " + maxBatch);
        int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim();
        int[] rows = new int[n];                          // batch index of active row r
        boolean[] stored = new boolean[n];
        for (int i = 0; i < n; i++) {
            int tok = batch.tokens()[i];
            if (tok < 0 || tok >= c.vocabSize()) throw new IllegalArgumentException("token id " + tok + " is outside the vocabulary [0, " + c.vocabSize() + ")");
            int pos = batch.positions()[i];
            if (pos < 0 || pos >= c.contextLength()) throw new IllegalArgumentException("position " + pos + " is outside the context [0, " + c.contextLength() + ")");
            stored[i] = pos < cache.length(batch.seqs()[i]);
            rows[i] = i;
            w.tokenEmbedding().row(tok, x, i * dim);
        }
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int l = 0; l < c.nLayers(); l++) {
            LayerWeights lw = w.layers().get(l);
            int m = n;
            rmsNormRows(x, xb, lw.attnNorm(), m, dim);
            matmul3(lw.wq(), q, lw.wk(), k, lw.wv(), v, xb, m);
            addBias(q, lw.bq(), m, qDim);
            addBias(k, lw.bk(), m, kvDim);
            addBias(v, lw.bv(), m, kvDim);
            if (lw.qNorm() != null) headNorm(q, lw.qNorm(), m * c.nHeads());
            if (lw.kNorm() != null) headNorm(k, lw.kNorm(), m * c.nKvHeads());
            for (int r = 0; r < m; r++) {
                int pos = batch.positions()[rows[r]];
                rope.rotate(q, r * qDim, c.nHeads(), pos);
                rope.rotate(k, r * kvDim, c.nKvHeads(), pos);
            }
            int[] keep = selector == null ? null : selector.select(l, batch, rows.clone(), m, q, k, v, cache);
            for (int r = 0; r < m; r++) {
                int i = rows[r];
                if (stored[i]) cache.overwrite(l, batch.seqs()[i], batch.positions()[i], k, r * kvDim, v, r * kvDim);
                else cache.append(l, batch.seqs()[i], batch.positions()[i], k, r * kvDim, v, r * kvDim);
            }
            final int layer = l;
            final int[] active = rows;
            int group = c.groupSize();
            long attnWork = (long) m * c.nHeads() * hd * 2L * (batch.positions()[rows[m - 1]] + 1);
            pool.forRangeBalanced(m * c.nKvHeads(), 1, attnWork, (from, to) -> {
                float[] s = scores.get();
                for (int job = from; job < to; job++) {
                    int r = job / c.nKvHeads(), h = job % c.nKvHeads();
                    int off = r * qDim + h * group * hd;
                    cache.attend(layer, batch.seqs()[active[r]], h, q, off, group, batch.positions()[active[r]], scale, att, off, s);
                }
            });
            matmul(lw.wo(), att, xb, m);
            add(x, xb, m * dim);
            rmsNormRows(x, xb, lw.ffnNorm(), m, dim);
            matmul2(lw.wGate(), gate, lw.wUp(), up, xb, m);
            swiglu(gate, up, m * c.ffnDim());
            matmul(lw.wDown(), gate, xb, m);
            add(x, xb, m * dim);
            if (keep != null && l + 1 < c.nLayers()) {
                // compact the hidden states of the continuing rows (and rows that want logits)
                boolean[] kept = new boolean[m];
                for (int r : keep) {
                    if (r < 0 || r >= m) throw new IllegalStateException("row selector returned row " + r + " outside [0, " + m + ")");
                    kept[r] = true;
                }
                int nn = 0;
                for (int r = 0; r < m; r++) {
                    if (!kept[r] && !batch.wantLogits()[rows[r]]) continue;
                    if (nn != r) System.arraycopy(x, r * dim, x, nn * dim, dim);
                    rows[nn++] = rows[r];
                }
                n = nn;
                if (n == 0) return new float[0];
            }
        }
        // final norm and classifier for the rows that want logits (all still active)
        int nRows = batch.logitRows();
        if (lastRows.length < nRows * dim) lastRows = new float[nRows * dim];
        int r0 = 0;
        for (int r = 0; r < n; r++) {
            if (batch.wantLogits()[rows[r]]) {
                Kernels.rmsNorm(lastRows, r0 * dim, x, r * dim, w.outputNorm(), dim, c.rmsEps());
                r0++;
            }
        }
        int vocab = c.vocabSize();
        if (logits.length < nRows * vocab) logits = new float[nRows * vocab];
        if (nRows > 0) {
            Matrix out = w.output();
            float[] in = lastRows, dst = logits;
            int rowsOut = nRows;
            float[] xp = packed(out, in, rowsOut);
            parallelRows(rowsOut, xp != null, vocab, 64, (long) vocab * out.cols() * rowsOut, (a, b) -> Kernels.matmul(out.type(), out.data(), 0, out.cols(), in, xp, rowsOut, dst, vocab, a, b));
        }
        return logits;
    }

    private void rmsNormRows(float[] src, float[] dst, float[] weight, int n, int dim) {
        if (n == 1) {
            Kernels.rmsNorm(dst, 0, src, 0, weight, dim, c.rmsEps());
            return;
        }
        pool.forRange(n, 1, (long) n * dim, (a, b) -> {
            for (int i = a; i < b; i++) Kernels.rmsNorm(dst, i * dim, src, i * dim, weight, dim, c.rmsEps());
        });
    }

    /** Qwen3's per-head RMSNorm over each headDim-long vector. */
    private void headNorm(float[] buf, float[] weight, int heads) {
        int hd = c.headDim();
        for (int h = 0; h < heads; h++) Kernels.rmsNorm(buf, h * hd, buf, h * hd, weight, hd, c.rmsEps());
    }

    private static void addBias(float[] buf, float[] bias, int n, int width) {
        if (bias == null) return;
        for (int i = 0; i < n; i++) for (int j = 0; j < width; j++) buf[i * width + j] += bias[j];
    }

    private static void add(float[] dst, float[] src, int len) {
        for (int i = 0; i < len; i++) dst[i] += src[i];
    }

    /** gate = silu(gate) * up over {@code len} floats, shared out over the pool for prefill-sized batches. */
    private void swiglu(float[] g, float[] u, int len) {
        // a decode step's few thousand activations take a few microseconds: not worth a hand-off to the pool
        pool.forRange(len, 1024, len >= 1 << 15 ? 16L * len : 0, (a, b) -> Kernels.siluMul(g, u, a, b - a));
    }

    /** Activation rows below which a matmul is a decode step: its weight rows are shared out in balanced chunks. */
    private static final int BALANCED_BELOW_BATCH = 16;

    /**
     * Runs a matmul's weight rows [0, rows) in parallel for {@code batch} activation rows. Decode-sized
     * batches, and any batch whose activations come packed for the multi-row dots ({@code packed}), use
     * balanced chunks (a slow thread does not hold the others up); the rest keep one part per thread,
     * because the GEMM transposes the activations once per call. (16 to 31 streams of a Q8_0 model take
     * the packed dots: with one fixed part per thread they ran 17% slower per token than 8 streams.)
     */
    private void parallelRows(int batch, boolean packed, int rows, int grain, long work, WorkerPool.RangeTask task) {
        if (batch < BALANCED_BELOW_BATCH || packed) pool.forRangeBalanced(rows, grain, work, task);
        else pool.forRange(rows, grain, work, task);
    }

    /**
     * The activations packed once for a decode-sized product whose kernels read them packed (eight-row
     * dots), or null. Every parallel part of the product then reads this one copy: packing per part
     * copied the whole input once per chunk (64 KB per chunk at a 2,048-wide input and 8 streams).
     * The buffer is reused by the next product, so it is valid until then.
     */
    private float[] packed(Matrix m, float[] in, int n) {
        int rows = Kernels.packedRows(m.type(), n);
        if (rows == 0) return null;
        if (packedActivations.length < rows * m.cols()) packedActivations = new float[rows * m.cols()];
        Kernels.packActivations(in, rows, m.cols(), packedActivations);
        return packedActivations;
    }

    private void matmul(Matrix m, float[] in, float[] out, int n) {
        int rows = m.rows();
        float[] xp = packed(m, in, n);
        parallelRows(n, xp != null, rows, 16, (long) rows * m.cols() * n, (a, b) -> Kernels.matmul(m.type(), m.data(), 0, m.cols(), in, xp, n, out, rows, a, b));
    }

    /** Two projections of the same input in one parallel region (FFN gate and up). */
    private void matmul2(Matrix m1, float[] o1, Matrix m2, float[] o2, float[] in, int n) {
        int r1 = m1.rows(), total = r1 + m2.rows();
        // one packed copy serves both when they share a type (the usual case); otherwise the second packs per part
        float[] xp1 = packed(m1, in, n), xp2 = m2.type() == m1.type() ? xp1 : null;
        parallelRows(n, xp1 != null, total, 16, (long) total * m1.cols() * n, (a, b) -> {
            if (a < r1) Kernels.matmul(m1.type(), m1.data(), 0, m1.cols(), in, xp1, n, o1, r1, a, Math.min(b, r1));
            if (b > r1) Kernels.matmul(m2.type(), m2.data(), 0, m2.cols(), in, xp2, n, o2, m2.rows(), Math.max(a, r1) - r1, b - r1);
        });
    }

    /** q, k and v projections in one parallel region: fewer hand-offs per layer for small models. */
    private void matmul3(Matrix mq, float[] oq, Matrix mk, float[] ok, Matrix mv, float[] ov, float[] in, int n) {
        int rq = mq.rows(), rk = mk.rows(), rv = mv.rows();
        float[] xq = packed(mq, in, n), xk = mk.type() == mq.type() ? xq : null, xv = mv.type() == mq.type() ? xq : null;
        parallelRows(n, xq != null, rq + rk + rv, 16, (long) (rq + rk + rv) * mq.cols() * n, (a, b) -> {
            if (a < rq) Kernels.matmul(mq.type(), mq.data(), 0, mq.cols(), in, xq, n, oq, rq, a, Math.min(b, rq));
            int a2 = Math.max(a, rq), b2 = Math.min(b, rq + rk);
            if (a2 < b2) Kernels.matmul(mk.type(), mk.data(), 0, mk.cols(), in, xk, n, ok, rk, a2 - rq, b2 - rq);
            int a3 = Math.max(a, rq + rk);
            if (a3 < b) Kernels.matmul(mv.type(), mv.data(), 0, mv.cols(), in, xv, n, ov, rv, a3 - rq - rk, b - rq - rk);
        });
    }
}
