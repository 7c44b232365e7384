package io.kvserve.router.knn;

import io.kvserve.router.embed.Embedder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Router latency per request: embed the prompt, then find its k nearest stored prompts, at several index sizes, for
 * the exact and the HNSW index. Stored vectors beyond the real ones are jittered copies of them (Gaussian noise,
 * re-normalised), so the neighbourhood structure stays realistic.
 */
public final class LatencyBench {
    private LatencyBench() {}

    public static List<float[]> grow(List<float[]> base, int n, double noise, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<float[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            float[] b = base.get(i % base.size());
            if (i < base.size()) {
                out.add(b);
                continue;
            }
            float[] v = b.clone();
            for (int j = 0; j < v.length; j++) v[j] += (float) (r.nextGaussian() * noise);
            out.add(Embedder.normalize(v));
        }
        return out;
    }

    static double pct(double[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    /**
     * @param stored  vectors to index (the largest size used is its length)
     * @param queries prompts for the timed requests
     */
    public static List<Map<String, Object>> run(Embedder embedder, List<float[]> stored, List<String> queries, List<Integer> sizes, int k, int efSearch,
                                                Consumer<String> log) {
        return run(embedder, null, stored, queries, sizes, k, efSearch, log);
    }

    /**
     * As {@link #run(Embedder, List, List, List, int, int, Consumer)}, and when {@code baseline} is given, also times
     * that encoder on the same prompts, interleaved with the first (alternating which goes first), so both see the same
     * machine load; its figures go in the {@code baseline_*} fields of every row.
     */
    public static List<Map<String, Object>> run(Embedder embedder, Embedder baseline, List<float[]> stored, List<String> queries, List<Integer> sizes, int k,
                                                int efSearch, Consumer<String> log) {
        // embedding time does not depend on the index: measure it once per query, with a warm-up
        for (int i = 0; i < Math.min(20, queries.size()); i++) {
            embedder.embed(queries.get(i));
            if (baseline != null) baseline.embed(queries.get(i));
        }
        double[] embedMs = new double[queries.size()];
        double[] embedCpuMs = new double[queries.size()];
        double[] baseMs = baseline == null ? null : new double[queries.size()];
        List<float[]> qv = new ArrayList<>();
        for (int i = 0; i < queries.size(); i++) {
            if (baseline != null && i % 2 == 1) baseMs[i] = timeEmbed(baseline, queries.get(i));
            long c0 = THREADS.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            qv.add(embedder.embed(queries.get(i)));
            embedMs[i] = (System.nanoTime() - t0) / 1e6;
            embedCpuMs[i] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e6;
            if (baseline != null && i % 2 == 0) baseMs[i] = timeEmbed(baseline, queries.get(i));
        }
        double[] embedSorted = embedMs.clone();
        Arrays.sort(embedSorted);
        double[] cpuSorted = sorted(embedCpuMs);
        log.accept(String.format("embedding (%s): p50 %.2f ms, p99 %.2f ms over %d prompts; CPU time of the calling thread p50 %.2f ms, p99 %.2f ms", embedder.name(),
                pct(embedSorted, 0.5), pct(embedSorted, 0.99), queries.size(), pct(cpuSorted, 0.5), pct(cpuSorted, 0.99)));
        if (baseline != null) {
            double[] b = sorted(baseMs);
            log.accept(String.format("baseline embedding (%s), same prompts interleaved: p50 %.2f ms, p99 %.2f ms (p50 ratio %.2fx, p99 ratio %.2fx)", baseline.name(), pct(b, 0.5),
                    pct(b, 0.99), pct(b, 0.5) / pct(embedSorted, 0.5), pct(b, 0.99) / pct(embedSorted, 0.99)));
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int size : sizes) {
            if (size > stored.size()) throw new IllegalArgumentException("size " + size + " > " + stored.size() + " stored vectors");
            ExactIndex exact = new ExactIndex(embedder.dimension());
            long b0 = System.nanoTime();
            for (int i = 0; i < size; i++) exact.add(stored.get(i));
            double exactBuild = (System.nanoTime() - b0) / 1e9;
            try (HnswIndex hnsw = new HnswIndex(embedder.dimension(), efSearch)) {
                b0 = System.nanoTime();
                for (int i = 0; i < size; i++) hnsw.add(stored.get(i));
                hnsw.refresh();
                double hnswBuild = (System.nanoTime() - b0) / 1e9;
                double[] exactCpuMs = new double[qv.size()], hnswCpuMs = new double[qv.size()];
                double[] exactMs = time(exact, qv, k, exactCpuMs);
                double[] hnswMs = time(hnsw, qv, k, hnswCpuMs);
                double recall = 0;
                for (float[] q : qv) {
                    var truth = new HashSet<>(exact.search(q, k).stream().map(Neighbour::id).toList());
                    recall += hnsw.search(q, k).stream().filter(n -> truth.contains(n.id())).count() / (double) truth.size();
                }
                recall /= qv.size();
                rows.add(withCpu(withBaseline(row("exact", size, k, embedMs, exactMs, exactBuild, 1.0), embedder, baseline, baseMs, exactMs), embedCpuMs, exactCpuMs));
                rows.add(withCpu(withBaseline(row("hnsw", size, k, embedMs, hnswMs, hnswBuild, recall), embedder, baseline, baseMs, hnswMs), embedCpuMs, hnswCpuMs));
                log.accept(String.format("%,d stored: exact search p50 %.2f p99 %.2f ms; hnsw p50 %.2f p99 %.2f ms (recall@%d %.3f, build %.1f s)",
                        size, pct(sorted(exactMs), 0.5), pct(sorted(exactMs), 0.99), pct(sorted(hnswMs), 0.5), pct(sorted(hnswMs), 0.99), k, recall, hnswBuild));
            }
        }
        return rows;
    }

    static double timeEmbed(Embedder e, String q) {
        long t0 = System.nanoTime();
        e.embed(q);
        return (System.nanoTime() - t0) / 1e6;
    }

    static Map<String, Object> withBaseline(Map<String, Object> o, Embedder embedder, Embedder baseline, double[] baseMs, double[] searchMs) {
        o.put("embedder", embedder.name());
        if (baseline == null) return o;
        double[] total = new double[baseMs.length];
        for (int i = 0; i < total.length; i++) total[i] = baseMs[i] + searchMs[i];
        double[] b = sorted(baseMs), t = sorted(total);
        o.put("baseline_embedder", baseline.name());
        o.put("baseline_embed_p50_ms", r(pct(b, 0.5)));
        o.put("baseline_embed_p99_ms", r(pct(b, 0.99)));
        o.put("baseline_total_p50_ms", r(pct(t, 0.5)));
        o.put("baseline_total_p99_ms", r(pct(t, 0.99)));
        return o;
    }

    static double[] sorted(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s;
    }

    static double[] time(VectorIndex idx, List<float[]> qv, int k) {
        return time(idx, qv, k, new double[qv.size()]);
    }

    /** Wall milliseconds per search; {@code cpuMs} receives the calling thread's CPU milliseconds. */
    static double[] time(VectorIndex idx, List<float[]> qv, int k, double[] cpuMs) {
        for (int i = 0; i < Math.min(50, qv.size()); i++) idx.search(qv.get(i), k); // warm-up
        double[] ms = new double[qv.size()];
        for (int i = 0; i < qv.size(); i++) {
            long c0 = THREADS.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            idx.search(qv.get(i), k);
            ms[i] = (System.nanoTime() - t0) / 1e6;
            cpuMs[i] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e6;
        }
        return ms;
    }

    /**
     * On a machine shared with other builds the wall time of a request is mostly waiting for a core. The CPU time the
     * request's thread used is what it costs on a free core (exact while all work runs on that thread: ONNX Runtime with
     * one intra-op thread, Lucene and exact search; it undercounts an encoder with its own thread pool).
     */
    static Map<String, Object> withCpu(Map<String, Object> o, double[] embedCpuMs, double[] searchCpuMs) {
        double[] total = new double[embedCpuMs.length];
        for (int i = 0; i < total.length; i++) total[i] = embedCpuMs[i] + searchCpuMs[i];
        double[] e = sorted(embedCpuMs), s = sorted(searchCpuMs), t = sorted(total);
        o.put("embed_cpu_p50_ms", r(pct(e, 0.5)));
        o.put("embed_cpu_p99_ms", r(pct(e, 0.99)));
        o.put("search_cpu_p50_ms", r(pct(s, 0.5)));
        o.put("search_cpu_p99_ms", r(pct(s, 0.99)));
        o.put("total_cpu_p50_ms", r(pct(t, 0.5)));
        o.put("total_cpu_p99_ms", r(pct(t, 0.99)));
        return o;
    }

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    static Map<String, Object> row(String index, int size, int k, double[] embedMs, double[] searchMs, double buildS, double recall) {
        double[] total = new double[embedMs.length];
        for (int i = 0; i < total.length; i++) total[i] = embedMs[i] + searchMs[i];
        double[] e = sorted(embedMs), s = sorted(searchMs), t = sorted(total);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("index", index);
        o.put("stored", size);
        o.put("k", k);
        o.put("requests", embedMs.length);
        o.put("embed_p50_ms", r(pct(e, 0.5)));
        o.put("embed_p99_ms", r(pct(e, 0.99)));
        o.put("search_p50_ms", r(pct(s, 0.5)));
        o.put("search_p99_ms", r(pct(s, 0.99)));
        o.put("total_p50_ms", r(pct(t, 0.5)));
        o.put("total_p99_ms", r(pct(t, 0.99)));
        o.put("recall_at_k", r(recall));
        o.put("build_seconds", r(buildS));
        return o;
    }

    static double r(double x) {
        return Math.round(x * 1000) / 1000.0;
    }
}
