package io.kvserve.kvcache;

import io.kvserve.kernels.Kernels;
import io.kvserve.kernels.kv.KvFormats;
import io.kvserve.kvcache.press.KvPress;
import io.kvserve.kvcache.press.PressContext;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.kv.SequenceSlots;
import io.kvserve.model.kv.KvCacheFullException;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * The paged KV cache: per sequence and per (layer, KV head) a {@link KvStream} (block table plus
 * original positions) over pages from one {@link PageAllocator} with reference counts. Fork shares
 * pages (copy on write), truncate and presses release them, so {@link #bytesInUse} falls when a
 * press evicts. Keys and values are stored in the {@link KvStorage} element type; attention reads
 * quantised pages directly. A {@link KvPress}, if set, runs at {@link #stepDone}: once after
 * prefill, then every {@link KvPress#decodeInterval} new tokens.
 *
 * <p>Appends come from one thread (the forward pass's loop); attention runs on many threads at once
 * over distinct (token, KV head) pairs.
 */
public final class PagedKvCache implements KvCache {
    /** Tokens per row page unless given: small enough that a partial page wastes little. */
    public static final int DEFAULT_TOKENS_PER_PAGE = 16;

    private final int layers, kvHeads, headDim, groupSize, maxPositions, tokensPerPage;
    private final KvStorage storage;
    private final KvPress press;
    private final PageAllocator alloc;
    private final StreamCodec[][] codecs;   // (layer, kvHead), or null: rows are keys and values
    private final SequenceSlots<Sequence> sequences = new SequenceSlots<>();
    private final ThreadLocal<KvStream.Scratch> scratch = ThreadLocal.withInitial(KvStream.Scratch::new);

    private final class Sequence {
        final KvStream[][] streams = new KvStream[layers][kvHeads];
        final int[] next = new int[layers];
        KvPress press;                       // the cache's, or one set for this sequence (serving: per request)
        int window;
        float[][][] windowQ;                 // (layer, kvHead) -> (window, groupSize, headDim), slot = pos % window
        int[][][] windowPos;                 // (layer, kvHead) -> (window), -1 when empty
        int[][] budget;                      // (layer, kvHead) tokens after the prefill press
        float[][][] prefillScores;           // (layer, kvHead, position) set by a prefill driver (KVzip), or null
        boolean prefilled;
        int compressedAt;

        Sequence(boolean track) {
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    streams[l][h] = new KvStream(alloc, storage, headDim, tokensPerPage, track, codecs == null ? null : codecs[l][h]);
                }
            }
            usePress(PagedKvCache.this.press);
        }

        /** The press whose observation window this sequence records from now on. */
        void usePress(KvPress p) {
            press = p;
            window = p != null ? p.observationWindow() : 0;
            windowQ = new float[layers][kvHeads][];
            windowPos = new int[layers][kvHeads][];
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    if (window > 0) {
                        windowQ[l][h] = new float[window * groupSize * headDim];
                        windowPos[l][h] = new int[window];
                        Arrays.fill(windowPos[l][h], -1);
                    }
                    if (p != null && p.tracksAttention()) streams[l][h].trackAttention();
                }
            }
        }
    }

    /**
     * @param byteBudget    most bytes the pages may hold; beyond it {@link KvCacheFullException}
     * @param maxPositions  most positions per sequence (the context)
     * @param press         compression method, or null
     */
    public PagedKvCache(int layers, int kvHeads, int headDim, int groupSize, int maxPositions, KvStorage storage,
                        int tokensPerPage, long byteBudget, KvPress press) {
        if (layers < 1 || kvHeads < 1 || headDim < 2 || headDim % 2 != 0 || groupSize < 1) {
            throw new IllegalArgumentException("bad KV shape: " + layers + " layers, " + kvHeads + " KV heads, head dim " + headDim + ", group " + groupSize);
        }
        if (tokensPerPage < 1) throw new IllegalArgumentException("tokens per page must be >= 1, got " + tokensPerPage);
        if (storage.type().isKivi() && headDim % 4 != 0) throw new IllegalArgumentException("KIVI needs a head dim that is a multiple of 4, got " + headDim);
        if (storage.layerGroups()) {
            throw new IllegalArgumentException("KV type " + storage + " stores the KV heads of a layer together, which only the layer-grouped cache"
                    + " (LayerGroupedKvCache, built by KvCaches.paged for generate, chat, bench and eval kv) can hold; here use " + storage.withHeadGroups());
        }
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.groupSize = groupSize;
        this.maxPositions = maxPositions;
        this.storage = storage;
        this.tokensPerPage = tokensPerPage;
        this.alloc = new PageAllocator(byteBudget);
        this.press = press;
        this.codecs = press != null ? press.streamCodecs(layers, kvHeads, headDim) : null;
        if (codecs != null && storage.type().isKivi()) {
            throw new IllegalArgumentException("press '" + press.spec() + "' stores encoded rows, which KIVI's per-channel key groups do not apply to: use f32, f16, q8_0 or q4_0");
        }
    }

    /** A cache for {@code model}'s shape. */
    public static PagedKvCache forModel(ModelConfig c, int maxPositions, KvStorage storage, long byteBudget, KvPress press) {
        return new PagedKvCache(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), Math.min(maxPositions, c.contextLength()),
                storage, DEFAULT_TOKENS_PER_PAGE, byteBudget, press);
    }

    /** A cache for {@code model}'s shape with {@code tokensPerPage} positions per page (the prefix cache's block size). */
    public static PagedKvCache forModel(ModelConfig c, int maxPositions, KvStorage storage, int tokensPerPage, long byteBudget, KvPress press) {
        return new PagedKvCache(c.nLayers(), c.nKvHeads(), c.headDim(), c.groupSize(), Math.min(maxPositions, c.contextLength()),
                storage, tokensPerPage, byteBudget, press);
    }

    @Override public int layers() { return layers; }
    @Override public int kvHeads() { return kvHeads; }
    @Override public int headDim() { return headDim; }

    public KvStorage storage() {
        return storage;
    }

    public KvPress press() {
        return press;
    }

    public PageAllocator allocator() {
        return alloc;
    }

    @Override
    public synchronized int open() {
        Sequence s = new Sequence(press != null && press.tracksAttention());
        return sequences.add(s);
    }

    private Sequence seq(int id) {
        return sequences.get(id);
    }

    /**
     * Gives sequence {@code seq} its own press in place of the cache's ({@code null}: none), as a
     * server does per request. Call it before the sequence's first attention (right after opening it,
     * on its own or on shared prefix blocks): the press records its observation window from then on
     * and runs at {@link #stepDone} like the cache's press would.
     *
     * @throws IllegalArgumentException when {@link #perSequenceRefusal} refuses the press
     * @throws IllegalStateException    when the sequence's press already ran
     */
    public synchronized void setPress(int seq, KvPress press) {
        String refusal = perSequenceRefusal(press);
        if (refusal != null) throw new IllegalArgumentException(refusal);
        Sequence s = seq(seq);
        if (s.prefilled) throw new IllegalStateException("sequence " + seq + " already ran its press after prefill: set a press right after opening it");
        s.usePress(press);
    }

    /** A new sequence compressed by {@code press} instead of the cache's (see {@link #setPress}). */
    public synchronized int open(KvPress press) {
        int id = open();
        setPress(id, press);
        return id;
    }

    /**
     * Why {@code press} cannot be one sequence's own press on this cache, or null when it can: a press
     * that drives the prefill itself (FastKV, KVzip) needs a prefill loop of its own (see
     * {@link #prefillDriver}), and a press that stores encoded rows (EliteKV) changes the layout of
     * every stream from the first token, which only a cache-wide press can do.
     */
    public String perSequenceRefusal(KvPress press) {
        if (press == null || press == this.press) return null;
        io.kvserve.kvcache.press.PrefillPress driver = io.kvserve.kvcache.press.PrefillPress.find(press);
        if (driver != null) {
            return "press '" + press.spec() + "' drives the prefill itself (" + driver.spec().split(":")[0] + " runs the prompt through the model"
                    + " in its own passes), which a sequence inside a continuous batch cannot do: use it with kvserve generate or kvserve eval kv";
        }
        io.kvserve.kvcache.StreamCodec[][] c;
        try {
            c = press.streamCodecs(layers, kvHeads, headDim);
        } catch (IllegalArgumentException e) {
            return "press '" + press.spec() + "' cannot serve this model: " + e.getMessage();
        }
        if (c != null || codecs != null) {
            return "press '" + press.spec() + "' cannot be chosen per sequence: " + (c != null ? "it stores encoded rows (EliteKV) from the first token,"
                    + " a layout only a cache-wide press can set" : "this cache stores encoded rows for its own press '" + this.press.spec() + "'");
        }
        return null;
    }

    @Override
    public synchronized int fork(int src, int length) {
        Sequence a = seq(src);
        if (length < 0 || length > a.next[0]) throw new IllegalArgumentException("fork length " + length + " outside [0, " + a.next[0] + "]");
        int id = open();
        Sequence b = seq(id);
        if (a.press != press) b.usePress(a.press);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                b.streams[l][h].releaseAll();
                KvStream sa = a.streams[l][h];
                b.streams[l][h] = sa.prefix(sa.visible(length - 1));
                b.streams[l][h].inheritLowRank(sa, length);
            }
            b.next[l] = Math.min(length, a.next[l]);
        }
        b.prefilled = a.prefilled;
        b.compressedAt = Math.min(a.compressedAt, length);
        b.budget = a.budget;
        return id;
    }

    @Override
    public synchronized void truncate(int seq, int fromPos) {
        Sequence s = seq(seq);
        int p = Math.max(0, fromPos);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                s.streams[l][h].truncate(s.streams[l][h].visible(p - 1));
                s.streams[l][h].dropLowRankFrom(p);
                if (s.window > 0) for (int w = 0; w < s.window; w++) if (s.windowPos[l][h][w] >= p) s.windowPos[l][h][w] = -1;
            }
            s.next[l] = Math.min(s.next[l], p);
        }
        if (s.next[0] == 0) s.prefilled = false;
        s.compressedAt = Math.min(s.compressedAt, p);
    }

    @Override
    public synchronized void release(int seq) {
        Sequence s = seq(seq);
        for (KvStream[] row : s.streams) for (KvStream st : row) st.releaseAll();
        sequences.remove(seq);
    }

    @Override
    public int length(int seq) {
        return seq(seq).next[0];
    }

    /** Upper bound of the bytes one more position takes in every stream. */
    private long bytesPerPositionBound() {
        int fmt = storage.type().isKivi() ? KvFormats.F16_ROW : storage.type().rowFormat;
        return 2L * layers * kvHeads * KvFormats.rowBytes(fmt, headDim);
    }

    @Override
    public void reserve(int seq, int tokens) {
        Sequence s = seq(seq);
        long need = (long) s.next[0] + tokens;
        if (need > maxPositions) {
            throw new KvCacheFullException("the sequence needs " + need + " positions but the cache holds at most " + maxPositions + " (the model's context length or --ctx)");
        }
        long bytes = tokens * bytesPerPositionBound();
        long free = alloc.byteBudget() - alloc.bytesInUse();
        if (bytes > free) {
            throw new KvCacheFullException("the KV cache cannot take " + tokens + " more positions (about " + bytes + " bytes, " + free
                    + " of " + alloc.byteBudget() + " free): free or compress sequences, or raise the KV byte budget");
        }
    }

    @Override
    public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        if (pos != s.next[layer]) throw new IllegalStateException("layer " + layer + " expects position " + s.next[layer] + ", got " + pos);
        if (pos >= maxPositions) throw new KvCacheFullException("position " + pos + " is beyond the cache's " + maxPositions + " positions");
        for (int h = 0; h < kvHeads; h++) s.streams[layer][h].append(k, kOff + h * headDim, v, vOff + h * headDim, pos);
        s.next[layer] = pos + 1;
    }

    /**
     * Like {@link #append} but the position may skip ahead of the layer's next one: FastKV's deeper
     * layers store only the tokens propagated past the TSP layer, at their original positions.
     */
    public void appendAt(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        if (pos < s.next[layer]) throw new IllegalStateException("layer " + layer + " expects a position >= " + s.next[layer] + ", got " + pos);
        if (pos >= maxPositions) throw new KvCacheFullException("position " + pos + " is beyond the cache's " + maxPositions + " positions");
        for (int h = 0; h < kvHeads; h++) s.streams[layer][h].append(k, kOff + h * headDim, v, vOff + h * headDim, pos);
        s.next[layer] = pos + 1;
    }

    /** Most positions per sequence. */
    public int maxPositions() {
        return maxPositions;
    }

    /**
     * Scores a prefill driver computed for every (layer, KV head, position) of {@code seq}, read by
     * its press through {@link PressContext#prefillScores}; positions past the array score +inf.
     */
    public void setPrefillScores(int seq, float[][][] byPosition) {
        seq(seq).prefillScores = byPosition;
    }

    @Override
    public io.kvserve.model.kv.PrefillDriver prefillDriver() {
        io.kvserve.kvcache.press.PrefillPress driver = io.kvserve.kvcache.press.PrefillPress.find(press);
        if (driver == null) return null;
        return (model, pass, seq, prompt, from) -> driver.prefill(new io.kvserve.kvcache.press.PrefillPress.Run(model, pass, this, seq, prompt, from));
    }

    @Override
    public void overwrite(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        for (int h = 0; h < kvHeads; h++) s.streams[layer][h].overwrite(k, kOff + h * headDim, v, vOff + h * headDim, pos);
    }

    @Override
    public void read(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        Sequence s = seq(seq);
        for (int h = 0; h < kvHeads; h++) {
            KvStream st = s.streams[layer][h];
            int i = st.indexOf(pos);
            if (i < 0) throw new IllegalArgumentException("position " + pos + " is not stored in layer " + layer + ", KV head " + h + " (never written or evicted)");
            st.readKey(i, k, kOff + h * headDim);
            st.readValue(i, v, vOff + h * headDim);
        }
    }

    @Override
    public void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale,
                       float[] out, int outOff, float[] scores) {
        Sequence s = seq(seq);
        if (s.window > 0 && nq == groupSize) {
            int slot = maxPos % s.window;
            int[] wp = s.windowPos[layer][kvHead];
            // a batched prefill attends positions p and p + window on different threads: the later one must win the slot
            synchronized (wp) {
                if (maxPos >= wp[slot]) {
                    System.arraycopy(q, qOff, s.windowQ[layer][kvHead], slot * groupSize * headDim, groupSize * headDim);
                    wp[slot] = maxPos;
                }
            }
        }
        s.streams[layer][kvHead].attend(q, qOff, nq, maxPos, scale, out, outOff, scratch.get());
    }

    @Override
    public void stepDone(int seq) {
        Sequence s = seq(seq);
        KvPress press = s.press;
        if (press == null || s.next[0] == 0) return;
        if (!s.prefilled) {
            press.afterPrefill(new Context(seq, s));
            s.prefilled = true;
            s.compressedAt = s.next[0];
            s.budget = new int[layers][kvHeads];
            for (int l = 0; l < layers; l++) for (int h = 0; h < kvHeads; h++) s.budget[l][h] = s.streams[l][h].count;
        } else if (press.decodeInterval() > 0 && s.next[0] - s.compressedAt >= press.decodeInterval()) {
            press.duringDecode(new Context(seq, s));
            s.compressedAt = s.next[0];
        }
    }

    /** The press of sequence {@code seq} (its own or the cache's), or null. */
    public KvPress press(int seq) {
        return seq(seq).press;
    }

    /** Bytes of the pages (and LESS state) sequence {@code seq} holds; a page shared with others counts in full. */
    public synchronized long sequenceBytes(int seq) {
        Sequence s = seq(seq);
        long b = 0;
        for (KvStream[] row : s.streams) for (KvStream st : row) b += st.bytesAtMost(st.count);
        return b;
    }

    /**
     * Upper bound of the bytes sequence {@code seq} will hold while it grows by {@code more} positions:
     * every stream grows by one token a position, except that after its press ran, a press with
     * decode-time compression back to the post-prefill budget ({@code decode:every=N/...}) keeps each
     * stream at most N tokens above that budget. A serving engine reserves this for a compressed
     * sequence instead of its uncompressed need, so compression admits more sequences.
     */
    public synchronized long sequenceBytesBound(int seq, int more) {
        Sequence s = seq(seq);
        int every = s.prefilled ? backToBudgetEvery(s.press) : 0;
        long b = 0;
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                KvStream st = s.streams[l][h];
                long peak = (long) st.count + Math.max(0, more);
                if (every > 0 && s.budget != null) peak = Math.min(peak, Math.max(st.count, (long) s.budget[l][h] + every));
                b += st.bytesAtMost((int) Math.min(Integer.MAX_VALUE, peak));
            }
        }
        return b;
    }

    /** N when {@code p} compresses every stream back to its post-prefill budget every N positions, else 0. */
    private static int backToBudgetEvery(KvPress p) {
        return switch (p) {
            case null -> 0;
            case io.kvserve.kvcache.press.DecodePress d -> d.every();
            case io.kvserve.kvcache.press.LessPress l -> backToBudgetEvery(l.inner());
            case io.kvserve.kvcache.press.ComposedPress c -> c.presses().stream().mapToInt(PagedKvCache::backToBudgetEvery).filter(e -> e > 0).min().orElse(0);
            default -> 0;
        };
    }

    /** Tokens stored for (seq, layer, kvHead). */
    public int storedTokens(int seq, int layer, int kvHead) {
        return seq(seq).streams[layer][kvHead].count;
    }

    /** Original positions stored for (seq, layer, kvHead). */
    public int[] storedPositions(int seq, int layer, int kvHead) {
        KvStream st = seq(seq).streams[layer][kvHead];
        return Arrays.copyOf(st.positions, st.count);
    }

    /** Pages in the block table of (seq, layer, kvHead). */
    public int[] pages(int seq, int layer, int kvHead) {
        KvStream st = seq(seq).streams[layer][kvHead];
        return Arrays.copyOf(st.pages, st.nPages);
    }

    /** Page of the LESS low-rank state of (seq, layer, kvHead), or -1 when it has none. */
    public int lowRankStatePage(int seq, int layer, int kvHead) {
        LowRankState st = seq(seq).streams[layer][kvHead].lowRank;
        return st != null ? st.page : -1;
    }

    /** Tokens absorbed into the LESS state of (seq, layer, kvHead) so far. */
    public long absorbedTokens(int seq, int layer, int kvHead) {
        LowRankState st = seq(seq).streams[layer][kvHead].lowRank;
        return st != null ? st.absorbed : 0;
    }

    /** The LESS state {@code (H row-major (dim, headDim), then z (dim))} of (seq, layer, kvHead), or null. */
    public float[] lowRankState(int seq, int layer, int kvHead) {
        LowRankState st = seq(seq).streams[layer][kvHead].lowRank;
        return st != null ? st.snapshot() : null;
    }

    public int tokensPerPage() {
        return tokensPerPage;
    }

    /** Bytes of one shareable block: a full row page in every (layer, KV head) stream (F16 rows for KIVI, which never shares). */
    public long blockBytes() {
        int fmt = storage.type().isKivi() ? KvFormats.F16_ROW : storage.type().rowFormat;
        return (long) layers * kvHeads * 2 * tokensPerPage * KvFormats.rowBytes(fmt, headDim);
    }

    /**
     * The pages holding positions {@code [block * T, (block + 1) * T)} of every stream of {@code seq},
     * ordered by (layer, KV head), each retained once more for the caller (who must release them);
     * or null when the block is not stored verbatim in page {@code block} of every stream: KIVI
     * storage (its groups straddle pages), a press that evicted a token of it or an earlier one, or
     * re-encoded the stream, or positions not all written yet. Only full pages are ever shared, so
     * a sharer's next write starts a page of its own.
     */
    public synchronized int[] shareBlock(int seq, int block) {
        Sequence s = seq(seq);
        if (storage.type().isKivi() || block < 0) return null;
        int end = (block + 1) * tokensPerPage;   // positions [0, end) must be stored, one per index
        int[] out = new int[layers * kvHeads];
        for (int l = 0; l < layers; l++) {
            if (s.next[l] < end) return null;
            for (int h = 0; h < kvHeads; h++) {
                KvStream st = s.streams[l][h];
                // positions increase strictly from >= 0, so positions[end - 1] == end - 1 means index i holds position i
                if (st.quantized != 0 || !st.storage.equals(storage) || st.count < end || st.positions[end - 1] != end - 1) return null;
                out[l * kvHeads + h] = st.pages[block];
            }
        }
        for (int p : out) alloc.retain(p);
        return out;
    }

    /**
     * Opens a sequence whose first {@code blocks.size() * T} positions are the given blocks (as
     * {@link #shareBlock} returned them, block 0 first); each page gets one more reference for the
     * new sequence. Its press (if any) has not run: it runs after the sequence's own prompt, and a
     * press rewrites kept tokens into new pages, so shared pages are never written.
     */
    public synchronized int openWithBlocks(List<int[]> blocks) {
        int id = open();
        Sequence s = seq(id);
        int n = blocks.size() * tokensPerPage;
        for (int[] b : blocks) {
            if (b.length != layers * kvHeads) throw new IllegalArgumentException("a block has " + b.length + " pages, expected " + layers * kvHeads);
        }
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                KvStream st = s.streams[l][h];
                for (int[] b : blocks) {
                    alloc.retain(b[l * kvHeads + h]);
                    st.adoptFullPage(b[l * kvHeads + h]);
                }
            }
            s.next[l] = n;
        }
        return id;
    }

    /** Ids of open sequences. */
    public synchronized List<Integer> openSequences() {
        return sequences.ids();
    }

    /** A view of sequence {@code seq} as a press sees it (for running a press by hand, and tests). */
    public PressContext pressContext(int seq) {
        return new Context(seq, seq(seq));
    }

    @Override
    public long bytesInUse() {
        return alloc.bytesInUse();
    }

    @Override
    public synchronized void close() {
        for (int id : sequences.ids()) release(id);
        sequences.clear();
    }

    private final class Context implements PressContext {
        private final Sequence s;
        private final RandomGenerator random;

        Context(int id, Sequence s) {
            this.s = s;
            this.random = new SplittableRandom(0x9E3779B97F4A7C15L * (id + 1) + s.next[0]);
        }

        @Override public int layers() { return layers; }
        @Override public int kvHeads() { return kvHeads; }
        @Override public int headDim() { return headDim; }
        @Override public int groupSize() { return groupSize; }
        @Override public int sequenceLength() { return s.next[0]; }
        @Override public int tokens(int layer, int kvHead) { return s.streams[layer][kvHead].count; }

        @Override
        public int[] positions(int layer, int kvHead) {
            KvStream st = s.streams[layer][kvHead];
            return Arrays.copyOf(st.positions, st.count);
        }

        @Override
        public float[] keys(int layer, int kvHead) {
            KvStream st = s.streams[layer][kvHead];
            float[] k = new float[st.count * headDim];
            for (int i = 0; i < st.count; i++) st.readKey(i, k, i * headDim);
            return k;
        }

        @Override
        public float[] values(int layer, int kvHead) {
            KvStream st = s.streams[layer][kvHead];
            float[] v = new float[st.count * headDim];
            for (int i = 0; i < st.count; i++) st.readValue(i, v, i * headDim);
            return v;
        }

        /** Window slots in position order (layer 0 head 0 holds the same positions as every stream). */
        private int[] windowSlots() {
            if (s.window == 0) return new int[0];
            int[] pos = s.windowPos[0][0];
            return java.util.stream.IntStream.range(0, s.window).filter(i -> pos[i] >= 0).boxed()
                    .sorted((a, b) -> Integer.compare(pos[a], pos[b])).mapToInt(Integer::intValue).toArray();
        }

        @Override
        public int[] windowPositions() {
            int[] slots = windowSlots();
            int[] r = new int[slots.length];
            for (int i = 0; i < slots.length; i++) r[i] = s.windowPos[0][0][slots[i]];
            return r;
        }

        @Override
        public float[] windowQueries(int layer, int kvHead) {
            int[] slots = windowSlots();
            int w = groupSize * headDim;
            float[] r = new float[slots.length * w];
            for (int i = 0; i < slots.length; i++) System.arraycopy(s.windowQ[layer][kvHead], slots[i] * w, r, i * w, w);
            return r;
        }

        @Override
        public float[] windowAttention(int layer, int kvHead) {
            int[] wp = windowPositions();
            float[] q = windowQueries(layer, kvHead);
            float[] k = keys(layer, kvHead);
            int[] pos = positions(layer, kvHead);
            int n = pos.length;
            float scale = (float) (1.0 / Math.sqrt(headDim));
            float[] a = new float[wp.length * groupSize * n];
            for (int w = 0; w < wp.length; w++) {
                int visible = 0;
                while (visible < n && pos[visible] <= wp[w]) visible++;
                for (int j = 0; j < groupSize; j++) {
                    int row = (w * groupSize + j) * n, qo = (w * groupSize + j) * headDim;
                    for (int t = 0; t < visible; t++) a[row + t] = Kernels.dot(q, qo, k, t * headDim, headDim) * scale;
                    if (visible > 0) Kernels.softmax(a, row, visible);
                }
            }
            return a;
        }

        @Override
        public float[] accumulatedAttention(int layer, int kvHead) {
            KvStream st = s.streams[layer][kvHead];
            if (st.attention == null) throw new IllegalStateException("this cache does not track attention: the press must return true from tracksAttention()");
            return Arrays.copyOf(st.attention, st.count);
        }

        @Override
        public float[] prefillScores(int layer, int kvHead) {
            if (s.prefillScores == null) return null;
            float[] byPos = s.prefillScores[layer][kvHead];
            KvStream st = s.streams[layer][kvHead];
            float[] r = new float[st.count];
            for (int i = 0; i < st.count; i++) r[i] = st.positions[i] < byPos.length ? byPos[st.positions[i]] : Float.POSITIVE_INFINITY;
            return r;
        }

        @Override
        public int budgetAfterPrefill(int layer, int kvHead) {
            return s.budget != null ? s.budget[layer][kvHead] : s.streams[layer][kvHead].count;
        }

        @Override
        public void keep(int layer, int kvHead, int[] indices) {
            KvStream st = s.streams[layer][kvHead];
            for (int i = 0; i < indices.length; i++) {
                if (indices[i] < 0 || indices[i] >= st.count || i > 0 && indices[i] <= indices[i - 1]) {
                    throw new IllegalArgumentException("keep indices must be increasing within [0, " + st.count + "), got " + Arrays.toString(indices));
                }
            }
            if (indices.length == st.count) return;
            st.keep(indices);
        }

        @Override
        public void keepAbsorbing(int layer, int kvHead, int[] indices, AttentionFeatureMap map) {
            KvStream st = s.streams[layer][kvHead];
            boolean[] kept = new boolean[st.count];
            for (int i = 0; i < indices.length; i++) {
                if (indices[i] < 0 || indices[i] >= st.count || i > 0 && indices[i] <= indices[i - 1]) {
                    throw new IllegalArgumentException("keep indices must be increasing within [0, " + st.count + "), got " + Arrays.toString(indices));
                }
                kept[indices[i]] = true;
            }
            int[] dropped = new int[st.count - indices.length];
            for (int i = 0, d = 0; i < st.count; i++) if (!kept[i]) dropped[d++] = i;
            st.absorb(dropped, map);
            keep(layer, kvHead, indices);
        }

        @Override
        public void convert(KvStorage to) {
            if (to.layerGroups()) {
                throw new IllegalArgumentException("quantize:...,group=layer needs the layer-grouped cache, which only a press made of that quantize"
                        + " alone gets (every head of a layer must keep the same tokens); after a per-head press use group=head");
            }
            for (KvStream[] row : s.streams) for (KvStream st : row) st.convert(to);
        }

        @Override
        public RandomGenerator random() {
            return random;
        }
    }
}
