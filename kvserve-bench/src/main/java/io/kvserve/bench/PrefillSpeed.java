package io.kvserve.bench;

import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.PrefillDriver;
import io.kvserve.model.transformer.ForwardPass;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Prefill time (prompt in, press run, first logits out) of presses that change the prefill itself
 * (FastKV) against the plain prefill into the same paged F16 cache, measured in one run with the
 * configurations interleaved round by round, so that load from other processes falls on all alike:
 * {@code java -cp kvserve.jar io.kvserve.bench.PrefillSpeed MODEL PROMPT ROUNDS PRESS...}, e.g.
 * {@code ... /work/main/models/smollm2-135m-q8_0.gguf 512 5 fastkv:ratio=0.875 fastkv:ratio=0.5,tsp_rate=0.5}.
 * The first round warms up and is not counted. Besides wall time it reports the CPU time this
 * process spent per prefill, which other processes' load disturbs much less on a shared machine.
 */
public final class PrefillSpeed {
    private PrefillSpeed() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) throw new IllegalArgumentException("usage: PrefillSpeed MODEL [PROMPT=512] [ROUNDS=5] [PRESS...]");
        Path path = Path.of(args[0]);
        int prompt = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        List<String> specs = new ArrayList<>(List.of("none"));
        for (int i = 3; i < args.length; i++) specs.add(args[i]);
        if (specs.size() == 1) specs.add("fastkv:ratio=0.875");
        int threads = Runtime.getRuntime().availableProcessors();
        WorkerPool.setShared(threads);
        try (Model m = Model.load(path, null)) {
            if (prompt > m.config().contextLength()) throw new IllegalArgumentException("prompt of " + prompt + " tokens exceeds the model's context " + m.config().contextLength());
            ForwardPass fp = m.newForwardPass(64, WorkerPool.shared());
            SplittableRandom rnd = new SplittableRandom(7);
            int[] tokens = new int[prompt];
            for (int i = 0; i < prompt; i++) tokens[i] = rnd.nextInt(m.config().vocabSize());
            long[] total = new long[specs.size()], cpu = new long[specs.size()];
            var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            for (int r = 0; r < rounds + 1; r++) {
                for (int i = 0; i < specs.size(); i++) {
                    try (PagedKvCache c = PagedKvCache.forModel(m.config(), prompt + 1, KvStorage.parse("f16"), 1L << 34, PressRegistry.parse(specs.get(i)))) {
                        int seq = c.open();
                        long c0 = os.getProcessCpuTime(), t0 = System.nanoTime();
                        PrefillDriver d = c.prefillDriver();
                        if (d != null) d.prefill(m, fp, seq, tokens, 0);
                        else for (int p = 0; p < prompt; p += fp.maxBatch()) {
                            fp.forward(Batch.ofSequence(seq, tokens, p, Math.min(fp.maxBatch(), prompt - p), p, false), c);
                        }
                        c.stepDone(seq);
                        long dt = System.nanoTime() - t0, dc = os.getProcessCpuTime() - c0;
                        if (r > 0) {
                            total[i] += dt;
                            cpu[i] += dc;
                        }
                        System.err.printf(Locale.ROOT, "round %d %s: %.3f s wall, %.3f s cpu%n", r, specs.get(i), dt / 1e9, dc / 1e9);
                    }
                }
            }
            System.out.printf(Locale.ROOT, "%s: %d-token prompt, %d rounds (+1 warm-up), %d threads, paged f16 cache%n", m.name(), prompt, rounds, threads);
            for (int i = 0; i < specs.size(); i++) {
                double s = total[i] / 1e9 / rounds;
                System.out.printf(Locale.ROOT, "  %-30s prefill %.3f s wall (%.2fx vs none), %.3f s cpu (%.2fx vs none)%n", specs.get(i), s,
                        (double) total[0] / total[i], cpu[i] / 1e9 / rounds, (double) cpu[0] / cpu[i]);
            }
        }
    }
}
