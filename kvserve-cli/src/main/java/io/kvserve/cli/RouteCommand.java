package io.kvserve.cli;

import io.kvserve.router.data.RoutingDataException;
import io.kvserve.router.embed.Embedder;
import io.kvserve.router.embed.HashingEmbedder;
import io.kvserve.router.embed.MiniLmEmbedder;
import io.kvserve.router.eval.EvalRunner;
import io.kvserve.router.eval.RouterEvaluation;
import io.kvserve.router.eval.RouterResult;
import io.kvserve.router.knn.KnnRouter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kvserve route ...}: the kNN model router, PFAR placement and the routing front. */
@Command(name = "route", mixinStandardHelpOptions = true, description = "kNN model routing, PFAR admission/placement, routing front.",
        subcommands = {RouteCommand.Eval.class})
public final class RouteCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    static Path home() {
        return Path.of(System.getProperty("kvserve.home", ".")).toAbsolutePath().normalize();
    }

    static Path defaultData() {
        return home().resolve("../shared/data/routing/llmrouter_14task.jsonl").normalize();
    }

    static Embedder embedder(String name) {
        return switch (name) {
            case "minilm" -> new MiniLmEmbedder();
            case "hashing" -> new HashingEmbedder(384);
            default -> throw new IllegalArgumentException("unknown embedder '" + name + "': use minilm or hashing");
        };
    }

    /** Runs a command body; bad input prints one clear line instead of a stack trace. */
    static int guarded(Callable<Integer> body) {
        try {
            return body.call();
        } catch (RoutingDataException | IllegalArgumentException | UncheckedIOException e) {
            System.err.println("kvserve route: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            System.err.println("kvserve route: failed: " + e);
            return 1;
        }
    }

    @Command(name = "eval", mixinStandardHelpOptions = true, description = "Compare kNN routers with baselines on a routing JSONL file (grouped re-split by prompt text).")
    static final class Eval implements Callable<Integer> {
        @Option(names = "--data", description = "routing JSONL (prompt, task, outcomes, optional costs); default ../shared/data/routing/llmrouter_14task.jsonl")
        Path data;
        @Option(names = "--json", description = "write one JSON object per router to this file")
        Path json;
        @Option(names = "--plots", description = "directory for PNG plots and the full report; default docs/routing")
        Path plots;
        @Option(names = "--no-plots", description = "skip plots")
        boolean noPlots;
        @Option(names = "--embedder", defaultValue = "minilm", description = "minilm (all-MiniLM-L6-v2, ONNX) or hashing (fast stand-in)")
        String embedder;
        @Option(names = "--seed", defaultValue = "42")
        long seed;
        @Option(names = "--ks", split = ",", defaultValue = "5,10,25,50,100,200", description = "k values to sweep")
        List<Integer> ks;
        @Option(names = "--cache", description = "embedding cache directory; default target/embedding-cache")
        Path cache;

        @Override
        public Integer call() {
            return guarded(() -> {
                for (int k : ks) if (k < 1) throw new IllegalArgumentException("--ks: k = " + k + " must be >= 1");
                Path d = data != null ? data : defaultData();
                Path plotDir = noPlots ? null : plots != null ? plots : home().resolve("docs/routing");
                Path cacheDir = cache != null ? cache : home().resolve("target/embedding-cache");
                var base = RouterEvaluation.Config.defaults();
                var cfg = new RouterEvaluation.Config(ks, List.of(KnnRouter.Weighting.values()), base.l2s(), base.lrEpochs(), seed, base.trainFrac(), base.valFrac());
                var report = EvalRunner.run(d, embedder(embedder), cacheDir, cfg, json, plotDir, System.err::println);
                System.out.printf("%-32s %9s %12s %8s%n", "router", "accuracy", "mean_cost", "auc");
                for (RouterResult r : report.routers()) System.out.printf("%-32s %9.4f %12.4g %8.2f%n", r.router(), r.accuracy(), r.meanCost(), r.auc());
                System.out.printf("split: train %d, validation %d, test %d (grouped by prompt text, seed %d)%n", report.train(), report.validation(), report.test(), seed);
                if (json != null) System.out.println("wrote " + json);
                if (plotDir != null) System.out.println("plots in " + plotDir);
                return 0;
            });
        }
    }
}
