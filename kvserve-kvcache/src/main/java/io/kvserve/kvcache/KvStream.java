package io.kvserve.kvcache;

import io.kvserve.kernels.Kernels;
import io.kvserve.kernels.kv.KvFormats;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The keys and values of one (sequence, layer, KV head): a block table of pages and the original
 * position of every stored token, in increasing order. Presses may keep any subset, so the stored
 * count and the positions are independent of the sequence length.
 *
 * <p>Row formats: token i sits in page {@code i / T} at slot {@code i % T}, keys in the first half
 * of the page {@code (T, rowBytes)} and values in the second. KIVI: the first {@link #quantized}
 * tokens are in group pages of {@code G} tokens (a key group, then {@code G} value rows), the rest
 * in residual pages laid out like F16 row pages. Writing into a page that another sequence shares
 * copies it first.
 */
final class KvStream {
    final PageAllocator alloc;
    final int headDim;
    final int tokensPerPage;
    KvStorage storage;
    int[] pages = new int[4];
    int nPages;
    int[] positions = new int[16];
    int count;
    /** KIVI: tokens held in quantised group pages (a multiple of G). */
    int quantized;
    /** Accumulated attention received by each stored token (H2O), or null when not tracked. */
    float[] attention;
    /** When set, one row of {@code codec.width()} floats per token in place of the key and value rows. */
    final StreamCodec codec;
    /** LESS: what evicted tokens left behind, or null (then attention is exactly the sparse one). */
    LowRankState lowRank;

    KvStream(PageAllocator alloc, KvStorage storage, int headDim, int tokensPerPage, boolean trackAttention) {
        this(alloc, storage, headDim, tokensPerPage, trackAttention, null);
    }

    KvStream(PageAllocator alloc, KvStorage storage, int headDim, int tokensPerPage, boolean trackAttention, StreamCodec codec) {
        this.codec = codec;
        this.alloc = alloc;
        this.storage = storage;
        this.headDim = headDim;
        this.tokensPerPage = tokensPerPage;
        if (trackAttention) attention = new float[16];
    }

    private int rowFormat() {
        return storage.type().isKivi() ? KvFormats.F16_ROW : storage.type().rowFormat;
    }

    int rowBytes() {
        return KvFormats.rowBytes(rowFormat(), codec != null ? codec.width() : headDim);
    }

    int rowPageBytes() {
        return codec != null ? tokensPerPage * rowBytes() : tokensPerPage * (rowBytes() + valueSlotBytes());
    }

    /** KIVI with {@code vresidual=0}: residual pages hold F16 key rows and already quantised value rows. */
    private boolean valuesQuantized() {
        return storage.type().isKivi() && storage.valuesOnArrival();
    }

    private int valueSlotBytes() {
        return valuesQuantized() ? KvFormats.valueRowBytes(headDim, storage.valueBits(), storage.metaBytes()) : rowBytes();
    }

    /** Offset of the value of row slot {@code slot}: after the page's key rows. */
    private long valueOffset(int slot) {
        return (long) tokensPerPage * rowBytes() + (long) slot * valueSlotBytes();
    }

    private void encodeValueSlot(float[] v, int vOff, MemorySegment seg, int slot) {
        if (valuesQuantized()) KvFormats.encodeValue(v, vOff, headDim, storage.valueBits(), storage.metaBytes(), seg, valueOffset(slot));
        else KvFormats.encodeRow(rowFormat(), v, vOff, headDim, seg, valueOffset(slot));
    }

    int groupPageBytes() {
        return KvFormats.keyGroupBytes(headDim, KvStorage.KIVI_GROUP, storage.keyBits(), storage.metaBytes())
                + KvStorage.KIVI_GROUP * KvFormats.valueRowBytes(headDim, storage.valueBits(), storage.metaBytes());
    }

    // ---- where a token lives ----

    private int groups() {
        return quantized / KvStorage.KIVI_GROUP;
    }

    /** Page index in the block table and slot of row-stored token {@code i} (residual for KIVI). */
    private int rowPageIndex(int i) {
        return groups() + (i - quantized) / tokensPerPage;
    }

    private int rowSlot(int i) {
        return (i - quantized) % tokensPerPage;
    }

    // ---- writing ----

    void append(float[] k, int kOff, float[] v, int vOff, int pos) {
        if (count > 0 && pos <= positions[count - 1]) {
            throw new IllegalStateException("position " + pos + " is not after the last stored position " + positions[count - 1]);
        }
        int slot = rowSlot(count);
        int pi = rowPageIndex(count);
        if (slot == 0) addPage(alloc.allocate(rowPageBytes()));
        else pages[pi] = alloc.copyOnWrite(pages[pi]);
        MemorySegment seg = alloc.segment(pages[pi]);
        int rb = rowBytes(), fmt = rowFormat();
        if (codec != null) {
            float[] row = new float[codec.width()];
            codec.encode(k, kOff, v, vOff, pos, row, 0);
            KvFormats.encodeRow(fmt, row, 0, row.length, seg, (long) slot * rb);
        } else {
            KvFormats.encodeRow(fmt, k, kOff, headDim, seg, (long) slot * rb);
            encodeValueSlot(v, vOff, seg, slot);
        }
        if (count == positions.length) positions = Arrays.copyOf(positions, count * 2);
        positions[count] = pos;
        if (attention != null) {
            if (count == attention.length) attention = Arrays.copyOf(attention, positions.length);
            attention[count] = 0f;
        }
        count++;
        if (storage.type().isKivi() && count - quantized >= storage.residual() + KvStorage.KIVI_GROUP) quantizeOldestGroup();
    }

    /** Index of the stored token with original position {@code pos}, or -1 (positions are ascending). */
    int indexOf(int pos) {
        int i = Arrays.binarySearch(positions, 0, count, pos);
        return i >= 0 ? i : -1;
    }

    /** Replaces the row of the stored token at {@code pos} (copy on write if its page is shared). */
    void overwrite(float[] k, int kOff, float[] v, int vOff, int pos) {
        int i = indexOf(pos);
        if (i < 0) throw new IllegalArgumentException("position " + pos + " is not stored (never written or evicted), cannot overwrite it");
        if (i < quantized) throw new UnsupportedOperationException("position " + pos + " sits in a quantised KIVI group and cannot be overwritten; reuse needs a row-stored KV type");
        int pi = rowPageIndex(i), slot = rowSlot(i);
        pages[pi] = alloc.copyOnWrite(pages[pi]);
        MemorySegment seg = alloc.segment(pages[pi]);
        int rb = rowBytes(), fmt = rowFormat();
        KvFormats.encodeRow(fmt, k, kOff, headDim, seg, (long) slot * rb);
        encodeValueSlot(v, vOff, seg, slot);
    }

    /** Appends a full row page of the next {@code T} positions (already retained for this stream): prefix sharing. */
    void adoptFullPage(int page) {
        if (storage.type().isKivi() || count % tokensPerPage != 0) throw new IllegalStateException("a shared page must start at a page boundary of a row-format stream");
        addPage(page);
        if (positions.length < count + tokensPerPage) positions = Arrays.copyOf(positions, Math.max(positions.length * 2, count + tokensPerPage));
        for (int i = 0; i < tokensPerPage; i++) positions[count + i] = count + i;
        if (attention != null) {
            if (attention.length < positions.length) attention = Arrays.copyOf(attention, positions.length);
            Arrays.fill(attention, count, count + tokensPerPage, 0f);
        }
        count += tokensPerPage;
    }

    private void addPage(int page) {
        if (nPages == pages.length) pages = Arrays.copyOf(pages, nPages * 2);
        pages[nPages++] = page;
    }

    /** KIVI: the oldest G residual tokens become a quantised group page; the residual moves down. */
    private void quantizeOldestGroup() {
        int g = KvStorage.KIVI_GROUP, bits = storage.keyBits(), vbits = storage.valueBits();
        int residual = count - quantized;
        int meta = storage.metaBytes(), vrb = KvFormats.valueRowBytes(headDim, vbits, meta);
        float[] keys = new float[residual * headDim], values = new float[residual * headDim];
        // values quantised on arrival move as bytes: quantising their decoded values again could shift codes
        MemorySegment raw = valuesQuantized() ? MemorySegment.ofArray(new byte[residual * vrb]) : null;
        for (int r = 0; r < residual; r++) {
            readKey(quantized + r, keys, r * headDim);
            if (raw != null) MemorySegment.copy(alloc.segment(pages[rowPageIndex(quantized + r)]), valueOffset(rowSlot(quantized + r)), raw, (long) r * vrb, vrb);
            else readValue(quantized + r, values, r * headDim);
        }
        int page = alloc.allocate(groupPageBytes());
        MemorySegment seg = alloc.segment(page);
        KvFormats.encodeKeyGroup(keys, 0, headDim, g, bits, meta, seg, 0);
        long vBase = KvFormats.keyGroupBytes(headDim, g, bits, meta);
        for (int t = 0; t < g; t++) {
            if (raw != null) MemorySegment.copy(raw, (long) t * vrb, seg, vBase + (long) t * vrb, vrb);
            else KvFormats.encodeValue(values, t * headDim, headDim, vbits, meta, seg, vBase + (long) t * vrb);
        }
        // drop the residual pages, insert the group page, write the rest of the residual again
        for (int p = groups(); p < nPages; p++) alloc.release(pages[p]);
        nPages = groups();
        addPage(page);
        // positions and attention stay where they are: only the storage of the tokens moves
        quantized += g;
        count = quantized;
        for (int r = g; r < residual; r++) {
            appendRow(keys, r * headDim, values, r * headDim);
            if (raw != null) MemorySegment.copy(raw, (long) r * vrb, alloc.segment(pages[rowPageIndex(count - 1)]), valueOffset(rowSlot(count - 1)), vrb);
        }
    }

    /** Writes a row-stored token at index {@link #count} without touching positions (used when moving the residual). */
    private void appendRow(float[] k, int kOff, float[] v, int vOff) {
        int slot = rowSlot(count), pi = rowPageIndex(count);
        if (slot == 0) addPage(alloc.allocate(rowPageBytes()));
        MemorySegment seg = alloc.segment(pages[pi]);
        int rb = rowBytes(), fmt = rowFormat();
        KvFormats.encodeRow(fmt, k, kOff, headDim, seg, (long) slot * rb);
        if (!valuesQuantized()) KvFormats.encodeRow(fmt, v, vOff, headDim, seg, valueOffset(slot));
        count++;
    }

    // ---- reading ----

    /** The stored row of token {@code i} (codec streams), {@code codec.width()} floats. */
    void readRow(int i, float[] dst, int dstOff) {
        Kernels.kvDecodeRow(rowFormat(), alloc.segment(pages[rowPageIndex(i)]), (long) rowSlot(i) * rowBytes(), dst, dstOff, codec.width());
    }

    void readKey(int i, float[] dst, int dstOff) {
        if (codec != null) {
            float[] row = new float[codec.width()];
            readRow(i, row, 0);
            codec.decodeKey(row, 0, positions[i], dst, dstOff);
        } else if (i < quantized) {
            int g = KvStorage.KIVI_GROUP;
            KvFormats.decodeKey(alloc.segment(pages[i / g]), 0, headDim, g, storage.keyBits(), storage.metaBytes(), i % g, dst, dstOff);
        } else {
            Kernels.kvDecodeRow(rowFormat(), alloc.segment(pages[rowPageIndex(i)]), (long) rowSlot(i) * rowBytes(), dst, dstOff, headDim);
        }
    }

    void readValue(int i, float[] dst, int dstOff) {
        if (codec != null) {
            float[] row = new float[codec.width()];
            readRow(i, row, 0);
            codec.decodeValue(row, 0, dst, dstOff);
        } else if (i < quantized) {
            int g = KvStorage.KIVI_GROUP, vbits = storage.valueBits(), meta = storage.metaBytes();
            long off = KvFormats.keyGroupBytes(headDim, g, storage.keyBits(), meta) + (long) (i % g) * KvFormats.valueRowBytes(headDim, vbits, meta);
            Kernels.kiviDecodeValue(alloc.segment(pages[i / g]), off, headDim, vbits, meta, dst, dstOff);
        } else if (valuesQuantized()) {
            Kernels.kiviDecodeValue(alloc.segment(pages[rowPageIndex(i)]), valueOffset(rowSlot(i)), headDim, storage.valueBits(), storage.metaBytes(), dst, dstOff);
        } else {
            Kernels.kvDecodeRow(rowFormat(), alloc.segment(pages[rowPageIndex(i)]), valueOffset(rowSlot(i)), dst, dstOff, headDim);
        }
    }

    /** Tokens with position <= {@code maxPos}: the causal prefix. */
    int visible(int maxPos) {
        int n = count;
        while (n > 0 && positions[n - 1] > maxPos) n--;
        return n;
    }

    /**
     * Causal attention of {@code nq} query heads over the visible tokens; KIVI groups are scored
     * without dequantising them. Probabilities stay in {@code sc.probs} as {@code (nq, n)}.
     * Returns n.
     */
    /** Rows decoded per block in {@link #attend}: 64 rows of head size 128 are 32 KB. */
    static final int ATTEND_BLOCK = 64;

    int attend(float[] q, int qOff, int nq, int maxPos, float scale, float[] out, int outOff, Scratch sc) {
        if (codec != null) return attendEncoded(q, qOff, nq, maxPos, scale, out, outOff, sc);
        int n = visible(maxPos), hd = headDim;
        float[] probs = sc.probs(nq * n);
        int i = 0;
        if (quantized > 0) {
            int g = KvStorage.KIVI_GROUP, bits = storage.keyBits(), meta = storage.metaBytes();
            for (; i < Math.min(quantized, n); i += g) {
                int cnt = Math.min(g, n - i);
                MemorySegment seg = alloc.segment(pages[i / g]);
                for (int j = 0; j < nq; j++) Kernels.kiviKeyScores(seg, 0, hd, g, bits, meta, q, qOff + j * hd, scale, probs, j * n + i, cnt);
            }
        }
        // rows are decoded a block at a time, so that the scoring kernel takes several keys per pass
        float[] rows = sc.row(ATTEND_BLOCK * hd);
        for (; i < n; i += ATTEND_BLOCK) {
            int m = Math.min(ATTEND_BLOCK, n - i);
            for (int t = 0; t < m; t++) readKey(i + t, rows, t * hd);
            for (int j = 0; j < nq; j++) Kernels.attentionScores(q, qOff + j * hd, rows, 0, m, hd, scale, probs, j * n + i);
        }
        LowRankState lr = lowRank != null && lowRank.maxPosition <= maxPos ? lowRank : null;
        float[] lse = lr != null ? sc.lse(nq) : null;
        for (int j = 0; j < nq; j++) {
            if (lr != null) lse[j] = logSumExp(probs, j * n, n);
            Kernels.softmax(probs, j * n, n);
            Arrays.fill(out, outOff + j * hd, outOff + (j + 1) * hd, 0f);
        }
        for (i = 0; i < n; i += ATTEND_BLOCK) {
            int m = Math.min(ATTEND_BLOCK, n - i);
            for (int t = 0; t < m; t++) readValue(i + t, rows, t * hd);
            for (int j = 0; j < nq; j++) Kernels.weightedRowSum(probs, j * n + i, m, rows, 0, hd, out, outOff + j * hd);
        }
        if (lr != null) {
            float[] shrink = sc.shrink(nq);
            lr.mix(q, qOff, nq, lse, out, outOff, sc.phi(lr.map.dim()), shrink);
            for (int j = 0; j < nq; j++) for (i = 0; i < n; i++) probs[j * n + i] *= shrink[j];
        }
        if (attention != null) {
            synchronized (this) {
                for (i = 0; i < n; i++) {
                    float s = 0f;
                    for (int j = 0; j < nq; j++) s += probs[j * n + i];
                    attention[i] += s;
                }
            }
        }
        return n;
    }

    /**
     * Attention over codec rows without decoding them: scores are {@code encodeQuery(q) . row_t}, and
     * the output is the decoded attention-weighted sum of rows (the codec's value map is linear).
     */
    private int attendEncoded(float[] q, int qOff, int nq, int maxPos, float scale, float[] out, int outOff, Scratch sc) {
        int n = visible(maxPos), hd = headDim, w = codec.width();
        float[] probs = sc.probs(nq * n);
        float[] buf = sc.codec(2 * nq * w + w);   // (nq, w) queries, (nq, w) weighted sums, one row
        int sums = nq * w, row = 2 * nq * w;
        for (int j = 0; j < nq; j++) codec.encodeQuery(q, qOff + j * hd, maxPos, buf, j * w);
        for (int i = 0; i < n; i++) {
            readRow(i, buf, row);
            for (int j = 0; j < nq; j++) probs[j * n + i] = Kernels.dot(buf, j * w, buf, row, w) * scale;
        }
        for (int j = 0; j < nq; j++) Kernels.softmax(probs, j * n, n);
        Arrays.fill(buf, sums, sums + nq * w, 0f);
        for (int i = 0; i < n; i++) {
            readRow(i, buf, row);
            for (int j = 0; j < nq; j++) Kernels.axpy(probs[j * n + i], buf, row, buf, sums + j * w, w);
        }
        for (int j = 0; j < nq; j++) codec.decodeValue(buf, sums + j * w, out, outOff + j * hd);
        if (attention != null) {
            synchronized (this) {
                for (int i = 0; i < n; i++) {
                    float s = 0f;
                    for (int j = 0; j < nq; j++) s += probs[j * n + i];
                    attention[i] += s;
                }
            }
        }
        return n;
    }

    private static float logSumExp(float[] x, int off, int n) {
        if (n == 0) return Float.NEGATIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(x[off + i] - max);
        return (float) (max + Math.log(sum));
    }

    // ---- LESS state ----

    /** Adds the stored tokens at {@code idx} to the low-rank state (created with {@code map} on first use). */
    void absorb(int[] idx, AttentionFeatureMap map) {
        if (idx.length == 0) return;
        if (map.headDim() != headDim) throw new IllegalArgumentException("feature map for head dim " + map.headDim() + ", stream has " + headDim);
        if (lowRank == null) lowRank = new LowRankState(alloc, map);
        float[] k = new float[headDim], v = new float[headDim], psi = new float[lowRank.map.dim()];
        for (int i : idx) {
            readKey(i, k, 0);
            readValue(i, v, 0);
            lowRank.absorb(k, 0, v, 0, positions[i], psi);
        }
    }

    /** A fork of length {@code length} shares the state if every absorbed token lies before it. */
    void inheritLowRank(KvStream from, int length) {
        if (from.lowRank != null && from.lowRank.maxPosition < length) lowRank = from.lowRank.share();
    }

    /** Truncation to {@code fromPos}: absorbed tokens cannot be taken out again, so a state holding later ones is dropped. */
    void dropLowRankFrom(int fromPos) {
        if (lowRank != null && lowRank.maxPosition >= fromPos) {
            lowRank.release();
            lowRank = null;
        }
    }

    // ---- reshaping ----

    void releaseAll() {
        releasePages();
        if (lowRank != null) lowRank.release();
        lowRank = null;
    }

    private void releasePages() {
        for (int p = 0; p < nPages; p++) alloc.release(pages[p]);
        nPages = 0;
        count = 0;
        quantized = 0;
    }

    /** A stream holding the first {@code k} tokens of this one, sharing its pages where it can. */
    KvStream prefix(int k) {
        KvStream s = new KvStream(alloc, storage, headDim, tokensPerPage, attention != null, codec);
        if (k >= quantized) {
            int rowTokens = k - quantized;
            int n = groups() + (rowTokens + tokensPerPage - 1) / tokensPerPage;
            for (int p = 0; p < n; p++) {
                alloc.retain(pages[p]);
                s.addPage(pages[p]);
            }
            s.quantized = quantized;
            s.count = k;
            s.positions = Arrays.copyOf(positions, Math.max(16, k));
            if (attention != null) s.attention = Arrays.copyOf(attention, s.positions.length);
        } else {
            int[] idx = new int[k];
            for (int i = 0; i < k; i++) idx[i] = i;
            s.copyFrom(this, idx);
        }
        return s;
    }

    /** Drops every token at index >= {@code k}. */
    void truncate(int k) {
        if (k >= count) return;
        if (k >= quantized) {
            int need = groups() + (k - quantized + tokensPerPage - 1) / tokensPerPage;
            for (int p = need; p < nPages; p++) alloc.release(pages[p]);
            nPages = need;
            count = k;
        } else {
            replaceWith(prefix(k));
        }
    }

    /** Keeps the tokens at the given increasing indices, in new pages; the old pages are released. */
    void keep(int[] idx) {
        KvStream s = new KvStream(alloc, storage, headDim, tokensPerPage, attention != null, codec);
        s.copyFrom(this, idx);
        replaceWith(s);
    }

    /** Re-encodes every token into another storage (a press that quantises after evicting). */
    void convert(KvStorage to) {
        if (codec != null && to.type().isKivi()) {
            throw new IllegalArgumentException("encoded (EliteKV) rows cannot be converted to " + to + ": KIVI's per-channel key groups do not apply to them; use q8_0 or q4_0");
        }
        KvStream s = new KvStream(alloc, to, headDim, tokensPerPage, attention != null, codec);
        int[] idx = new int[count];
        for (int i = 0; i < count; i++) idx[i] = i;
        s.copyFrom(this, idx);
        replaceWith(s);
    }

    private void replaceWith(KvStream s) {
        releasePages();
        storage = s.storage;
        pages = s.pages;
        nPages = s.nPages;
        positions = s.positions;
        count = s.count;
        quantized = s.quantized;
        attention = s.attention;
    }

    /** Appends the tokens {@code src[idx]}: raw row copies between equal row formats, else decode and re-encode. */
    private void copyFrom(KvStream src, int[] idx) {
        boolean raw = !storage.type().isKivi() && src.storage.equals(storage) && src.quantized == 0 && src.codec == codec;
        float[] k = new float[headDim], v = new float[headDim];
        int rb = rowBytes();
        for (int i : idx) {
            if (raw) {
                int slot = rowSlot(count), pi = rowPageIndex(count);
                if (slot == 0) addPage(alloc.allocate(rowPageBytes()));
                MemorySegment dst = alloc.segment(pages[pi]);
                MemorySegment from = alloc.segment(src.pages[src.rowPageIndex(i)]);
                int ss = src.rowSlot(i);
                MemorySegment.copy(from, (long) ss * rb, dst, (long) slot * rb, rb);
                if (codec == null) MemorySegment.copy(from, (long) (tokensPerPage + ss) * rb, dst, (long) (tokensPerPage + slot) * rb, rb);
                if (count == positions.length) positions = Arrays.copyOf(positions, count * 2);
                positions[count] = src.positions[i];
                count++;
            } else {
                src.readKey(i, k, 0);
                src.readValue(i, v, 0);
                append(k, 0, v, 0, src.positions[i]);
            }
            if (attention != null && src.attention != null) {
                if (attention.length < positions.length) attention = Arrays.copyOf(attention, positions.length);
                attention[count - 1] = src.attention[i];
            }
        }
    }

    long bytes() {
        long b = 0;
        for (int p = 0; p < nPages; p++) b += alloc.segment(pages[p]).byteSize();
        return b;
    }

    /** Turns on attention tracking (H2O) for a stream opened without it: tokens stored so far start at zero. */
    void trackAttention() {
        if (attention == null) attention = new float[positions.length];
    }

    /**
     * Upper bound of the bytes this stream holds (pages and LESS state) once it stores {@code peak >= count}
     * tokens, the extra ones appended as rows: a KIVI group later replaces F16 residual pages by fewer bytes.
     */
    long bytesAtMost(int peak) {
        long b = bytes() + (lowRank != null ? alloc.segment(lowRank.page).byteSize() : 0);
        int t = tokensPerPage;
        int pagesNow = (count - quantized + t - 1) / t, pagesPeak = (Math.max(peak, count) - quantized + t - 1) / t;
        return b + (long) Math.max(0, pagesPeak - pagesNow) * rowPageBytes();
    }

    /** Per-thread scratch of the attention kernels. */
    static final class Scratch {
        private float[] probs = new float[256];
        private float[] row = new float[64];
        private float[] codec = new float[64];

        float[] codec(int n) {
            if (codec.length < n) codec = new float[n];
            return codec;
        }

        private float[] lse = new float[8], shrink = new float[8], phi = new float[16];

        float[] lse(int n) {
            if (lse.length < n) lse = new float[n];
            return lse;
        }

        float[] shrink(int n) {
            if (shrink.length < n) shrink = new float[n];
            return shrink;
        }

        float[] phi(int n) {
            if (phi.length < n) phi = new float[n];
            return phi;
        }

        float[] probs(int n) {
            if (probs.length < n) probs = new float[Math.max(n, probs.length * 2)];
            return probs;
        }

        float[] row(int n) {
            if (row.length < n) row = new float[n];
            return row;
        }
    }
}
