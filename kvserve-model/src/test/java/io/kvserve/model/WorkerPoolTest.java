package io.kvserve.model;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkerPoolTest {

    /** Both ways of sharing out a range run every index exactly once, in grain-aligned pieces. */
    @Test
    void everyIndexRunsExactlyOnceInGrainAlignedPieces() {
        var rnd = new SplittableRandom(7);
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int trial = 0; trial < 300; trial++) {
                int n = 1 + rnd.nextInt(2000), grain = 1 + rnd.nextInt(40);
                boolean balanced = rnd.nextBoolean();
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                WorkerPool.RangeTask task = (from, to) -> {
                    assertThat(from % grain).as("piece start %d, grain %d", from, grain).isZero();
                    for (int i = from; i < to; i++) hits.incrementAndGet(i);
                };
                if (balanced) pool.forRangeBalanced(n, grain, Long.MAX_VALUE, task);
                else pool.forRange(n, grain, Long.MAX_VALUE, task);
                for (int i = 0; i < n; i++) assertThat(hits.get(i)).as("index %d of %d (grain %d, balanced %s)", i, n, grain, balanced).isEqualTo(1);
            }
        }
    }

    /** A balanced region really is shared: with one thread stalled, the others take its chunks. */
    @Test
    void balancedRegionLetsOtherThreadsTakeAStalledThreadsChunks() {
        try (WorkerPool pool = new WorkerPool(2)) {
            int n = 64;
            AtomicIntegerArray byThread = new AtomicIntegerArray(2);
            Thread caller = Thread.currentThread();
            pool.forRangeBalanced(n, 1, Long.MAX_VALUE, (from, to) -> {
                boolean isCaller = Thread.currentThread() == caller;
                if (!isCaller && byThread.get(1) == 0) {
                    try {
                        Thread.sleep(300);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                byThread.addAndGet(isCaller ? 0 : 1, to - from);
            });
            assertThat(byThread.get(0) + byThread.get(1)).isEqualTo(n);
            // the worker stalled on its first chunk, so the caller ran all the others
            assertThat(byThread.get(0)).isGreaterThanOrEqualTo(n - n / (2 * 4));
        }
    }

    @Test
    void aFailureInAWorkerReachesTheCaller() {
        try (WorkerPool pool = new WorkerPool(2)) {
            assertThatThrownBy(() -> pool.forRangeBalanced(100, 1, Long.MAX_VALUE, (from, to) -> {
                if (from > 0) throw new IllegalStateException("chunk " + from);
            })).isInstanceOf(IllegalStateException.class);
            // the pool still works afterwards
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            pool.forRangeBalanced(10, 1, Long.MAX_VALUE, (from, to) -> { for (int i = from; i < to; i++) hits.incrementAndGet(i); });
            for (int i = 0; i < 10; i++) assertThat(hits.get(i)).isEqualTo(1);
        }
    }
}
