package io.kvserve.router.knn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Brute-force cosine search over a flat array: the reference that the HNSW index is compared with. Thread-safe. */
public final class ExactIndex implements VectorIndex {
    private final int dim;
    private float[] data; // (capacity, dim)
    private volatile int size;

    public ExactIndex(int dim) {
        if (dim <= 0) throw new IllegalArgumentException("dimension " + dim);
        this.dim = dim;
        this.data = new float[dim * 64];
    }

    @Override
    public int dimension() {
        return dim;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public synchronized int add(float[] v) {
        VectorIndex.checkDim(dim, v);
        int id = size;
        long need = (long) (id + 1) * dim;
        if (need > data.length) {
            long cap = Math.max(need, (long) data.length * 2);
            if (cap > Integer.MAX_VALUE - 8) throw new IllegalStateException("exact index full at " + id + " vectors");
            data = Arrays.copyOf(data, (int) cap);
        }
        System.arraycopy(v, 0, data, id * dim, dim);
        size = id + 1;
        return id;
    }

    @Override
    public List<Neighbour> search(float[] q, int k) {
        VectorIndex.checkDim(dim, q);
        float[] d;
        int n;
        synchronized (this) {
            d = data;
            n = size;
        }
        k = Math.min(k, n);
        if (k <= 0) return List.of();
        // min-heap of the k best (similarity, id)
        float[] hs = new float[k];
        int[] hi = new int[k];
        int h = 0;
        for (int i = 0; i < n; i++) {
            float s = dot(d, i * dim, q, dim);
            if (h < k) {
                hs[h] = s;
                hi[h] = i;
                siftUp(hs, hi, h++);
            } else if (s > hs[0]) {
                hs[0] = s;
                hi[0] = i;
                siftDown(hs, hi, k);
            }
        }
        List<Neighbour> out = new ArrayList<>(h);
        for (int j = 0; j < h; j++) out.add(new Neighbour(hi[j], hs[j]));
        out.sort((a, b) -> a.similarity() != b.similarity() ? Float.compare(b.similarity(), a.similarity()) : Integer.compare(a.id(), b.id()));
        return out;
    }

    static float dot(float[] a, int off, float[] b, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[off + i] * b[i];
            s1 += a[off + i + 1] * b[i + 1];
            s2 += a[off + i + 2] * b[i + 2];
            s3 += a[off + i + 3] * b[i + 3];
        }
        for (; i < n; i++) s0 += a[off + i] * b[i];
        return (s0 + s1) + (s2 + s3);
    }

    private static void siftUp(float[] s, int[] id, int i) {
        while (i > 0) {
            int p = (i - 1) / 2;
            if (s[p] <= s[i]) break;
            swap(s, id, p, i);
            i = p;
        }
    }

    private static void siftDown(float[] s, int[] id, int n) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < n && s[l] < s[m]) m = l;
            if (r < n && s[r] < s[m]) m = r;
            if (m == i) return;
            swap(s, id, i, m);
            i = m;
        }
    }

    private static void swap(float[] s, int[] id, int a, int b) {
        float t = s[a];
        s[a] = s[b];
        s[b] = t;
        int u = id[a];
        id[a] = id[b];
        id[b] = u;
    }
}
