package io.kvserve.kvcache;

import io.kvserve.model.kv.KvCacheFullException;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * The block allocator under the paged cache: pages of a few fixed byte sizes (one per page kind of
 * the element format), each with a reference count, under one byte budget. A page whose count falls
 * to zero is freed: its bytes leave {@link #bytesInUse()} and its memory goes back to the Java heap
 * (only page ids are recycled), so compression frees real memory. Exhausting the budget is a
 * {@link KvCacheFullException}, never an {@code OutOfMemoryError}. Thread-safe.
 */
public final class PageAllocator {
    private final long byteBudget;
    private MemorySegment[] pages = new MemorySegment[64];
    private int[] refs = new int[64];
    private final ArrayDeque<Integer> freeIds = new ArrayDeque<>();
    private int nextId;
    private long bytesInUse;
    private int pagesInUse;

    public PageAllocator(long byteBudget) {
        if (byteBudget <= 0) throw new IllegalArgumentException("KV byte budget must be positive, got " + byteBudget);
        this.byteBudget = byteBudget;
    }

    /** A new page of {@code bytes} bytes with reference count 1. */
    public synchronized int allocate(int bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("page size must be positive, got " + bytes);
        if (bytesInUse + bytes > byteBudget) {
            throw new KvCacheFullException("the KV cache is full: " + bytesInUse + " of " + byteBudget + " bytes in use, a page of "
                    + bytes + " more does not fit (free or compress sequences, or raise the KV byte budget)");
        }
        int id;
        if (!freeIds.isEmpty()) {
            id = freeIds.pop();
        } else {
            id = nextId++;
            if (id == pages.length) {
                pages = Arrays.copyOf(pages, id * 2);
                refs = Arrays.copyOf(refs, id * 2);
            }
        }
        pages[id] = MemorySegment.ofArray(new byte[bytes]);
        refs[id] = 1;
        bytesInUse += bytes;
        pagesInUse++;
        return id;
    }

    public MemorySegment segment(int page) {
        MemorySegment s = pages[page];
        if (s == null) throw new IllegalStateException("page " + page + " is free");
        return s;
    }

    /** One more owner of {@code page}. */
    public synchronized void retain(int page) {
        check(page);
        refs[page]++;
    }

    /** One owner fewer; the page is freed when none is left. */
    public synchronized void release(int page) {
        check(page);
        if (--refs[page] == 0) {
            bytesInUse -= pages[page].byteSize();
            pagesInUse--;
            pages[page] = null;
            freeIds.push(page);
        }
    }

    private void check(int page) {
        if (page < 0 || page >= nextId || refs[page] <= 0) throw new IllegalStateException("page " + page + " is not allocated");
    }

    public synchronized int refCount(int page) {
        return page >= 0 && page < nextId ? refs[page] : 0;
    }

    /** Whether every one of {@code pages} has exactly one owner (one lock for the lot). */
    public synchronized boolean soleOwner(int[] pages) {
        for (int p : pages) if (refCount(p) != 1) return false;
        return true;
    }

    /** A private copy of {@code page} for a writer that shares it (copy on write); releases the shared one. */
    public synchronized int copyOnWrite(int page) {
        check(page);
        if (refs[page] == 1) return page;
        MemorySegment src = pages[page];
        int copy = allocate((int) src.byteSize());
        pages[copy].copyFrom(src);
        release(page);
        return copy;
    }

    public synchronized long bytesInUse() {
        return bytesInUse;
    }

    public synchronized int pagesInUse() {
        return pagesInUse;
    }

    public long byteBudget() {
        return byteBudget;
    }

    /** Ids ever handed out (free or not): for invariant checks. */
    public synchronized int idLimit() {
        return nextId;
    }
}
