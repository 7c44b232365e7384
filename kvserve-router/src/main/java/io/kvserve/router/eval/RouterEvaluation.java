package io.kvserve.router.eval;

import io.kvserve.router.data.GroupedSplit;
import io.kvserve.router.data.RoutingDataset;
import io.kvserve.router.data.RoutingExample;
import io.kvserve.router.knn.ExactIndex;
import io.kvserve.router.knn.KnnRouter;
import io.kvserve.router.knn.Neighbour;
import io.kvserve.router.knn.RoutingPolicy;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Compares kNN routers (k and neighbour weighting swept, chosen on a validation part) with random, the best single
 * model, the oracle, the zero router (hull of the single models) and per-model logistic regression, all on the same
 * embeddings and the same grouped split by prompt text.
 */
public final class RouterEvaluation {
    /** What to run. */
    public record Config(List<Integer> ks, List<KnnRouter.Weighting> weightings, List<Double> l2s, int lrEpochs, long seed,
                         double trainFrac, double valFrac) {
        public static Config defaults() {
            return new Config(List.of(5, 10, 25, 50, 100, 200), List.of(KnnRouter.Weighting.values()),
                    List.of(1e-4, 1e-3, 1e-2), 300, 42, 0.7, 0.1);
        }
    }

    /** Everything an evaluation produced. */
    public record Report(int train, int validation, int test, String costSource, List<String> models, double costLo, double costHi,
                         List<RouterResult> routers, List<RouterResult> singleModels, String chosenKnn, String chosenLogistic) {}

    /** Per test example, each model's predicted quality and cost. */
    record Predictions(double[][] quality, double[][] cost) {}

    private RouterEvaluation() {}

