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

    KvStream(PageAllocator alloc, KvStorage storage, int headDim, int tokensPerPage, boolean trackAttention) {
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
        return KvFormats.rowBytes(rowFormat(), headDim);
    }

    int rowPageBytes() {
        return 2 * tokensPerPage * rowBytes();
    }

    int groupPageBytes() {
        int bits = storage.type().kiviBits;
        return KvFormats.keyGroupBytes(headDim, KvStorage.KIVI_GROUP, bits) + KvStorage.KIVI_GROUP * KvFormats.valueRowBytes(headDim, bits);
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
        KvFormats.encodeRow(fmt, k, kOff, headDim, seg, (long) slot * rb);
        KvFormats.encodeRow(fmt, v, vOff, headDim, seg, (long) (tokensPerPage + slot) * rb);
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
        KvFormats.encodeRow(fmt, v, vOff, headDim, seg, (long) (tokensPerPage + slot) * rb);
    }

    private void addPage(int page) {
        if (nPages == pages.length) pages = Arrays.copyOf(pages, nPages * 2);
        pages[nPages++] = page;
    }

    /** KIVI: the oldest G residual tokens become a quantised group page; the residual moves down. */
    private void quantizeOldestGroup() {
        int g = KvStorage.KIVI_GROUP, bits = storage.type().kiviBits;
        int residual = count - quantized;
        float[] keys = new float[residual * headDim], values = new float[residual * headDim];
        for (int r = 0; r < residual; r++) {
            readKey(quantized + r, keys, r * headDim);
            readValue(quantized + r, values, r * headDim);
        }
        int page = alloc.allocate(groupPageBytes());
        MemorySegment seg = alloc.segment(page);
        KvFormats.encodeKeyGroup(keys, 0, headDim, g, bits, seg, 0);
        long vBase = KvFormats.keyGroupBytes(headDim, g, bits);
        int vrb = KvFormats.valueRowBytes(headDim, bits);
        for (int t = 0; t < g; t++) KvFormats.encodeValue(values, t * headDim, headDim, bits, seg, vBase + (long) t * vrb);
        // drop the residual pages, insert the group page, write the rest of the residual again
        for (int p = groups(); p < nPages; p++) alloc.release(pages[p]);
        nPages = groups();
        addPage(page);
        // positions and attention stay where they are: only the storage of the tokens moves
        quantized += g;
        count = quantized;
        for (int r = g; r < residual; r++) appendRow(keys, r * headDim, values, r * headDim);
    }

    /** Writes a row-stored token at index {@link #count} without touching positions (used when moving the residual). */
    private void appendRow(float[] k, int kOff, float[] v, int vOff) {
        int slot = rowSlot(count), pi = rowPageIndex(count);
        if (slot == 0) addPage(alloc.allocate(rowPageBytes()));
        MemorySegment seg = alloc.segment(pages[pi]);
        int rb = rowBytes(), fmt = rowFormat();
        KvFormats.encodeRow(fmt, k, kOff, headDim, seg, (long) slot * rb);
        KvFormats.encodeRow(fmt, v, vOff, headDim, seg, (long) (tokensPerPage + slot) * rb);
        count++;
    }

    // ---- reading ----

    void readKey(int i, float[] dst, int dstOff) {
        if (i < quantized) {
            int g = KvStorage.KIVI_GROUP;
            KvFormats.decodeKey(alloc.segment(pages[i / g]), 0, headDim, g, storage.type().kiviBits, i % g, dst, dstOff);
        } else {
            Kernels.kvDecodeRow(rowFormat(), alloc.segment(pages[rowPageIndex(i)]), (long) rowSlot(i) * rowBytes(), dst, dstOff, headDim);
        }
    }

    void readValue(int i, float[] dst, int dstOff) {
        if (i < quantized) {
            int g = KvStorage.KIVI_GROUP, bits = storage.type().kiviBits;
            long off = KvFormats.keyGroupBytes(headDim, g, bits) + (long) (i % g) * KvFormats.valueRowBytes(headDim, bits);
            Kernels.kiviDecodeValue(alloc.segment(pages[i / g]), off, headDim, bits, dst, dstOff);
        } else {
            Kernels.kvDecodeRow(rowFormat(), alloc.segment(pages[rowPageIndex(i)]), (long) (tokensPerPage + rowSlot(i)) * rowBytes(), dst, dstOff, headDim);
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
    int attend(float[] q, int qOff, int nq, int maxPos, float scale, float[] out, int outOff, Scratch sc) {
        int n = visible(maxPos), hd = headDim;
        float[] probs = sc.probs(nq * n);
        float[] row = sc.row(hd);
        int i = 0;
        if (quantized > 0) {
            int g = KvStorage.KIVI_GROUP, bits = storage.type().kiviBits;
            for (; i < Math.min(quantized, n); i += g) {
                int cnt = Math.min(g, n - i);
                MemorySegment seg = alloc.segment(pages[i / g]);
                for (int j = 0; j < nq; j++) Kernels.kiviKeyScores(seg, 0, hd, g, bits, q, qOff + j * hd, scale, probs, j * n + i, cnt);
            }
        }
        for (; i < n; i++) {
            readKey(i, row, 0);
            for (int j = 0; j < nq; j++) probs[j * n + i] = Kernels.dot(q, qOff + j * hd, row, 0, hd) * scale;
        }
        for (int j = 0; j < nq; j++) {
            Kernels.softmax(probs, j * n, n);
            Arrays.fill(out, outOff + j * hd, outOff + (j + 1) * hd, 0f);
        }
        for (i = 0; i < n; i++) {
            readValue(i, row, 0);
            for (int j = 0; j < nq; j++) Kernels.axpy(probs[j * n + i], row, 0, out, outOff + j * hd, hd);
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

    // ---- reshaping ----

    void releaseAll() {
        for (int p = 0; p < nPages; p++) alloc.release(pages[p]);
        nPages = 0;
        count = 0;
        quantized = 0;
    }

    /** A stream holding the first {@code k} tokens of this one, sharing its pages where it can. */
    KvStream prefix(int k) {
        KvStream s = new KvStream(alloc, storage, headDim, tokensPerPage, attention != null);
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
        KvStream s = new KvStream(alloc, storage, headDim, tokensPerPage, attention != null);
        s.copyFrom(this, idx);
        replaceWith(s);
    }

    /** Re-encodes every token into another storage (a press that quantises after evicting). */
    void convert(KvStorage to) {
        KvStream s = new KvStream(alloc, to, headDim, tokensPerPage, attention != null);
        int[] idx = new int[count];
        for (int i = 0; i < count; i++) idx[i] = i;
        s.copyFrom(this, idx);
        replaceWith(s);
    }

    private void replaceWith(KvStream s) {
        releaseAll();
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
        boolean raw = !storage.type().isKivi() && src.storage.equals(storage) && src.quantized == 0;
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
                MemorySegment.copy(from, (long) (tokensPerPage + ss) * rb, dst, (long) (tokensPerPage + slot) * rb, rb);
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

    /** Per-thread scratch of the attention kernels. */
    static final class Scratch {
        private float[] probs = new float[256];
        private float[] row = new float[64];

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
