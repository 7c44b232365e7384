package io.kvserve.model.kv;

/** The cache has no room for the requested positions; the caller can free, compress or wait. */
public final class KvCacheFullException extends RuntimeException {
    public KvCacheFullException(String message) {
        super(message);
    }
}
