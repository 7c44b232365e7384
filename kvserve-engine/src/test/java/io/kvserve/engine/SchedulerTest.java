package io.kvserve.engine;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** Scheduler policies on plain views: no model, a fixed clock, seeded random loops for the invariants. */
class SchedulerTest {
    static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    static final Clock CLOCK = Clock.fixed(T0.plusSeconds(100), ZoneOffset.UTC);

    static SequenceView v(long id, int priority, long arrivalSec, int pages, double hitRate) {
        return new SequenceView(id, priority, T0.plusSeconds(arrivalSec), 100, pages, (int) Math.round(hitRate * 100), false);
    }

    @Test
    void fcfsAdmitsInArrivalOrderAndStopsAtTheFirstThatDoesNotFit() {
        List<SequenceView> waiting = List.of(v(1, 0, 30, 4, 0), v(2, 0, 10, 4, 0), v(3, 0, 20, 10, 0), v(4, 0, 40, 1, 0));
        StepPlan p = Scheduler.fcfs().plan(List.of(), waiting, new KvBudget(100, 9, 8));
        assertThat(p.admit()).containsExactly(2L);   // 3 (10 pages) blocks 1 and 4 behind it
        assertThat(p.preempt()).isEmpty();
        assertThat(Scheduler.fcfs().plan(List.of(), waiting, new KvBudget(100, 100, 2)).admit()).containsExactly(2L, 3L);
    }

    @Test
    void priorityPreemptsOnlyStrictlyLessUrgentSequences() {
        List<SequenceView> running = List.of(v(1, 5, 0, 6, 0), v(2, 0, 1, 6, 0), v(3, 9, 2, 6, 0));
        StepPlan p = Scheduler.priority().plan(running, List.of(v(10, 1, 50, 10, 0)), new KvBudget(20, 2, 5));
        assertThat(p.preempt()).containsExactly(3L, 1L);  // worst priority first; never the priority-0 one
        assertThat(p.admit()).containsExactly(10L);
        // not enough room even after every less urgent one: nothing is preempted
        StepPlan q = Scheduler.priority().plan(running, List.of(v(11, 1, 50, 19, 0)), new KvBudget(20, 2, 5));
        assertThat(q.preempt()).isEmpty();
        assertThat(q.admit()).isEmpty();
        // equal priority never preempts
        assertThat(Scheduler.priority().plan(running, List.of(v(12, 5, 50, 10, 0)), new KvBudget(20, 2, 5)).preempt()).isEmpty();
    }

    @Test
    void cacheAwareServesHighHitRatesFirstButBoundsStarvation() {
        Scheduler s = Scheduler.cacheAware(CLOCK, Duration.ofSeconds(30));
        List<SequenceView> waiting = List.of(v(1, 0, 80, 1, 0.1), v(2, 0, 90, 1, 0.9), v(3, 0, 85, 1, 0.5));
        assertThat(s.plan(List.of(), waiting, new KvBudget(10, 10, 10)).admit()).containsExactly(2L, 3L, 1L);
        // request 4 arrived 60 s ago (> 30 s): it goes first despite a zero hit rate, and 5 (older still) before it
        List<SequenceView> starving = List.of(v(1, 0, 80, 1, 0.1), v(2, 0, 90, 1, 0.9), v(4, 0, 40, 1, 0), v(5, 0, 20, 1, 0));
        assertThat(s.plan(List.of(), starving, new KvBudget(10, 10, 10)).admit()).containsExactly(5L, 4L, 2L, 1L);
        // a starving request that does not fit blocks the others, so it gets the next free pages
        assertThat(s.plan(List.of(), List.of(v(4, 0, 40, 8, 0), v(2, 0, 90, 1, 0.9)), new KvBudget(10, 5, 10)).admit()).isEmpty();
    }

