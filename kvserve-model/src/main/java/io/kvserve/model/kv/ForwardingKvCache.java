package io.kvserve.model.kv;

/**
 * A cache that passes every call to another one, for wrappers that change one or two calls (record
 * attention, append sparsely, overwrite in place) and keep the rest. {@link #stepDone} and
 * {@link #prefillDriver} keep their defaults: a wrapper is used inside a forward pass, not as the
 * cache a generator compresses.
 */
public abstract class ForwardingKvCache implements KvCache {
    protected final KvCache delegate;

    protected ForwardingKvCache(KvCache delegate) {
        this.delegate = delegate;
    }

    @Override public int layers() { return delegate.layers(); }
    @Override public int kvHeads() { return delegate.kvHeads(); }
    @Override public int headDim() { return delegate.headDim(); }
    @Override public int open() { return delegate.open(); }
    @Override public int fork(int src, int length) { return delegate.fork(src, length); }
    @Override public void truncate(int seq, int fromPos) { delegate.truncate(seq, fromPos); }
    @Override public void release(int seq) { delegate.release(seq); }
    @Override public int length(int seq) { return delegate.length(seq); }
    @Override public void reserve(int seq, int tokens) { delegate.reserve(seq, tokens); }
    @Override public long bytesInUse() { return delegate.bytesInUse(); }

    @Override
    public void append(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        delegate.append(layer, seq, pos, k, kOff, v, vOff);
    }

    @Override
    public void overwrite(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        delegate.overwrite(layer, seq, pos, k, kOff, v, vOff);
    }

    @Override
    public void read(int layer, int seq, int pos, float[] k, int kOff, float[] v, int vOff) {
        delegate.read(layer, seq, pos, k, kOff, v, vOff);
    }

    @Override
    public void attend(int layer, int seq, int kvHead, float[] q, int qOff, int nq, int maxPos, float scale,
                       float[] out, int outOff, float[] scores) {
        delegate.attend(layer, seq, kvHead, q, qOff, nq, maxPos, scale, out, outOff, scores);
    }

    /** The wrapper does not own the delegate: closing it closes nothing. */
    @Override
    public void close() {}
}
