package io.kvserve.kvcache.elitekv;

/**
 * Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations: the SVD of EliteKV's
 * joint low-rank projection is the eigen-decomposition of the calibration KV's second-moment matrix
 * {@code X^T X}, whose eigenvectors are X's right singular vectors. Exact to double precision for the
 * sizes a head needs (2 * headDim, at most a few hundred).
 *
 * @param values  eigenvalues, largest first
 * @param vectors unit eigenvectors as columns, {@code vectors[row][column]}, column j for {@code values[j]}
 */
public record SymmetricEigen(double[] values, double[][] vectors) {
    private static final int MAX_SWEEPS = 100;

    /** Decomposes the symmetric {@code n x n} matrix {@code a} (not modified). */
    public static SymmetricEigen of(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][];
        for (int i = 0; i < n; i++) {
            if (a[i].length != n) throw new IllegalArgumentException("matrix is not square: row " + i + " has " + a[i].length + " columns, expected " + n);
            m[i] = a[i].clone();
        }
        double[][] v = new double[n][n];
        for (int i = 0; i < n; i++) v[i][i] = 1;
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            double off = 0, diag = 0;
            for (int i = 0; i < n; i++) {
                diag += m[i][i] * m[i][i];
                for (int j = i + 1; j < n; j++) off += m[i][j] * m[i][j];
            }
            if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    if (m[p][q] == 0) continue;
                    // the rotation that zeroes m[p][q] (Golub and Van Loan, symmetric Schur)
                    double theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++) {
                        double mkp = m[k][p], mkq = m[k][q];
                        m[k][p] = c * mkp - s * mkq;
                        m[k][q] = s * mkp + c * mkq;
                    }
                    for (int k = 0; k < n; k++) {
                        double mpk = m[p][k], mqk = m[q][k];
                        m[p][k] = c * mpk - s * mqk;
                        m[q][k] = s * mpk + c * mqk;
                    }
                    for (int k = 0; k < n; k++) {
                        double vkp = v[k][p], vkq = v[k][q];
                        v[k][p] = c * vkp - s * vkq;
                        v[k][q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        java.util.Arrays.sort(order, (x, y) -> Double.compare(m[y][y], m[x][x]));
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int j = 0; j < n; j++) {
            values[j] = m[order[j]][order[j]];
            for (int i = 0; i < n; i++) vectors[i][j] = v[i][order[j]];
        }
        return new SymmetricEigen(values, vectors);
    }
}
