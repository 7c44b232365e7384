package io.kvserve.kvcache;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * LESS's constant-size state of one stream: {@code H = sum psi(k)^T v} {@code (dim, headDim)} and
 * {@code z = sum psi(k)} {@code (dim)} over every token the stream evicted, in F32 in one page of
 * the allocator, so its bytes count in {@link PageAllocator#bytesInUse()} like the tokens' pages.
 * Its size does not depend on how many tokens it absorbed. Attention adds {@code phi(q) H} to the
 * numerator and {@code phi(q) z} to the softmax denominator of every query that comes after the
 * absorbed tokens.
 */
final class LowRankState {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    final AttentionFeatureMap map;
    final PageAllocator alloc;
    int page;
    /** Tokens absorbed so far and the largest position among them (bookkeeping, not state). */
    long absorbed;
    int maxPosition = -1;

    LowRankState(PageAllocator alloc, AttentionFeatureMap map) {
        this.alloc = alloc;
        this.map = map;
        this.page = alloc.allocate(bytes(map));
    }

    private LowRankState(LowRankState from) {
        this.alloc = from.alloc;
        this.map = from.map;
        this.page = from.page;
        this.absorbed = from.absorbed;
        this.maxPosition = from.maxPosition;
        alloc.retain(page);
    }

    /** Bytes of the state page: H and z in F32. */
    static int bytes(AttentionFeatureMap map) {
        return Math.multiplyExact(4, map.dim() * (map.headDim() + 1));
    }

    /** A second owner of the same page (a fork); the first write copies it. */
    LowRankState share() {
        return new LowRankState(this);
    }

    void release() {
        alloc.release(page);
    }

    /** Adds one evicted token: {@code z += psi(k)}, {@code H += psi(k)^T v}. */
    void absorb(float[] k, int kOff, float[] v, int vOff, int position, float[] psi) {
        page = alloc.copyOnWrite(page);
        MemorySegment seg = alloc.segment(page);
        int m = map.dim(), d = map.headDim();
        map.key(k, kOff, psi);
        for (int a = 0; a < m; a++) {
            float p = psi[a];
            if (p == 0f) continue;
            long row = (long) a * d * 4;
            for (int c = 0; c < d; c++) seg.set(F32, row + 4L * c, seg.get(F32, row + 4L * c) + p * v[vOff + c]);
            long zo = (long) (m * d + a) * 4;
            seg.set(F32, zo, seg.get(F32, zo) + p);
        }
        absorbed++;
        maxPosition = Math.max(maxPosition, position);
    }

    /**
     * Folds the state into the attention output of {@code nq} queries whose sparse part is already
     * in {@code out} (softmax-normalised over the stored tokens, log-normaliser {@code lse[j]},
     * -inf when no token is visible): {@code out = (e^lse out + phi H) / (e^lse + phi z)}. A query
     * whose {@code phi(q) . z} is not positive gets nothing from the state (a fitted map may go
     * negative where LESS's |.| maps cannot). Returns in {@code shrink[j]} the factor the sparse
     * probabilities were scaled by, for attention accounting.
     */
    void mix(float[] q, int qOff, int nq, float[] lse, float[] out, int outOff, float[] phi, float[] shrink) {
        MemorySegment seg = alloc.segment(page);
        int m = map.dim(), d = map.headDim();
        for (int j = 0; j < nq; j++) {
            shrink[j] = 1f;
            map.query(q, qOff + j * d, phi);
            double den = 0;
            for (int a = 0; a < m; a++) den += (double) phi[a] * seg.get(F32, (long) (m * d + a) * 4);
            if (!(den > 0)) continue;
            int o = outOff + j * d;
            if (lse[j] == Float.NEGATIVE_INFINITY) {
                for (int c = 0; c < d; c++) out[o + c] = (float) (numerator(seg, phi, m, d, c) / den);
                shrink[j] = 0f;
                continue;
            }
            double e = Math.exp(-(double) lse[j]);          // 1 / (sparse normaliser), in double: lse may be far from 0
            double inv = 1.0 / (1.0 + den * e);
            for (int c = 0; c < d; c++) out[o + c] = (float) ((out[o + c] + numerator(seg, phi, m, d, c) * e) * inv);
            shrink[j] = (float) inv;
        }
    }

    private static double numerator(MemorySegment seg, float[] phi, int m, int d, int c) {
        double s = 0;
        for (int a = 0; a < m; a++) s += (double) phi[a] * seg.get(F32, ((long) a * d + c) * 4);
        return s;
    }

    /** {@code (H, z)} as floats, {@code H} row-major then {@code z} (tests). */
    float[] snapshot() {
        MemorySegment seg = alloc.segment(page);
        int n = map.dim() * (map.headDim() + 1);
        float[] r = new float[n];
        for (int i = 0; i < n; i++) r[i] = seg.get(F32, 4L * i);
        return r;
    }
}
