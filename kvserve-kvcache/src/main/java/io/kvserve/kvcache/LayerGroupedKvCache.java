package io.kvserve.kvcache;

import io.kvserve.kvcache.press.KvPress;
import io.kvserve.kvcache.press.QuantizePress;
import io.kvserve.model.kv.KvCache;

import java.util.Arrays;

/**
 * KIVI with value groups that span the KV heads of a layer ({@code kivi2:group=layer}): a
 * {@link PagedKvCache} whose every layer is one stream of width {@code kvHeads * headDim}. KIVI
 * quantises values per token over groups of channels and keys per channel over groups of tokens;
 * neither needs the channels of a group to belong to one head, so a layer-wide stream is KIVI's
 * layout with 32-channel value groups even when a head has only 8 channels. Keys, their groups and
 * the F16 residual are unchanged.
 *
 * <p>Attention of KV head {@code h} runs over the wide stream with the query zero outside the
 * head's channels (so {@code q . k} is the head's score, exactly) and keeps the head's channels of
 * the output: the fused KIVI kernels stay as they are, at {@code kvHeads} times the arithmetic,
 * which is small next to the matmuls of the forward pass.
 *
 * <p>All heads of a layer hold the same positions, so per-head presses are refused. The one press
 * it takes is {@code quantize:type=kivi4,...,group=layer}, KIVI's quantisation after a full-precision
 * prefill: the layer streams hold the prefill in the given element type (f32, f16, q8_0, q4_0) and
 * are converted into layer-grouped KIVI after it.
 */
public final class LayerGroupedKvCache implements KvCache {
    private final PagedKvCache wide;
    private final int kvHeads, headDim, width;
    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0]});

    /** Whether {@code press} is a {@code quantize} into layer-grouped KIVI (the one press this cache takes). */
    public static boolean quantizesIntoLayerGroups(KvPress press) {
        return press instanceof QuantizePress q && q.storage().layerGroups();
    }

    /**
     * @param storage a KIVI type with {@code group=layer}, or with a {@code quantize:...,group=layer}
     *                press the row type the prefill is stored in
     * @param press   null, or {@code quantize:...,group=layer}: every other press chooses tokens per KV head
     */
    public LayerGroupedKvCache(int layers, int kvHeads, int headDim, int groupSize, int maxPositions, KvStorage storage,
                               int tokensPerPage, long byteBudget, KvPress press) {
        boolean quantize = quantizesIntoLayerGroups(press);
        if (quantize ? storage.type().isKivi() : !storage.type().isKivi() || !storage.layerGroups()) {
            throw new IllegalArgumentException(quantize
                    ? "press '" + press.spec() + "' quantises a full-precision prefill into layer groups: give it a row type (f32, f16, q8_0, q4_0), got " + storage
                    : "a layer-grouped cache needs a KIVI type with group=layer, got " + storage);
        }
        if (press != null && !quantize) {
            throw new IllegalArgumentException("KV type " + storage + " stores the KV heads of a layer in shared value groups, so every head"
                    + " must keep the same tokens, but press '" + press.spec() + "' chooses tokens per KV head: combine presses with "
                    + storage.withHeadGroups() + " (group=head, the default)");
        }
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.width = kvHeads * headDim;
        // on the layer stream, KIVI's per-head value groups are the layer's groups
        KvPress convert = quantize ? new QuantizePress(((QuantizePress) press).storage().withHeadGroups()) : null;
        this.wide = new PagedKvCache(layers, 1, width, kvHeads * groupSize, maxPositions, storage.withHeadGroups(), tokensPerPage, byteBudget, convert);
    }

    @Override public int layers() { return wide.layers(); }
    @Override public int kvHeads() { return kvHeads; }
    @Override public int headDim() { return headDim; }

    /** The allocator every byte of this cache comes from. */
    public PageAllocator allocator() {
        return wide.allocator();
    }

    /** Tokens stored for (seq, layer): the same for every KV head. */
    public int storedTokens(int seq, int layer) {
        return wide.storedTokens(seq, layer, 0);
    }

    /** Pages of the layer's stream. */
    public int[] pages(int seq, int layer) {
        return wide.pages(seq, layer, 0);
    }

    @Override public int open() { return wide.open(); }
    @Override public int fork(int src, int length) { return wide.fork(src, length); }
    @Override public void truncate(int seq, int fromPos) { wide.truncate(seq, fromPos); }
    @Override public void release(int seq) { wide.release(seq); }
    @Override public int length(int seq) { return wide.length(seq); }
    @Override public void reserve(int seq, int tokens) { wide.reserve(seq, tokens); }
    @Override public long bytesInUse() { return wide.bytesInUse(); }
    @Override public void stepDone(int seq) { wide.stepDone(seq); }
    @Override public void close() { wide.close(); }

    // the layer's K and V rows, (kvHeads, headDim), are exactly the wide stream's one row of width kvHeads * headDim

    @Override
    public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        wide.append(layer, seq, pos, k, kOff, v, vOff);
    }

    @Override
    public void overwrite(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        wide.overwrite(layer, seq, pos, k, kOff, v, vOff);
    }

    @Override
    public void read(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        wide.read(layer, seq, pos, k, kOff, v, vOff);
    }

    @Override
    public void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale,
                       float[] out, int outOff, float[] scores) {
        if (kvHead < 0 || kvHead >= kvHeads) throw new IllegalArgumentException("KV head " + kvHead + " outside [0, " + kvHeads + ")");
        float[][] s = scratch.get();
        int n = nq * width;
        if (s[0].length < n) {
            s[0] = new float[n];
            s[1] = new float[n];
        }
        float[] wq = s[0], wout = s[1];
        Arrays.fill(wq, 0, n, 0f);
        int at = kvHead * headDim;
        for (int j = 0; j < nq; j++) System.arraycopy(q, qOff + j * headDim, wq, j * width + at, headDim);
        wide.attend(layer, seq, 0, wq, 0, nq, maxPos, scale, wout, 0, scores);
        for (int j = 0; j < nq; j++) System.arraycopy(wout, j * width + at, out, outOff + j * headDim, headDim);
    }
}