    public static Report run(RoutingDataset data, List<float[]> embeddings, Config cfg, java.util.function.Consumer<String> log) {
        if (embeddings.size() != data.size()) throw new IllegalArgumentException(embeddings.size() + " embeddings for " + data.size() + " examples");
        Map<RoutingExample, float[]> emb = new IdentityHashMap<>();
        for (int i = 0; i < data.size(); i++) emb.put(data.examples().get(i), embeddings.get(i));
        GroupedSplit.Parts parts = GroupedSplit.split(data, cfg.trainFrac(), cfg.valFrac(), cfg.seed());
        List<RoutingExample> train = parts.train().examples(), val = parts.validation().examples(), test = parts.test().examples();
        if (train.isEmpty() || val.isEmpty() || test.isEmpty()) {
            throw new IllegalArgumentException("split left an empty part (train " + train.size() + ", validation " + val.size() + ", test " + test.size() + "): the data set is too small");
        }
        List<RoutingExample> trainVal = new ArrayList<>(train);
        trainVal.addAll(val);
        int models = data.models().size();
        double[] lambdas = lambdaGrid(train, models);

        // single models define the common cost range of every AUC
        List<RouterResult> singles = new ArrayList<>();
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (int m = 0; m < models; m++) {
            CostQualityPoint p = fixed(test, m);
            lo = Math.min(lo, p.cost());
            hi = Math.max(hi, p.cost());
            singles.add(new RouterResult("single " + data.models().get(m), p.quality(), p.cost(), Double.NaN, List.of(p), List.of(p), Map.of()));
        }
        if (!(hi > lo)) hi = lo + 1; // all models cost the same: any positive width normalises the same way
        final double cLo = lo, cHi = hi;
        singles = singles.stream().map(s -> new RouterResult(s.router(), s.accuracy(), s.meanCost(), QualityCostCurve.auc(s.hull(), cLo, cHi), s.points(), s.hull(), s.extra())).toList();
        List<RouterResult> out = new ArrayList<>();

        // kNN: choose (k, weighting) by validation AUC with train as the support set
        int kMax = cfg.ks().stream().mapToInt(Integer::intValue).max().orElseThrow();
        List<List<Neighbour>> valNn = neighbours(train, val, emb, kMax);
        List<List<Neighbour>> testNn = neighbours(trainVal, test, emb, kMax);
        String best = null;
        double bestValAuc = Double.NEGATIVE_INFINITY;
        List<RouterResult> knnResults = new ArrayList<>();
        for (KnnRouter.Weighting w : cfg.weightings()) {
            for (int k : cfg.ks()) {
                String name = "knn k=" + k + " " + w.name().toLowerCase(java.util.Locale.ROOT);
                double valAuc = score(name, val, knnPredict(train, valNn, k, w, models), lambdas, cLo, cHi).auc();
                RouterResult r = score(name, test, knnPredict(trainVal, testNn, k, w, models), lambdas, cLo, cHi);
                Map<String, Object> extra = new LinkedHashMap<>(Map.of("k", k, "weighting", w.name(), "val_auc", valAuc, "family", "knn"));
                knnResults.add(new RouterResult(r.router(), r.accuracy(), r.meanCost(), r.auc(), r.points(), r.hull(), extra));
                if (valAuc > bestValAuc) {
                    bestValAuc = valAuc;
                    best = name;
                }
                log.accept(String.format("%-30s val AUC %.2f  test acc %.4f AUC %.2f", name, valAuc, r.accuracy(), r.auc()));
            }
        }
        for (RouterResult r : knnResults) {
            if (r.router().equals(best)) {
                Map<String, Object> extra = new LinkedHashMap<>(r.extra());
                extra.put("selected_as", r.router());
                out.add(new RouterResult("knn (tuned)", r.accuracy(), r.meanCost(), r.auc(), r.points(), r.hull(), extra));
            }
        }

        // logistic regression: choose l2 on validation, retrain on train + validation
        double bestL2 = cfg.l2s().getFirst();
        double bestLrVal = Double.NEGATIVE_INFINITY;
        for (double l2 : cfg.l2s()) {
            LogisticRouter lr = LogisticRouter.train(train.stream().map(emb::get).toList(), labels(train), l2, cfg.lrEpochs(), 0.05);
            double a = score("lr", val, modelPredict(lr, val, emb, train), lambdas, cLo, cHi).auc();
            log.accept(String.format("logistic l2=%g val AUC %.2f", l2, a));
            if (a > bestLrVal) {
                bestLrVal = a;
                bestL2 = l2;
            }
        }
        LogisticRouter lr = LogisticRouter.train(trainVal.stream().map(emb::get).toList(), labels(trainVal), bestL2, cfg.lrEpochs(), 0.05);
        RouterResult lrRes = score("logistic regression", test, modelPredict(lr, test, emb, trainVal), lambdas, cLo, cHi);
        out.add(withExtra(lrRes, Map.of("l2", bestL2, "val_auc", bestLrVal, "family", "learned")));

        // baselines
        SplittableRandom rnd = new SplittableRandom(cfg.seed());
        double rq = 0, rc = 0;
        for (RoutingExample e : test) {
            int m = rnd.nextInt(models);
            rq += e.outcomes()[m];
            rc += e.costs()[m];
        }
        CostQualityPoint rp = new CostQualityPoint(rc / test.size(), rq / test.size());
        out.add(new RouterResult("random", rp.quality(), rp.cost(), QualityCostCurve.auc(List.of(rp), cLo, cHi), List.of(rp), List.of(rp), Map.of("family", "baseline")));

        int bestSingle = 0;
        double bestMean = Double.NEGATIVE_INFINITY;
        for (int m = 0; m < models; m++) {
            double q = fixed(train, m).quality();
            if (q > bestMean) {
                bestMean = q;
                bestSingle = m;
            }
        }
        CostQualityPoint bp = fixed(test, bestSingle);
        out.add(new RouterResult("best single", bp.quality(), bp.cost(), QualityCostCurve.auc(List.of(bp), cLo, cHi), List.of(bp), List.of(bp),
                Map.of("model", data.models().get(bestSingle), "family", "baseline")));

        List<CostQualityPoint> singlePts = singles.stream().map(s -> s.points().getFirst()).toList();
        List<CostQualityPoint> zeroHull = QualityCostCurve.hull(singlePts);
        CostQualityPoint zeroTop = zeroHull.getLast();
        out.add(new RouterResult("zero router", zeroTop.quality(), zeroTop.cost(), QualityCostCurve.auc(zeroHull, cLo, cHi), singlePts, zeroHull, Map.of("family", "baseline")));

        double[][] tq = new double[test.size()][], tc = new double[test.size()][];
        for (int i = 0; i < test.size(); i++) {
            tq[i] = test.get(i).outcomes();
            tc[i] = test.get(i).costs();
        }
        out.add(withExtra(score("oracle", test, new Predictions(tq, tc), lambdas, cLo, cHi), Map.of("family", "bound")));
        out.addAll(knnResults);
        return new Report(train.size(), val.size(), test.size(), data.costSource(), data.models(), cLo, cHi, out, singles, best, "l2=" + bestL2);
    }