    @Test
    void everyPolicyKeepsWithinTheBudgetOnRandomInputs() {
        SplittableRandom rnd = new SplittableRandom(2026);
        Map<String, Scheduler> policies = Map.of("fcfs", Scheduler.fcfs(), "priority", Scheduler.priority(),
                "cache-aware", Scheduler.cacheAware(CLOCK, Duration.ofSeconds(20)));
        for (int round = 0; round < 2000; round++) {
            List<SequenceView> running = new ArrayList<>(), waiting = new ArrayList<>();
            int total = 1 + rnd.nextInt(64), used = 0, slots = 1 + rnd.nextInt(8);
            long id = 0;
            for (int i = rnd.nextInt(slots + 1); i > 0 && used < total; i--) {
                int pages = 1 + rnd.nextInt(Math.max(1, total - used));
                used += pages;
                running.add(v(++id, rnd.nextInt(4), rnd.nextInt(100), pages, rnd.nextDouble()));
            }
            for (int i = rnd.nextInt(10); i > 0; i--) waiting.add(v(++id, rnd.nextInt(4), rnd.nextInt(100), 1 + rnd.nextInt(total), rnd.nextDouble()));
            KvBudget budget = new KvBudget(total, total - used, slots - running.size());
            for (var e : policies.entrySet()) {
                StepPlan p = e.getValue().plan(running, waiting, budget);
                Map<Long, SequenceView> r = running.stream().collect(Collectors.toMap(SequenceView::id, Function.identity()));
                Map<Long, SequenceView> w = waiting.stream().collect(Collectors.toMap(SequenceView::id, Function.identity()));
                assertThat(r.keySet()).as(e.getKey()).containsAll(p.preempt());
                assertThat(w.keySet()).as(e.getKey()).containsAll(p.admit());
                Set<Long> distinct = new HashSet<>(p.admit());
                assertThat(distinct).hasSameSizeAs(p.admit());
                int freed = p.preempt().stream().mapToInt(x -> r.get(x).pagesNeeded()).sum();
                int taken = p.admit().stream().mapToInt(x -> w.get(x).pagesNeeded()).sum();
                assertThat(taken).as("%s round %d: admitted pages", e.getKey(), round).isLessThanOrEqualTo(budget.freePages() + freed);
                assertThat(p.admit().size()).as("%s round %d: slots", e.getKey(), round).isLessThanOrEqualTo(budget.freeSlots() + p.preempt().size());
                if (!e.getKey().equals("priority")) assertThat(p.preempt()).isEmpty();
                for (long victim : p.preempt()) {
                    int vp = r.get(victim).priority();
                    assertThat(p.admit().stream().anyMatch(a -> w.get(a).priority() < vp)).as("victim %d has a more urgent admitted request", victim).isTrue();
                }
            }
        }
    }

    @Test
    void admissionAcceptsQueuesThenRejects() {
        AdmissionPolicy a = AdmissionPolicy.kvBudget(2, Duration.ofSeconds(5), Duration.ofSeconds(3));
        EngineRequest r = EngineRequest.greedy(new int[]{1}, 1);
        assertThat(a.admit(r, new EngineLoad(0, 1, 4, 10, 10, 5))).isInstanceOf(Admission.Accepted.class);
        assertThat(a.admit(r, new EngineLoad(0, 1, 4, 4, 10, 5))).isEqualTo(new Admission.Queued(Duration.ofSeconds(5)));
        assertThat(a.admit(r, new EngineLoad(1, 1, 4, 10, 10, 5))).isEqualTo(new Admission.Queued(Duration.ofSeconds(5)));
        assertThat(a.admit(r, new EngineLoad(0, 4, 4, 10, 10, 5))).isInstanceOf(Admission.Queued.class);
        assertThat(a.admit(r, new EngineLoad(2, 4, 4, 10, 10, 5))).isInstanceOfSatisfying(Admission.Rejected.class,
                rej -> assertThat(rej.retryAfter()).isEqualTo(Duration.ofSeconds(3)));
    }
}
