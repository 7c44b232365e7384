package io.kvserve.engine;

import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.sampling.SamplerConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The batching loop on stories260K, driven step by step (no engine thread) so that runs are deterministic. */
class EngineTest {
    static Model model;
    static final String[] PROMPTS = {"Once upon a time", "The little dog", "Lily wanted to", "One day, a boy named Tom",
            "The sun was", "She looked at the big", "Mom said", "There was a tree"};

    @BeforeAll
    static void load() throws Exception {
        model = Model.load(TestAssets.require("models/stories260K.gguf"), null);
    }

    @AfterAll
    static void close() throws Exception {
        if (model != null) model.close();
    }

    static int[] encode(String s) {
        return model.tokenizer().encode(s, true, false);
    }

    static Engine engine(Engine.Config cfg, Scheduler scheduler, AdmissionPolicy admission) {
        KvCache cache = model.newContiguousCache(model.config().contextLength());
        return new Engine(model, cache, WorkerPool.shared(), cfg, scheduler, admission,
                Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC), new SplittableRandom(7));
    }

    /**
     * The engine the paged-cache tests use: FCFS, a 16-page-step KV budget admission, {@code kvPages}
     * engine pages, fixed clock and seed, over {@code cache} with optional page-level prefix blocks.
     */
    static Engine pagedEngine(KvCache cache, int kvPages, io.kvserve.kvcache.prefix.PrefixBlockCache blocks) {
        return new Engine(model, cache, WorkerPool.shared(), new Engine.Config(64, 8, 16, kvPages, 0), Scheduler.fcfs(),
                AdmissionPolicy.kvBudget(16, Duration.ofMinutes(1), Duration.ofSeconds(1)),
                Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC), new SplittableRandom(7), blocks);
    }

    static Engine engine() {
        return engine(new Engine.Config(64, 8, 16, 512, 0), Scheduler.fcfs(), AdmissionPolicy.kvBudget(64, Duration.ofMinutes(1), Duration.ofSeconds(1)));
    }

    static void runUntilIdle(Engine e) {
        for (int i = 0; i < 100_000 && e.step(); i++) { }
    }

    static List<Integer> alone(String prompt, int maxTokens) {
        try (Engine e = engine()) {
            CollectingSink sink = new CollectingSink();
            e.submit(EngineRequest.greedy(encode(prompt), maxTokens), sink);
            runUntilIdle(e);
            assertThat(sink.finished()).isTrue();
            return sink.tokens;
        }
    }

    @Test
    void greedyTokensAreTheSameAloneAndInABatchOfEight() {
        List<List<Integer>> solo = new ArrayList<>();
        for (String p : PROMPTS) solo.add(alone(p, 40));
        try (Engine e = engine()) {
            List<CollectingSink> sinks = new ArrayList<>();
            for (String p : PROMPTS) {
                CollectingSink s = new CollectingSink();
                sinks.add(s);
                e.submit(EngineRequest.greedy(encode(p), 40), s);
            }
            int steps = 0;
            while (e.step()) {
                steps++;
                if (steps == 2) assertThat(e.stats().running()).isEqualTo(8);
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                assertThat(sinks.get(i).tokens).as("prompt %d '%s'", i, PROMPTS[i]).isEqualTo(solo.get(i));
            }
            // 8 sequences shared each decode step: far fewer steps than 8 sequential runs
            assertThat(e.stats().steps()).isLessThan(8 * 20);
            assertThat(e.stats().pagesFree()).isEqualTo(e.stats().totalPages());
        }
    }

    @Test
    void requestsJoinBetweenStepsWithoutChangingOthers() {
        List<Integer> expectA = alone(PROMPTS[0], 30), expectB = alone(PROMPTS[1], 30);
        try (Engine e = engine()) {
            CollectingSink a = new CollectingSink(), b = new CollectingSink();
            e.submit(EngineRequest.greedy(encode(PROMPTS[0]), 30), a);
            for (int i = 0; i < 7; i++) e.step();
            e.submit(EngineRequest.greedy(encode(PROMPTS[1]), 30), b);
            runUntilIdle(e);
            assertThat(a.tokens).isEqualTo(expectA);
            assertThat(b.tokens).isEqualTo(expectB);
        }
    }

    @Test
    void chunkedPrefillUnderASmallTokenBudgetGivesTheSameTokens() {
        String longPrompt = "Once upon a time there was a little girl named Lily. She loved to play outside in the park with her friends";
        List<Integer> expect = alone(longPrompt, 20);
        try (Engine e = engine(new Engine.Config(8, 4, 16, 512, 0), Scheduler.fcfs(), AdmissionPolicy.kvBudget(8, Duration.ofMinutes(1), Duration.ofSeconds(1)))) {
            CollectingSink s = new CollectingSink(), d = new CollectingSink();
            e.submit(EngineRequest.greedy(encode(PROMPTS[2]), 20), d);
            e.submit(EngineRequest.greedy(encode(longPrompt), 20), s);
            runUntilIdle(e);
            assertThat(s.tokens).isEqualTo(expect);
            assertThat(d.tokens).isEqualTo(alone(PROMPTS[2], 20));
        }
    }

    @Test
    void admissionQueuesThenRejectsWithRetryAfter() {
        // 8 pages of 16 tokens: one request of prompt + 100 tokens needs all of them
        try (Engine e = engine(new Engine.Config(64, 4, 16, 8, 0), Scheduler.fcfs(), AdmissionPolicy.kvBudget(1, Duration.ofMinutes(1), Duration.ofSeconds(3)))) {
            EngineRequest r = EngineRequest.greedy(encode(PROMPTS[0]), 100);
            CollectingSink a = new CollectingSink(), b = new CollectingSink();
            assertThat(e.submit(r, a).admission()).isInstanceOf(Admission.Accepted.class);
            e.step();
            assertThat(e.submit(r, b).admission()).isInstanceOf(Admission.Queued.class);
            Engine.Submission third = e.submit(r, new CollectingSink());
            assertThat(third.admission()).isEqualTo(new Admission.Rejected(Duration.ofSeconds(3), ((Admission.Rejected) third.admission()).reason()));
            assertThat(third.rejected()).isTrue();
            runUntilIdle(e);
            assertThat(a.completion.completionTokens()).isEqualTo(100);
            assertThat(b.completion.completionTokens()).isEqualTo(100);
            assertThat(e.stats().rejected()).isEqualTo(1);
            assertThat(e.stats().pagesFree()).isEqualTo(8);
        }
    }

    @Test
    void queuedRequestTimesOutBeforeRunning() {
        MutableClock clock = new MutableClock();
        KvCache cache = model.newContiguousCache(512);
        try (Engine e = new Engine(model, cache, WorkerPool.shared(), new Engine.Config(64, 1, 16, 64, 0), Scheduler.fcfs(),
                AdmissionPolicy.kvBudget(4, Duration.ofSeconds(2), Duration.ofSeconds(1)), clock, new SplittableRandom(1))) {
            CollectingSink a = new CollectingSink(), b = new CollectingSink();
            e.submit(EngineRequest.greedy(encode(PROMPTS[0]), 50), a);
            e.step();
            e.submit(EngineRequest.greedy(encode(PROMPTS[1]), 50), b);
            e.step();
            clock.advance(Duration.ofSeconds(3));
            e.step();
            assertThat(b.completion.reason()).isEqualTo(FinishReason.QUEUE_TIMEOUT);
            runUntilIdle(e);
            assertThat(a.completion.reason()).isIn(FinishReason.LENGTH, FinishReason.STOP);
        }
    }

    @Test
    void impossibleRequestsAreInvalidNotQueued() {
        try (Engine e = engine()) {
            int[] huge = new int[model.config().contextLength()];
            java.util.Arrays.fill(huge, 1);
            assertThatThrownBy(() -> e.submit(EngineRequest.greedy(huge, 1), new CollectingSink()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("context");
            assertThatThrownBy(() -> e.submit(EngineRequest.greedy(new int[]{1, 99999}, 1), new CollectingSink()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("vocabulary");
        }
    }

    @Test
    void cancellingFreesPagesAndStopsTokens() {
        try (Engine e = engine()) {
            int free = e.stats().pagesFree();
            CollectingSink s = new CollectingSink();
            Engine.Handle h = e.submit(EngineRequest.greedy(encode(PROMPTS[0]), 200).withPriority(0), s).handle();
            for (int i = 0; i < 5; i++) e.step();
            assertThat(e.stats().pagesFree()).isLessThan(free);
            h.cancel();
            e.step();
            assertThat(s.completion.reason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(h.state()).isEqualTo(new RequestState.Finished(FinishReason.CANCELLED));
            assertThat(e.stats().pagesFree()).isEqualTo(free);
            assertThat(e.stats().running()).isZero();
            assertThat(e.step()).isFalse();
        }
    }

    @Test
    void stopStringsEndGenerationAndAreNotEmitted() {
        List<Integer> full = alone(PROMPTS[0], 40);
        String fullText = model.tokenizer().decode(full.stream().mapToInt(Integer::intValue).toArray());
        String stop = fullText.substring(fullText.length() / 2, fullText.length() / 2 + 3);
        try (Engine e = engine()) {
            CollectingSink s = new CollectingSink();
            e.submit(new EngineRequest(encode(PROMPTS[0]), SamplerConfig.greedy(), 40, List.of(stop), false, 2, 0, ""), s);
            runUntilIdle(e);
            assertThat(s.completion.reason()).isEqualTo(FinishReason.STOP);
            assertThat(s.text.toString()).doesNotContain(stop);
            assertThat(fullText).startsWith(s.text.toString().stripLeading());
        }
    }

    @Test
    void priorityPreemptsALowerPriorityRequestWhichResumesWithTheSameTokens() {
        List<Integer> expectLow = alone(PROMPTS[3], 60), expectHigh = alone(PROMPTS[4], 20);
        // budget for one request at a time
        try (Engine e = engine(new Engine.Config(64, 4, 16, 6, 0), Scheduler.priority(), AdmissionPolicy.kvBudget(8, Duration.ofMinutes(1), Duration.ofSeconds(1)))) {
            CollectingSink low = new CollectingSink(), high = new CollectingSink();
            e.submit(EngineRequest.greedy(encode(PROMPTS[3]), 60).withPriority(5), low);
            for (int i = 0; i < 10; i++) e.step();
            int before = low.tokens.size();
            assertThat(before).isGreaterThan(0);
            e.submit(EngineRequest.greedy(encode(PROMPTS[4]), 20).withPriority(0), high);
            e.step();
            assertThat(e.stats().preemptions()).isEqualTo(1);
            runUntilIdle(e);
            assertThat(high.tokens).isEqualTo(expectHigh);
            assertThat(low.tokens).isEqualTo(expectLow);
            assertThat(high.completion.reason()).isIn(FinishReason.LENGTH, FinishReason.STOP);
            assertThat(e.stats().pagesFree()).isEqualTo(6);
        }
    }

    @Test
    void aRepeatedPromptReusesTheCachedPrefix() {
        String p = "Once upon a time there was a little girl named Lily. She loved to play";
        List<Integer> expect = alone(p, 20);
        try (Engine e = engine(new Engine.Config(64, 8, 16, 512, 8), Scheduler.cacheAware(Clock.systemUTC(), Duration.ofSeconds(5)),
                AdmissionPolicy.kvBudget(8, Duration.ofMinutes(1), Duration.ofSeconds(1)))) {
            CollectingSink first = new CollectingSink(), second = new CollectingSink(), otherTenant = new CollectingSink();
            e.submit(EngineRequest.greedy(encode(p), 20), first);
            runUntilIdle(e);
            e.submit(EngineRequest.greedy(encode(p), 20), second);
            runUntilIdle(e);
            e.submit(EngineRequest.greedy(encode(p), 20).withTenant("b"), otherTenant);
            runUntilIdle(e);
            assertThat(first.completion.cachedTokens()).isZero();
            int promptLen = encode(p).length;
            assertThat(second.completion.cachedTokens()).isEqualTo(promptLen - 1);
            assertThat(otherTenant.completion.cachedTokens()).isZero();
            assertThat(second.tokens).isEqualTo(expect);
            assertThat(e.stats().prefixHitRate()).isGreaterThan(0.3);
            assertThat(e.stats().pagesFree()).isEqualTo(512);
        }
    }

    @Test
    void seededSamplingIsReproducibleInsideABatch() {
        SamplerConfig sc = SamplerConfig.defaults(42);
        Consumer<Engine> noop = e -> { };
        List<List<Integer>> runs = new ArrayList<>();
        for (int round = 0; round < 2; round++) {
            try (Engine e = engine()) {
                noop.accept(e);
                CollectingSink s = new CollectingSink();
                if (round == 1) for (int i = 0; i < 3; i++) e.submit(EngineRequest.greedy(encode(PROMPTS[i + 1]), 30), new CollectingSink());
                e.submit(new EngineRequest(encode(PROMPTS[0]), sc, 30, List.of(), true, -1, 0, ""), s);
                runUntilIdle(e);
                runs.add(s.tokens);
            }
        }
        assertThat(runs.get(1)).isEqualTo(runs.get(0));
    }

    @Test
    void threadedLoopServesConcurrentSubmittersAndDrains() throws Exception {
        try (Engine e = engine().start()) {
            List<CollectingSink> sinks = new ArrayList<>();
            for (String p : PROMPTS) {
                CollectingSink s = new CollectingSink();
                sinks.add(s);
                e.submit(EngineRequest.greedy(encode(p), 16), s);
            }
            assertThat(e.drain(Duration.ofSeconds(60))).isTrue();
            for (CollectingSink s : sinks) assertThat(s.completion).isNotNull();
            assertThatThrownBy(() -> e.submit(EngineRequest.greedy(encode("x"), 1), new CollectingSink())).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aCacheSmallerThanTheBudgetPreemptsAndNeverLoops() {
        // the cache holds 48 positions per sequence, the engine believes 512: the cache's refusal must end the request, not hang
        KvCache small = model.newContiguousCache(48);
        try (Engine e = new Engine(model, small, WorkerPool.shared(), new Engine.Config(64, 4, 16, 512, 0), Scheduler.fcfs(),
                AdmissionPolicy.kvBudget(8, Duration.ofMinutes(1), Duration.ofSeconds(1)), Clock.systemUTC(), new SplittableRandom(3))) {
            CollectingSink s = new CollectingSink();
            e.submit(EngineRequest.greedy(encode(PROMPTS[0]), 100).withPriority(0), s);
            runUntilIdle(e);
            assertThat(s.completion.reason()).isEqualTo(FinishReason.ERROR);
            assertThat(s.tokens.size()).isGreaterThan(30);
            assertThat(e.stats().pagesFree()).isEqualTo(512);
        }
    }

    static final class MutableClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override public java.time.ZoneId getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(java.time.ZoneId zone) { return this; }
        @Override public Instant instant() { return now; }
    }
}