    private static RouterResult withExtra(RouterResult r, Map<String, Object> extra) {
        return new RouterResult(r.router(), r.accuracy(), r.meanCost(), r.auc(), r.points(), r.hull(), extra);
    }

    static double[] lambdaGrid(List<RoutingExample> train, int models) {
        double scale = 0;
        for (RoutingExample e : train) for (double c : e.costs()) scale += c;
        scale /= (double) train.size() * models;
        if (!(scale > 0)) scale = 1;
        List<Double> ls = new ArrayList<>();
        ls.add(0.0);
        for (int e = -30; e <= 30; e++) ls.add(Math.pow(10, e / 10.0) / scale);
        ls.add(Double.POSITIVE_INFINITY);
        return ls.stream().mapToDouble(Double::doubleValue).toArray();
    }

    static CostQualityPoint fixed(List<RoutingExample> part, int m) {
        double q = 0, c = 0;
        for (RoutingExample e : part) {
            q += e.outcomes()[m];
            c += e.costs()[m];
        }
        return new CostQualityPoint(c / part.size(), q / part.size());
    }

    static double[][] labels(List<RoutingExample> part) {
        double[][] y = new double[part.size()][];
        for (int i = 0; i < part.size(); i++) y[i] = part.get(i).outcomes();
        return y;
    }

    static List<List<Neighbour>> neighbours(List<RoutingExample> support, List<RoutingExample> queries, Map<RoutingExample, float[]> emb, int k) {
        ExactIndex index = new ExactIndex(emb.get(support.getFirst()).length);
        for (RoutingExample e : support) index.add(emb.get(e));
        return queries.parallelStream().map(q -> index.search(emb.get(q), k)).toList();
    }

    static Predictions knnPredict(List<RoutingExample> support, List<List<Neighbour>> nn, int k, KnnRouter.Weighting w, int models) {
        // the same arithmetic as KnnRouter.predict, on precomputed neighbour lists
        KnnRouter weights = new KnnRouter(new ExactIndex(1), models, k, w);
        double[][] q = new double[nn.size()][models], c = new double[nn.size()][models];
        for (int i = 0; i < nn.size(); i++) {
            List<Neighbour> list = nn.get(i);
            double wsum = 0;
            for (int j = 0; j < Math.min(k, list.size()); j++) {
                Neighbour n = list.get(j);
                double wt = weights.weightOf(n.similarity());
                RoutingExample s = support.get(n.id());
                for (int m = 0; m < models; m++) {
                    q[i][m] += wt * s.outcomes()[m];
                    c[i][m] += wt * s.costs()[m];
                }
                wsum += wt;
            }
            for (int m = 0; m < models; m++) {
                q[i][m] /= wsum;
                c[i][m] /= wsum;
            }
        }
        return new Predictions(q, c);
    }

    static Predictions modelPredict(LogisticRouter lr, List<RoutingExample> part, Map<RoutingExample, float[]> emb, List<RoutingExample> train) {
        int models = train.getFirst().costs().length;
        double[] meanCost = new double[models];
        for (RoutingExample e : train) for (int m = 0; m < models; m++) meanCost[m] += e.costs()[m] / train.size();
        double[][] q = new double[part.size()][], c = new double[part.size()][];
        for (int i = 0; i < part.size(); i++) {
            q[i] = lr.predict(emb.get(part.get(i)));
            c[i] = meanCost;
        }
        return new Predictions(q, c);
    }

    /** Routes the part at every lambda; accuracy and cost at lambda = 0. */
    static RouterResult score(String name, List<RoutingExample> part, Predictions p, double[] lambdas, double lo, double hi) {
        List<CostQualityPoint> pts = new ArrayList<>();
        for (double lambda : lambdas) {
            RoutingPolicy policy = new RoutingPolicy.MaxUtility(lambda);
            double q = 0, c = 0;
            for (int i = 0; i < part.size(); i++) {
                int m = policy.choose(p.quality()[i], p.cost()[i]);
                q += part.get(i).outcomes()[m];
                c += part.get(i).costs()[m];
            }
            pts.add(new CostQualityPoint(c / part.size(), q / part.size()));
        }
        List<CostQualityPoint> hull = QualityCostCurve.hull(pts);
        return new RouterResult(name, pts.getFirst().quality(), pts.getFirst().cost(), QualityCostCurve.auc(hull, lo, hi), pts, hull, Map.of());
    }
}
