package io.kvserve.router.plot;

import io.kvserve.router.eval.CostQualityPoint;
import io.kvserve.router.eval.RouterEvaluation;
import io.kvserve.router.eval.RouterResult;
import java.awt.BasicStroke;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG plots of routing and placement results (XChart, headless). */
public final class Charts {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {}

    /** Quality-cost hulls of the main routers plus single-model points. */
    public static void qualityCost(RouterEvaluation.Report report, Path png) {
        XYChart chart = new XYChartBuilder().width(900).height(600).title("Routing: quality vs cost on the grouped test split (" + report.test() + " prompts)")
                .xAxisTitle("mean cost per prompt (" + report.costSource() + ")").yAxisTitle("mean quality").build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideSE);
        for (RouterResult r : report.routers()) {
            if (r.router().startsWith("knn k=")) continue;
            List<CostQualityPoint> h = r.hull();
            XYSeries s = chart.addSeries(String.format("%s (AUC %.1f)", r.router(), r.auc()), h.stream().map(CostQualityPoint::cost).toList(),
                    h.stream().map(CostQualityPoint::quality).toList());
            if (h.size() == 1 || r.router().equals("zero router")) s.setMarker(SeriesMarkers.DIAMOND);
            else s.setMarker(SeriesMarkers.NONE);
            if (h.size() == 1) s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        }
        XYSeries singles = chart.addSeries("single models", report.singleModels().stream().map(RouterResult::meanCost).toList(),
                report.singleModels().stream().map(RouterResult::accuracy).toList());
        singles.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        singles.setMarker(SeriesMarkers.CIRCLE);
        save(chart, png);
    }

    /** Test accuracy and AUC of the kNN sweep against k, one line per weighting. */
    public static void knnSweep(RouterEvaluation.Report report, Path png) {
        XYChart chart = new XYChartBuilder().width(900).height(600).title("kNN router: test AUC vs k (validation picks " + report.chosenKnn() + ")")
                .xAxisTitle("k").yAxisTitle("AUC (quality-cost hull, x100)").build();
        chart.getStyler().setXAxisLogarithmic(true);
        Map<Object, List<RouterResult>> byW = report.routers().stream().filter(r -> r.router().startsWith("knn k="))
                .collect(java.util.stream.Collectors.groupingBy(r -> r.extra().get("weighting"), java.util.LinkedHashMap::new, java.util.stream.Collectors.toList()));
        byW.forEach((w, rs) -> chart.addSeries(w.toString().toLowerCase(), rs.stream().map(r -> ((Number) r.extra().get("k")).doubleValue()).toList(),
                rs.stream().map(RouterResult::auc).toList()));
        report.routers().stream().filter(r -> r.router().equals("logistic regression") || r.router().equals("zero router")).forEach(r -> {
            List<Double> ks = byW.values().iterator().next().stream().map(x -> ((Number) x.extra().get("k")).doubleValue()).toList();
            XYSeries s = chart.addSeries(r.router(), ks, ks.stream().map(x -> r.auc()).toList());
            s.setMarker(SeriesMarkers.NONE);
            s.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {6, 4}, 0));
        });
        save(chart, png);
    }

    /** Any set of named (x, y) lines. */
    public static void lines(String title, String xTitle, String yTitle, Map<String, double[][]> series, boolean logX, Path png) {
        XYChart chart = new XYChartBuilder().width(900).height(600).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setXAxisLogarithmic(logX);
        series.forEach((name, xy) -> chart.addSeries(name, xy[0], xy[1]));
        save(chart, png);
    }

    static void save(XYChart chart, Path png) {
        try {
            if (png.getParent() != null) Files.createDirectories(png.getParent());
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write plot " + png + ": " + e.getMessage(), e);
        }
    }
}
