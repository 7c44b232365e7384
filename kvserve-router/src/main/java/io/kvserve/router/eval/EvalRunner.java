package io.kvserve.router.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.router.data.RoutingDataLoader;
import io.kvserve.router.data.RoutingDataset;
import io.kvserve.router.data.RoutingExample;
import io.kvserve.router.embed.Embedder;
import io.kvserve.router.embed.EmbeddingCache;
import io.kvserve.router.plot.Charts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Loads data, embeds it (cached), runs {@link RouterEvaluation}, writes JSON and plots. */
public final class EvalRunner {
    private EvalRunner() {}

    public static RouterEvaluation.Report run(Path data, Embedder embedder, Path cacheDir, RouterEvaluation.Config cfg, Path json, Path plotDir, Consumer<String> log) {
        RoutingDataset ds = RoutingDataLoader.load(data);
        log.accept("loaded " + ds.size() + " prompts, " + ds.models().size() + " models, cost: " + ds.costSource());
        long t0 = System.nanoTime();
        List<float[]> emb = EmbeddingCache.embedAll(embedder, ds.examples().stream().map(RoutingExample::prompt).toList(), cacheDir,
                n -> { if (n % 512 < 64) log.accept("embedded " + n + "/" + ds.size()); });
        log.accept(String.format("embeddings (%s): %.1f s", embedder.name(), (System.nanoTime() - t0) / 1e9));
        RouterEvaluation.Report report = RouterEvaluation.run(ds, emb, cfg, log);
        if (json != null) writeJson(report, json);
        if (plotDir != null) {
            Charts.qualityCost(report, plotDir.resolve("quality_cost.png"));
            Charts.knnSweep(report, plotDir.resolve("knn_k_sweep.png"));
            writeFullReport(report, embedder.name(), data, plotDir.resolve("eval_report.json"));
        }
        return report;
    }

    public static List<Map<String, Object>> summary(RouterEvaluation.Report report) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (RouterResult r : report.routers()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("router", r.router());
            o.put("accuracy", round(r.accuracy()));
            o.put("mean_cost", r.meanCost());
            o.put("auc", round(r.auc()));
            o.putAll(r.extra());
            o.put("test_prompts", report.test());
            rows.add(o);
        }
        return rows;
    }

    static double round(double x) {
        return Math.round(x * 1e4) / 1e4;
    }

    static void writeJson(RouterEvaluation.Report report, Path json) {
        write(json, summary(report));
    }

    static void writeFullReport(RouterEvaluation.Report report, String embedder, Path data, Path file) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("data", data.getFileName().toString());
        o.put("embedder", embedder);
        o.put("split", Map.of("train", report.train(), "validation", report.validation(), "test", report.test(), "grouped_by", "prompt text"));
        o.put("cost", report.costSource());
        o.put("auc_cost_range", List.of(report.costLo(), report.costHi()));
        o.put("chosen_knn", report.chosenKnn());
        o.put("models", report.models());
        o.put("routers", report.routers());
        o.put("single_models", report.singleModels());
        write(file, o);
    }

    static void write(Path file, Object value) {
        try {
            if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), value);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
