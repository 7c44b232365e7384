package io.kvserve.model;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of threads for data-parallel loops, sized to the cores. A forward pass runs hundreds
 * of short parallel regions per token, so the workers spin briefly before parking: handing work to
 * a parked ForkJoinPool thread costs more than a small matmul.
 */
public final class WorkerPool implements AutoCloseable {
    /** Work on the index range [from, to), run by one thread. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    private static final long SPIN_NANOS = 200_000;
    /** Below about this many multiply-adds (~10 us of work) a region runs on the caller alone. */
    static final long MIN_PARALLEL_WORK = 1L << 15;
    private static volatile WorkerPool shared;

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile RangeTask task;
    private volatile int n;
    private volatile int grain;
    private volatile Throwable failure;
    /** Chunks of the current region when it is balanced (0: one fixed part per thread), and the next unclaimed one. */
    private volatile int chunks;
    private volatile int chunkSize;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final Thread[] parked;

    public WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        this.parked = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            final int id = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("kvserve-worker-" + id).unstarted(() -> loop(id));
            parked[i] = workers[i];
            workers[i].start();
        }
    }

    /** The process-wide pool, sized to the available processors unless {@link #setShared} chose otherwise. */
    public static WorkerPool shared() {
        WorkerPool p = shared;
        if (p == null) {
            synchronized (WorkerPool.class) {
                if (shared == null) shared = new WorkerPool(Runtime.getRuntime().availableProcessors());
                p = shared;
            }
        }
        return p;
    }

    public static synchronized void setShared(int threads) {
        if (shared != null && shared.threads == threads) return;
        if (shared != null) shared.close();
        shared = new WorkerPool(threads);
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs {@code task} over [0, n) split into one contiguous part per thread, each part a multiple of
     * {@code grain} (except the last), and returns when all parts are done. The caller runs part 0.
     */
    public void forRange(int n, int grain, RangeTask task) {
        forRange(n, grain, Long.MAX_VALUE, task);
    }

    /**
     * As {@link #forRange(int, int, RangeTask)}, but runs on the calling thread alone when the
     * estimated {@code work} (multiply-adds) is below what pays for waking the other threads.
     */
    public void forRange(int n, int grain, long work, RangeTask task) {
        run(n, grain, work, task, 0);
    }

    /**
     * As {@link #forRange(int, int, long, RangeTask)}, but the range is cut into about
     * {@link #CHUNKS_PER_THREAD} chunks per thread (multiples of {@code grain}) that the threads claim
     * one by one, so that a thread that is slower (descheduled by a busy machine, or waiting on memory)
     * leaves its work to the others instead of making them wait. For regions whose cost per call does
     * not grow with the number of calls (decode matmuls, attention); a task may be called several
     * times per thread, each time with a different range.
     */
    public void forRangeBalanced(int n, int grain, long work, RangeTask task) {
        run(n, grain, work, task, CHUNKS_PER_THREAD);
    }

    /**
     * Chunks per thread of a balanced region: enough to even out, few enough that claiming stays free.
     * 16 rather than 4: on a shared 2-core VM the engine's 8-stream step (SmolLM2 shape) ran 53-59 ms
     * against 46-80 ms, and one stream 21-24 against 20-26 ms (DecodeScalingProbe, four interleaved rounds):
     * when the other thread is descheduled, smaller chunks leave less of its share waiting.
     */
    static final int CHUNKS_PER_THREAD = Math.max(1, Integer.getInteger("kvserve.pool.chunksPerThread", 16));

    private void run(int n, int grain, long work, RangeTask task, int chunksPerThread) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        if (threads == 1 || n <= g || work < MIN_PARALLEL_WORK) {
            task.run(0, n);
            return;
        }
        synchronized (this) {
            this.task = task;
            this.n = n;
            this.grain = g;
            this.failure = null;
            if (chunksPerThread > 0) {
                int blocks = (n + g - 1) / g;
                int perChunk = Math.max(1, (blocks + threads * chunksPerThread - 1) / (threads * chunksPerThread));
                this.chunkSize = perChunk * g;
                this.chunks = (n + chunkSize - 1) / chunkSize;
                nextChunk.set(0);
            } else {
                this.chunks = 0;
            }
            pending.set(threads - 1);
            generation++;
            for (Thread t : parked) LockSupport.unpark(t);
            try {
                runPart(0, task, n, g);
            } catch (Throwable e) {
                // still wait for the workers below: none may run this task once the region has returned
                failure = e;
            }
            long spinStart = System.nanoTime();
            while (pending.get() != 0) {
                // a busy machine may have descheduled a worker: stop burning the core it needs
                if (System.nanoTime() - spinStart < SPIN_NANOS) Thread.onSpinWait();
                else Thread.yield();
            }
            this.task = null;
            Throwable f = failure;
            if (f != null) {
                if (f instanceof RuntimeException re) throw re;
                if (f instanceof Error er) throw er;
                throw new RuntimeException(f);
            }
        }
    }

    private void runPart(int id, RangeTask t, int n, int g) {
        int count = chunks;
        if (count > 0) {
            int size = chunkSize;
            for (int c; (c = nextChunk.getAndIncrement()) < count; ) t.run(c * size, Math.min(n, (c + 1) * size));
            return;
        }
        int blocks = (n + g - 1) / g;
        int from = (int) ((long) blocks * id / threads) * g;
        int to = Math.min(n, (int) ((long) blocks * (id + 1) / threads) * g);
        if (from < to) t.run(from, to);
    }

    private void loop(int id) {
        int seen = 0;
        while (true) {
            long spinStart = System.nanoTime();
            while (generation == seen && !closed) {
                if (System.nanoTime() - spinStart < SPIN_NANOS) Thread.onSpinWait();
                else LockSupport.parkNanos(this, 1_000_000);
            }
            if (closed) return;
            seen = generation;
            try {
                runPart(id, task, n, grain);
            } catch (Throwable e) {
                failure = e;
            } finally {
                pending.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : workers) LockSupport.unpark(t);
    }
}
