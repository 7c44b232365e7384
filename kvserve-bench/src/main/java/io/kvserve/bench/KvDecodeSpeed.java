package io.kvserve.bench;

import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.transformer.ForwardPass;

import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Decode speed of the paged cache against the contiguous one on the same model, measured in one
 * run with the two interleaved step by step, so that load from other processes falls on both
 * alike: {@code java -cp kvserve.jar io.kvserve.bench.KvDecodeSpeed MODEL [TYPE] [PROMPT] [STEPS]}.
 */
public final class KvDecodeSpeed {
    private KvDecodeSpeed() {}

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        KvStorage storage = KvStorage.parse(args.length > 1 ? args[1] : "f16");
        int prompt = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        int threads = Runtime.getRuntime().availableProcessors();
        WorkerPool.setShared(threads);
        try (Model m = Model.load(path, null)) {
            int ctx = prompt + steps + 1;
            ForwardPass fp = m.newForwardPass(64, WorkerPool.shared());
            SplittableRandom rnd = new SplittableRandom(7);
            int[] tokens = new int[ctx];
            for (int i = 0; i < ctx; i++) tokens[i] = rnd.nextInt(m.config().vocabSize());
            try (KvCache a = m.newContiguousCache(ctx);
                 KvCache b = PagedKvCache.forModel(m.config(), ctx, storage, 1L << 33, null)) {
                int sa = a.open(), sb = b.open();
                for (int p = 0; p < prompt; p += fp.maxBatch()) {
                    int len = Math.min(fp.maxBatch(), prompt - p);
                    fp.forward(Batch.ofSequence(sa, tokens, p, len, p, false), a);
                    fp.forward(Batch.ofSequence(sb, tokens, p, len, p, false), b);
                }
                long ta = 0, tb = 0;
                for (int s = 0; s < steps; s++) {
                    int p = prompt + s;
                    boolean warm = s >= 4;
                    long t0 = System.nanoTime();
                    fp.forward(Batch.ofSequence(sa, tokens, p, 1, p, false), a);
                    long t1 = System.nanoTime();
                    fp.forward(Batch.ofSequence(sb, tokens, p, 1, p, false), b);
                    long t2 = System.nanoTime();
                    if (warm) {
                        ta += t1 - t0;
                        tb += t2 - t1;
                    }
                }
                int n = steps - 4;
                System.out.printf(Locale.ROOT, "%s: context %d..%d, %d threads%n  contiguous f32: %.2f tok/s%n  paged %s: %.2f tok/s%n  paged / contiguous = %.3f%n",
                        m.name(), prompt, prompt + steps, threads, n * 1e9 / ta, storage, n * 1e9 / tb, (double) ta / tb);
            }
        }
    }
}
