package io.kvserve.router.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import java.util.List;
import org.junit.jupiter.api.Test;

class QualityCostCurveTest {
    static CostQualityPoint p(double c, double q) {
        return new CostQualityPoint(c, q);
    }

    @Test
    void hullDropsDominatedAndBelowChordPoints() {
        List<CostQualityPoint> h = QualityCostCurve.hull(List.of(p(1, 0.2), p(2, 0.1), p(2, 0.45), p(3, 0.5), p(4, 0.8), p(5, 0.7)));
        // (2,0.1) dominated, (5,0.7) worse than cheaper (4,0.8), (3,0.5) below chord (2,0.45)-(4,0.8)
        assertThat(h).containsExactly(p(1, 0.2), p(2, 0.45), p(4, 0.8));
    }

    @Test
    void aucIntegratesThePiecewiseLinearHull() {
        List<CostQualityPoint> h = List.of(p(0, 0.5), p(1, 1));
        assertThat(QualityCostCurve.auc(h, 0, 1)).isCloseTo(75, offset(1e-9));
        assertThat(QualityCostCurve.auc(h, 0, 2)).isCloseTo((0.75 + 1) / 2 * 100, offset(1e-9)); // flat after the last point
        // a single point at cost 1 on [0,2]: zero before it, its quality after
        assertThat(QualityCostCurve.auc(List.of(p(1, 0.6)), 0, 2)).isCloseTo(30, offset(1e-9));
        assertThat(QualityCostCurve.valueAt(h, 0.5)).isCloseTo(0.75, offset(1e-12));
        assertThat(QualityCostCurve.valueAt(h, -1)).isZero();
    }
}
