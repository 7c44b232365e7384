package io.kvserve.router.eval;

import java.util.List;

/**
 * The learned baseline: one L2-regularised logistic regression per model on the prompt embedding, predicting the
 * model's score (soft labels in [0,1] use the same cross-entropy). Trained by full-batch gradient descent with Adam.
 */
public final class LogisticRouter {
    private final double[][] w; // (models, dim + 1), last column is the bias

    private LogisticRouter(double[][] w) {
        this.w = w;
    }

    public static LogisticRouter train(List<float[]> x, double[][] y, double l2, int epochs, double lr) {
        int n = x.size(), models = y[0].length, dim = x.getFirst().length;
        double[][] w = new double[models][dim + 1];
        double[][] m1 = new double[models][dim + 1], m2 = new double[models][dim + 1];
        double b1 = 0.9, b2 = 0.999;
        double[] grad = new double[dim + 1];
        for (int m = 0; m < models; m++) {
            for (int t = 1; t <= epochs; t++) {
                java.util.Arrays.fill(grad, 0);
                for (int i = 0; i < n; i++) {
                    float[] xi = x.get(i);
                    double z = w[m][dim];
                    for (int j = 0; j < dim; j++) z += w[m][j] * xi[j];
                    double err = sigmoid(z) - y[i][m];
                    for (int j = 0; j < dim; j++) grad[j] += err * xi[j];
                    grad[dim] += err;
                }
                for (int j = 0; j <= dim; j++) {
                    double g = grad[j] / n + (j < dim ? l2 * w[m][j] : 0);
                    m1[m][j] = b1 * m1[m][j] + (1 - b1) * g;
                    m2[m][j] = b2 * m2[m][j] + (1 - b2) * g * g;
                    double mh = m1[m][j] / (1 - Math.pow(b1, t)), vh = m2[m][j] / (1 - Math.pow(b2, t));
                    w[m][j] -= lr * mh / (Math.sqrt(vh) + 1e-8);
                }
            }
        }
        return new LogisticRouter(w);
    }

    public double[] predict(float[] x) {
        int dim = x.length;
        double[] p = new double[w.length];
        for (int m = 0; m < w.length; m++) {
            double z = w[m][dim];
            for (int j = 0; j < dim; j++) z += w[m][j] * x[j];
            p[m] = sigmoid(z);
        }
        return p;
    }

    static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }
}
