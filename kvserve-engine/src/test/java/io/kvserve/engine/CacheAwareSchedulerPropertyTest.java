package io.kvserve.engine;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cache-aware policy over simulated time (seeded loops): one request starts per second, requests
 * arrive at random with random prefix hit rates. Before a request starves, higher hit rates go
 * first; once it has waited {@code maxWait}, it is passed over at most by the starving requests
 * that arrived before it, so its wait is bounded by maxWait plus one second per such request.
 */
class CacheAwareSchedulerPropertyTest {
    static final class ManualClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override public ZoneId getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(ZoneId zone) { return this; }
        @Override public Instant instant() { return now; }
    }

    @Test
    void noRequestIsPassedOverForLongerThanTheBound() {
        for (int seed = 0; seed < 200; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            ManualClock clock = new ManualClock();
            int maxWait = 1 + rnd.nextInt(10);
            Scheduler s = Scheduler.cacheAware(clock, Duration.ofSeconds(maxWait));
            List<SequenceView> waiting = new ArrayList<>();
            Map<Long, Integer> boundAtStarving = new HashMap<>();
            long nextId = 1;
            for (int t = 0; t < 120; t++) {
                int arrivals = t < 80 ? rnd.nextInt(3) : 0;          // overload, then drain
                for (int i = 0; i < arrivals; i++) {
                    int prompt = 1 + rnd.nextInt(100);
                    waiting.add(new SequenceView(nextId++, 0, clock.now, prompt, 1, rnd.nextInt(prompt + 1), false));
                }
                // when a request starts starving, the starving requests ahead of it are those that arrived earlier
                for (SequenceView v : waiting) {
                    if (!boundAtStarving.containsKey(v.id()) && !clock.now.isBefore(v.arrival().plusSeconds(maxWait))) {
                        long earlier = waiting.stream().filter(o -> o.arrival().isBefore(v.arrival()) || o.arrival().equals(v.arrival()) && o.id() < v.id()).count();
                        boundAtStarving.put(v.id(), (int) (t + earlier + 1));
                    }
                }
                List<Long> admit = s.plan(List.of(), waiting, new KvBudget(100, 100, 1)).admit();
                assertThat(admit).hasSizeLessThanOrEqualTo(1);
                if (!waiting.isEmpty()) assertThat(admit).as("a free slot is never left idle").hasSize(1);
                if (!admit.isEmpty()) {
                    SequenceView started = waiting.stream().filter(v -> v.id() == admit.getFirst()).findFirst().orElseThrow();
                    boolean anyStarving = waiting.stream().anyMatch(v -> clock.now.isAfter(v.arrival().plusSeconds(maxWait)));
                    if (!anyStarving) {
                        double best = waiting.stream().mapToDouble(SequenceView::prefixHitRate).max().orElseThrow();
                        assertThat(started.prefixHitRate()).as("seed %d t %d: the highest hit rate goes first", seed, t).isEqualTo(best);
                    }
                    Integer bound = boundAtStarving.get(started.id());
                    if (bound != null) assertThat(t).as("seed %d: request %d started by its bound", seed, started.id()).isLessThanOrEqualTo(bound);
                    waiting.remove(started);
                }
                for (SequenceView v : waiting) {
                    Integer bound = boundAtStarving.get(v.id());
                    if (bound != null) assertThat(t).as("seed %d: request %d still waits past its bound", seed, v.id()).isLessThan(bound);
                }
                clock.now = clock.now.plusSeconds(1);
            }
            assertThat(waiting).as("seed %d: everything drained", seed).isEmpty();
        }
    }
}
