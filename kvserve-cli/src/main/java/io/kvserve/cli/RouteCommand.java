package io.kvserve.cli;

import io.kvserve.router.data.RoutingDataException;
import io.kvserve.router.embed.Embedder;
import io.kvserve.router.embed.EmbedderSpec;
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
        subcommands = {RouteCommand.Eval.class, RouteCommand.PfarBenchCmd.class, RouteCommand.LatencyBenchCmd.class, RouteCommand.Serve.class})
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

    /** An encoder by its {@link EmbedderSpec} name ({@code minilm-q:16}, {@code minilm}, {@code minilm-langchain4j}, {@code hashing}, ...). */
    static Embedder embedder(String name) {
        return EmbedderSpec.parse(name).create();
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
        @Option(names = "--embedder", defaultValue = EmbedderSpec.DEFAULT, description = "encoder: minilm[-q][:TOKENS[:THREADS]] (all-MiniLM-L6-v2 on ONNX Runtime, -q = int8; default ${DEFAULT-VALUE}), minilm-langchain4j, or hashing (fast stand-in)")
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
                io.kvserve.router.data.RoutingDataLoader.load(d); // fail on bad data before loading the encoder
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

    @Command(name = "pfar-bench", mixinStandardHelpOptions = true, description = "PFAR: ILP time to optimality and GA share of the optimum at fixed budgets on generated topologies.")
    static final class PfarBenchCmd implements Callable<Integer> {
        @Option(names = "--json", description = "write one JSON object per instance and GA budget to this file")
        Path json;
        @Option(names = "--out", description = "directory for the table and plots; default docs/routing")
        Path out;
        @Option(names = "--shapes", split = ",", description = "instances as TOPOLOGY:NODES:FLOWS (topology waxman or barabasi-albert); default 10:200, 20:500, 30:1000, 50:2000 on both")
        List<String> shapes;
        @Option(names = "--budgets", split = ",", defaultValue = "0.1,1,5", description = "GA budgets in seconds")
        List<Double> budgets;
        @Option(names = "--k", defaultValue = "5", description = "candidate paths per flow")
        int k;
        @Option(names = "--ilp-limit", defaultValue = "60", description = "ILP time limit in seconds")
        double ilpLimit;
        @Option(names = "--seed", defaultValue = "2020")
        long seed;
        @Option(names = "--flow-model", defaultValue = "weighted-demand", description = "weighted-demand (demands in 0.1 steps, objective priority x demand; default) or card (whole demands, objective sum of admitted priorities, as the method card writes it)")
        String flowModel;
        @Option(names = "--ilp", split = ",", defaultValue = "scip", description = "ILP programs to run on each instance, back to back: scip (reduced program, default), scip-plain (one binary per flow and path), cpsat")
        List<String> ilp;
        @Option(names = "--ilp-workers", defaultValue = "2", description = "CP-SAT workers")
        int ilpWorkers;
        @Option(names = "--ga-hint", defaultValue = "0", description = "seconds of GA whose solution is the ILP's hint (counted in ilp_seconds); 0 = the greedy solution")
        double gaHint;

        @Override
        public Integer call() {
            return guarded(() -> {
                var model = switch (flowModel) {
                    case "weighted-demand" -> io.kvserve.router.pfar.TopologyGenerator.FlowModel.WEIGHTED_DEMAND;
                    case "card" -> io.kvserve.router.pfar.TopologyGenerator.FlowModel.CARD;
                    default -> throw new IllegalArgumentException("--flow-model '" + flowModel + "': use weighted-demand or card");
                };
                var methods = ilp.stream().map(io.kvserve.router.pfar.IlpSolver.Method::parse).distinct().toList();
                if (ilpWorkers < 1) throw new IllegalArgumentException("--ilp-workers " + ilpWorkers + " must be >= 1");
                if (!(gaHint >= 0) || gaHint >= ilpLimit) throw new IllegalArgumentException("--ga-hint " + gaHint + " must be >= 0 and below --ilp-limit " + ilpLimit);
                var base = io.kvserve.router.pfar.PfarBench.Config.defaults();
                List<io.kvserve.router.pfar.PfarBench.Shape> sh = base.shapes();
                if (shapes != null) {
                    sh = new java.util.ArrayList<>();
                    for (String s : shapes) {
                        String[] p = s.split(":");
                        if (p.length != 3) throw new IllegalArgumentException("--shapes: '" + s + "' is not TOPOLOGY:NODES:FLOWS");
                        try {
                            int n = Integer.parseInt(p[1]), f = Integer.parseInt(p[2]);
                            if (n < 3 || f < 1) throw new IllegalArgumentException("--shapes: '" + s + "' needs nodes >= 3 and flows >= 1");
                            sh.add(new io.kvserve.router.pfar.PfarBench.Shape(p[0], n, f));
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("--shapes: '" + s + "': nodes and flows must be integers");
                        }
                    }
                }
                for (double b : budgets) if (!(b > 0)) throw new IllegalArgumentException("--budgets: " + b + " must be > 0");
                if (k < 1) throw new IllegalArgumentException("--k " + k + " must be >= 1");
                var cfg = new io.kvserve.router.pfar.PfarBench.Config(sh, budgets, k, ilpLimit, base.maxDemand(), base.priorities(), seed, model, methods, ilpWorkers, gaHint);
                var rows = io.kvserve.router.pfar.PfarBench.run(cfg, System.err::println);
                String table = io.kvserve.router.pfar.PfarBench.table(rows);
                System.out.print(table);
                Path dir = out != null ? out : home().resolve("docs/routing");
                java.nio.file.Files.createDirectories(dir);
                java.nio.file.Files.writeString(dir.resolve("pfar_table.md"), table);
                io.kvserve.router.plot.PfarCharts.write(rows, dir);
                if (json != null) {
                    if (json.toAbsolutePath().getParent() != null) java.nio.file.Files.createDirectories(json.toAbsolutePath().getParent());
                    new com.fasterxml.jackson.databind.ObjectMapper().enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), rows);
                    System.out.println("wrote " + json);
                }
                System.out.println("table and plots in " + dir);
                return 0;
            });
        }
    }

    @Command(name = "latency-bench", mixinStandardHelpOptions = true, description = "Router latency per request (embed + kNN search), p50/p99, exact vs HNSW, at several stored-prompt counts.")
    static final class LatencyBenchCmd implements Callable<Integer> {
        @Option(names = "--data", description = "routing JSONL whose prompts are stored and queried; default ../shared/data/routing/llmrouter_14task.jsonl")
        Path data;
        @Option(names = "--json", description = "write one JSON object per index and size to this file")
        Path json;
        @Option(names = "--sizes", split = ",", defaultValue = "1000,10000,100000")
        List<Integer> sizes;
        @Option(names = "--queries", defaultValue = "300", description = "timed requests per configuration")
        int queries;
        @Option(names = "--k", defaultValue = "25")
        int k;
        @Option(names = "--ef", defaultValue = "100", description = "HNSW candidates per search")
        int ef;
        @Option(names = "--embedder", defaultValue = EmbedderSpec.DEFAULT, description = "encoder, as for route eval (default ${DEFAULT-VALUE})")
        String embedder;
        @Option(names = "--cache", description = "embedding cache directory; default target/embedding-cache")
        Path cache;
        @Option(names = "--baseline-embedder", description = "also time this encoder on the same prompts, interleaved (e.g. minilm-langchain4j); its figures go in the baseline_* fields")
        String baselineEmbedder;

        @Override
        public Integer call() {
            return guarded(() -> {
                if (k < 1 || ef < 1 || queries < 1) throw new IllegalArgumentException("--k, --ef and --queries must be >= 1");
                for (int s : sizes) if (s < 1) throw new IllegalArgumentException("--sizes: " + s + " must be >= 1");
                var ds = io.kvserve.router.data.RoutingDataLoader.load(data != null ? data : defaultData());
                Embedder emb = embedder(embedder);
                List<String> prompts = ds.examples().stream().map(io.kvserve.router.data.RoutingExample::prompt).toList();
                var base = io.kvserve.router.embed.EmbeddingCache.embedAll(emb, prompts, cache != null ? cache : home().resolve("target/embedding-cache"), null);
                int max = sizes.stream().mapToInt(Integer::intValue).max().orElse(1);
                var stored = io.kvserve.router.knn.LatencyBench.grow(base, max, 0.05, 1);
                java.util.List<String> qs = new java.util.ArrayList<>();
                var rnd = new java.util.SplittableRandom(7);
                for (int i = 0; i < queries; i++) qs.add(prompts.get(rnd.nextInt(prompts.size())));
                Embedder baseline = baselineEmbedder == null ? null : embedder(baselineEmbedder);
                if (baseline != null && baseline.dimension() != emb.dimension()) throw new IllegalArgumentException("--baseline-embedder " + baselineEmbedder + " has " + baseline.dimension() + " dimensions, the encoder " + emb.dimension());
                var rows = io.kvserve.router.knn.LatencyBench.run(emb, baseline, stored, qs, sizes, k, ef, System.err::println);
                System.out.printf("%-6s %8s %10s %10s %10s %10s %10s %10s %8s%s%n", "index", "stored", "embed p50", "embed p99", "search p50", "search p99", "total p50", "total p99", "recall",
                        baseline == null ? "" : String.format(" %12s %12s", "base tot p50", "base tot p99"));
                System.out.println("(CPU ms of the request thread, total p50 / p99, in the JSON: total_cpu_p50_ms / total_cpu_p99_ms)");
                for (var r : rows) System.out.printf("%-6s %8s %10s %10s %10s %10s %10s %10s %8s%s%n", r.get("index"), r.get("stored"), r.get("embed_p50_ms"), r.get("embed_p99_ms"),
                        r.get("search_p50_ms"), r.get("search_p99_ms"), r.get("total_p50_ms"), r.get("total_p99_ms"), r.get("recall_at_k"),
                        baseline == null ? "" : String.format(" %12s %12s", r.get("baseline_total_p50_ms"), r.get("baseline_total_p99_ms")));
                for (var r : rows) System.out.printf("cpu %-6s %8s total p50 %s p99 %s (embed p99 %s, search p99 %s)%n", r.get("index"), r.get("stored"), r.get("total_cpu_p50_ms"), r.get("total_cpu_p99_ms"),
                        r.get("embed_cpu_p99_ms"), r.get("search_cpu_p99_ms"));
                if (json != null) {
                    if (json.toAbsolutePath().getParent() != null) java.nio.file.Files.createDirectories(json.toAbsolutePath().getParent());
                    new com.fasterxml.jackson.databind.ObjectMapper().enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), rows);
                    System.out.println("wrote " + json);
                }
                return 0;
            });
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, description = "OpenAI-compatible routing front over the backends in a config file (see docs/ROUTING.md).")
    static final class Serve implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "fleet config JSON: backends, request classes, router data")
        Path config;
        @Option(names = "--port", description = "override the config's port")
        Integer port;

        @Override
        public Integer call() {
            return guarded(() -> {
                var cfg = io.kvserve.router.fleet.FleetConfig.load(config);
                if (port != null) {
                    cfg = new io.kvserve.router.fleet.FleetConfig(cfg.host(), port, cfg.backends(), cfg.classes(), cfg.router(), cfg.healthIntervalMs(),
                            cfg.healthTimeoutMs(), cfg.retryAfterSeconds(), cfg.replanMs(), cfg.maxAttempts());
                }
                io.kvserve.router.knn.ModelChooser chooser = null;
                io.kvserve.router.knn.RoutingPolicy policy = new io.kvserve.router.knn.RoutingPolicy.BestQuality();
                var rs = cfg.router();
                if (rs != null && rs.data() != null) {
                    Path data = config.toAbsolutePath().getParent().resolve(rs.data()).normalize();
                    int k = rs.k() == null ? 25 : rs.k();
                    if (k < 1) throw new IllegalArgumentException("config: router.k = " + k + " must be >= 1");
                    if (rs.policy() != null) policy = io.kvserve.router.knn.RoutingPolicy.parse(rs.policy());
                    System.err.println("loading router support set " + data);
                    chooser = io.kvserve.router.fleet.ChooserFactory.build(data, embedder(rs.embedder() == null ? EmbedderSpec.DEFAULT : rs.embedder()), k, home().resolve("target/embedding-cache"));
                }
                try (var server = new io.kvserve.router.fleet.RouterServer(cfg, chooser, policy)) {
                    System.out.println("kvserve router listening on http://" + cfg.host() + ":" + server.port() + " (" + cfg.backends().size() + " backends)");
                    Thread.currentThread().join();
                }
                return 0;
            });
        }
    }
}
